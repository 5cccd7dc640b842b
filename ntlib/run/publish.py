"""``python -m ntlib.run.reproduce --publish``: a reproduction's executed notebooks copied over
``notebooks/`` for committing — papermill's injected cell and metadata removed, progress-bar debris
dropped — only for the committed run (small / Switchboard).
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from ntlib.results.reports import atomic_write_text, clean_stale_tmp
from ntlib.run.params import DEFAULT_RUN, ROOT
from ntlib.stages import BY_NAME, DEFAULT, StageError

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")



_PROGRESS = re.compile(r"\d+%\||it/s[\],]|s/it[\],]|TqdmWarning|from \.autonotebook")



def publish(profile: str = "small", corpus: str = "switchboard", run_root: str | Path = ROOT / "runs",
            notebooks_dir: str | Path = ROOT / "notebooks", stages: tuple[str, ...] = DEFAULT) -> list[Path]:
    """Copy a reproduction's executed notebooks of ``stages`` (default: 01–06; the opt-in 07 when
    named) over ``notebooks/`` for committing: papermill's injected-parameters cell and metadata
    removed, progress-bar lines dropped from the stored outputs (the run's printed results stay);
    warns about absolute paths left in outputs."""
    unknown = [s for s in stages if s not in BY_NAME]
    if unknown:
        raise StageError(f"publish: unknown stage(s) {unknown}; known: {list(BY_NAME)}")
    if Path(notebooks_dir).resolve() == (ROOT / "notebooks").resolve() and (profile, corpus) != DEFAULT_RUN:
        raise StageError(f"publish: notebooks/ holds the committed {'/'.join(DEFAULT_RUN)} run's outputs; a "
                         f"{profile}/{corpus} run is not published over them (notebooks/ left unchanged)")
    out_dir, written = Path(run_root) / f"reproduce-{corpus}-{profile}", []
    clean_stale_tmp(notebooks_dir)        # a publish killed mid-write left them (their writer is gone)
    notebooks, refused = {}, []
    for stage in stages:                 # check all first: nothing is published from a failed run
        path = out_dir / f"{stage}.ipynb"
        if not path.is_file() or not (out_dir / f"{stage}.done.json").is_file():
            refused.append(f"{path}: not run to completion (no {stage}.done.json)")
            continue
        nb = notebooks[stage] = json.loads(path.read_text(encoding="utf-8"))
        errors = [f"{o.get('ename')}: {o.get('evalue')}" for c in nb["cells"] if c["cell_type"] == "code"
                  for o in c.get("outputs", []) if o.get("output_type") == "error"]
        if errors or nb.get("metadata", {}).get("papermill", {}).get("exception"):
            refused.append(f"{path}: has an error output ({'; '.join(errors) or 'papermill exception'})")
    if refused:
        raise StageError("not publishing; notebooks/ left unchanged:\n  " + "\n  ".join(refused))
    for stage in stages:
        nb = notebooks[stage]
        nb["cells"] = [c for c in nb["cells"]
                       if "injected-parameters" not in c.get("metadata", {}).get("tags", [])]
        for c in nb["cells"]:
            for key in ("papermill", "execution"):
                c.get("metadata", {}).pop(key, None)
            if c["cell_type"] != "code":
                continue
            kept = []
            for o in c["outputs"]:
                if o["output_type"] == "stream":
                    text = _ANSI.sub("", "".join(o["text"]))
                    lines = [l.split("\r")[-1] for l in text.split("\n")]
                    text = "\n".join(l for l in lines if l.strip() and not _PROGRESS.search(l))
                    if not text:
                        continue
                    o["text"] = text + "\n"
                kept.append(o)
            c["outputs"] = kept
        nb["metadata"].pop("papermill", None)
        text = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
        for hit in sorted(set(re.findall(r"(?:/work/|/tmp/|/root/|/home/)[^\s\"']*", text))):
            print(f"warning: {stage}.ipynb output holds the absolute path {hit}", file=sys.stderr)
        path = Path(notebooks_dir) / f"{stage}.ipynb"
        atomic_write_text(path, text)
        written.append(path)
    return written
