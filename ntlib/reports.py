"""Writing reports/: results JSON, tables as markdown + CSV, figures as PNG — atomically.

Notebooks call these; nothing else writes reports/. Tables put ours beside the paper's
numbers (``ntlib.paper``).
"""
from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: str | Path, suffix: str = ".tmp"):
    """Yield a temporary path beside ``path``; rename it over ``path`` when the block succeeds,
    delete it when the block fails — a reader never sees a half-written file. The one
    mechanism behind every atomic write in ntlib (reports, checkpoints, corpus cache, downloads)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=suffix)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to a temporary file beside ``path`` and rename it into place."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(obj, path: str | Path) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=float) + "\n")


def read_json(path: str | Path):
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}:{e.lineno}: not valid JSON ({e.msg})") from e


def write_table(df, name: str, reports_dir: str | Path, title: str | None = None,
                note: str | None = None) -> Path:
    """``reports_dir/name.md`` (markdown, with optional title and note) and ``name.csv``."""
    reports_dir = Path(reports_dir)
    atomic_write_text(reports_dir / f"{name}.csv", df.to_csv(index=True))
    md = (f"## {title}\n\n" if title else "") + df.to_markdown() + "\n"
    if note:
        md += f"\n{note}\n"
    return atomic_write_text(reports_dir / f"{name}.md", md)


def save_figure(fig, name: str, reports_dir: str | Path, dpi: int = 100) -> Path:
    """``reports_dir/figures/name.png`` at a modest resolution (keeps the repo light)."""
    path = Path(reports_dir) / "figures" / f"{name}.png"
    with atomic_path(path, suffix=".png") as tmp:     # savefig picks the format from the suffix
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight")
    return path


def cell(ours, paper, fmt: str = "{:.2f}") -> str:
    """A table cell "ours (paper)"; '–' where either side is missing."""
    def f(v):
        return "–" if v is None else fmt.format(v)
    return f"{f(ours)} ({f(paper)})"
