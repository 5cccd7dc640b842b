"""Smoke references for nbval: notebooks 01–07 executed on the ``smoke`` profile, stored under
``tests/notebooks/`` and compared cell by cell by ``make test`` (nbval, strict mode).

The notebooks that readers open (``notebooks/``) keep the committed ``small`` run's outputs; the
references here hold the same code cells with smoke outputs. ``make test-refs`` regenerates them
(``python tests/nbrefs.py``); review the diff like any other change — a number that moves there is a
behaviour change. The environment below is the one both the references and the test session run
in, so a reference is stable across runs and fresh clones on this kind of machine: one thread,
fixed seeds (the notebooks' own), no progress bars, runs and reports in a fresh temp folder.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
REFS = ROOT / "tests" / "notebooks"
STAGES = ("01_data", "02_baselines", "03_malicious", "04_frequent", "05_gan_mmi", "06_tables",
          "07_negative_losses")       # 07: an opt-in stage of make reproduce, under nbval like the others
TMP_PREFIX = "ntlib-test-"          # tests/nbval_sanitize.cfg replaces paths under it


def smoke_env(tmp: str | os.PathLike) -> dict[str, str]:
    """Environment of a deterministic smoke run whose runs and reports live under ``tmp``."""
    return {"NTLIB_PROFILE": "smoke", "NTLIB_RUNS": os.path.join(tmp, "runs"),
            "NTLIB_REPORTS": os.path.join(tmp, "reports"), "NTLIB_THREADS": "1",
            "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TQDM_DISABLE": "1",
            "PYTHONHASHSEED": "0", "MPLBACKEND": "Agg"}


def code_cells(path: Path) -> list[dict]:
    """A notebook's code cells (what nbval executes), as stored."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def shows_result(outputs) -> bool:
    """Whether stored outputs hold something nbval compares (text, HTML, a stream), not only images."""
    kinds = {"text/plain", "text/html", "text/markdown", "text/latex"}
    return any(o.get("output_type") == "stream" or kinds & set(o.get("data", {})) for o in outputs)


def regenerate(stages=STAGES) -> None:
    """Execute ``notebooks/<stage>.ipynb`` on smoke, in order, into ``tests/notebooks/``: the kernel
    runs in tests/notebooks (as under nbval) with :func:`smoke_env` set, and one temp folder holds
    the runs and reports that later stages read."""
    import papermill as pm
    tmp = tempfile.mkdtemp(prefix=TMP_PREFIX)
    os.environ.update(smoke_env(tmp))
    REFS.mkdir(parents=True, exist_ok=True)
    for stage in stages:
        out = REFS / f"{stage}.ipynb"
        print(f"{stage} -> {out.relative_to(ROOT)}", flush=True)
        pm.execute_notebook(str(NOTEBOOKS / f"{stage}.ipynb"), str(out), cwd=str(REFS),
                            progress_bar=False, kernel_name="python3",
                            start_timeout=600)      # a loaded machine starts a kernel slowly (60 s timed out)
        nb = json.loads(out.read_text(encoding="utf-8"))
        nb["metadata"].pop("papermill", None)        # run times and paths: noise in the diff
        for cell in nb["cells"]:
            cell.get("metadata", {}).pop("papermill", None)
            cell.get("metadata", {}).pop("execution", None)
        out.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    regenerate(tuple(sys.argv[1:]) or STAGES)
