"""Writing reports/: results JSON, tables as markdown + CSV, figures as PNG — atomically.

Notebooks call these; nothing else writes reports/. Tables put ours beside the paper's
numbers (``ntlib.results.paper``).
"""
from __future__ import annotations

import fcntl
import json
import os
import re
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

from ntlib.results import display

TMP_MARK = ".ntlib-tmp-"     # in every temporary file's name, with the writer's pid after it
LOCK_NAME = ".lock"          # run_lock's file in a locked folder (gitignored)
WRITE_LOG = "NTLIB_WRITE_LOG"   # environment: a file to which every atomic write appends the path it wrote


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(path: str | Path, suffix: str = ".tmp"):
    """Yield a temporary path beside ``path``; rename it over ``path`` when the block succeeds,
    delete it when the block fails — a reader never sees a half-written file. The one
    mechanism behind every atomic write in ntlib (reports, checkpoints, corpus cache, downloads).
    The file gets the permissions of a plain ``open`` (0666 less the umask), not mkstemp's 0600;
    its name holds the writer's pid, so :func:`clean_stale_tmp` can remove it after a kill. With
    ``$NTLIB_WRITE_LOG`` set, the written path is appended to that file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}{TMP_MARK}{os.getpid()}-", suffix=suffix)
    os.fchmod(fd, 0o666 & ~_umask())
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
        if os.environ.get(WRITE_LOG):     # stages run side by side: which one wrote what (ntlib.run.reproduce)
            with open(os.environ[WRITE_LOG], "a", encoding="utf-8") as log:
                log.write(f"{path.resolve()}\n")
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale_tmp(folder: str | Path) -> list[Path]:
    """Remove the temporary files under ``folder`` that :func:`atomic_path` left behind when its
    process was killed mid-write (their writer's pid is no longer alive); return what was removed.
    Files of a process still running are kept, so this is safe while another run writes."""
    removed = []
    folder = Path(folder)
    if not folder.is_dir():
        return removed
    for p in folder.rglob(f"*{TMP_MARK}*"):
        m = re.search(re.escape(TMP_MARK) + r"(\d+)-", p.name)
        if m and p.is_file() and not _alive(int(m.group(1))):
            p.unlink(missing_ok=True)
            removed.append(p)
    return removed


@contextmanager
def run_lock(folder: str | Path, wait: bool = False, what: str = "run"):
    """Hold ``folder/.lock`` (``fcntl.flock``) for the block, so two processes never work in one
    run folder at once. Taken by another process: ``wait`` blocks (saying so), otherwise a
    :class:`RuntimeError` names the folder and the pid holding it. The OS frees the lock when
    its process dies, so a killed run never leaves the folder locked."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    with open(path, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "?"
            if not wait:
                raise RuntimeError(f"{folder}: another {what} (pid {holder}) is working in this folder "
                                   f"(it holds {path}); wait for it to finish, or use another run root") from None
            print(f"{folder}: waiting for the {what} of pid {holder} to finish ...", file=sys.stderr, flush=True)
            fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        f.truncate()
        f.write(f"{os.getpid()}\n")
        f.flush()
        try:
            yield path
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


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
    md = (f"## {title}\n\n" if title else "") + display.markdown(df) + "\n"
    if note:
        md += f"\n{note}\n"
    return atomic_write_text(reports_dir / f"{name}.md", md)


def save_figure(fig, name: str, reports_dir: str | Path, dpi: int = 200) -> Path:
    """``reports_dir/figures/name.png`` at ``dpi`` (≥ 200: print quality) and its vector twin
    ``name.pdf`` for papers; both written atomically, the PDF without a creation date so that a
    rerun of the same figure writes the same bytes. Returns the PNG's path."""
    path = Path(reports_dir) / "figures" / f"{name}.png"
    for fmt, meta in (("png", None), ("pdf", {"CreationDate": None, "ModDate": None})):
        with atomic_path(path.with_suffix(f".{fmt}"), suffix=f".{fmt}") as tmp:
            fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format=fmt, metadata=meta)
    return path


def cell(ours, paper, fmt: str = "{:.2f}") -> str:
    """A table cell "ours (paper)"; '–' where either side is missing."""
    def f(v):
        return "–" if v is None else fmt.format(v)
    return f"{f(ours)} ({f(paper)})"
