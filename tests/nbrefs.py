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
import re
import sys
import tempfile
from pathlib import Path

from ntlib.machine.kernel import ensure_installed
from ntlib.stages import STAGES as REGISTRY

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
REFS = ROOT / "tests" / "notebooks"
STAGES = tuple(s.name for s in REGISTRY)     # 07, an opt-in stage of make reproduce, is under nbval like the others
TMP_PREFIX = "ntlib-test-"          # tests/nbval_sanitize.cfg replaces paths under it
# parameters a reference is executed with besides the smoke profile (papermill injects them into the reference,
# nbval re-executes that cell): 04 also trains footnote 10's <eos> comparison, so one execution covers it
REF_PARAMETERS = {"04_frequent": {"eos_comparison": True}}
# notebook stem -> {"cells", "ran", "compared"}: what nbval did with each reference in this session (conftest.py)
NBVAL_RUNS: dict[str, dict] = {}


def smoke_env(tmp: str | os.PathLike) -> dict[str, str]:
    """Environment of a deterministic smoke run whose runs and reports live under ``tmp``."""
    return {"NTLIB_PROFILE": "smoke", "NTLIB_RUNS": os.path.join(tmp, "runs"),
            "NTLIB_REPORTS": os.path.join(tmp, "reports"), "NTLIB_THREADS": "1",
            "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TQDM_DISABLE": "1",
            "PYTHONHASHSEED": "0", "MPLBACKEND": "Agg"}


def code_cells(path: Path, injected: bool = True) -> list[dict]:
    """A notebook's code cells (what nbval executes), as stored; ``injected=False`` leaves out papermill's
    injected-parameters cell (a reference's :data:`REF_PARAMETERS`)."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    return [c for c in nb["cells"] if c["cell_type"] == "code"
            and (injected or "injected-parameters" not in c.get("metadata", {}).get("tags", []))]


def executed_by_nbval(stem: str, params: dict) -> bool:
    """Whether nbval executed the reference of notebook ``stem``, every cell of it, with ``params``, in this
    session: what it wrote (under $NTLIB_REPORTS) is then what papermill would write again."""
    n = NBVAL_RUNS.get(stem)
    return bool(n) and n["ran"] == n["cells"] > 0 and params == REF_PARAMETERS.get(stem, {})


def shows_result(outputs) -> bool:
    """Whether stored outputs hold something nbval compares (text, HTML, a stream), not only images."""
    kinds = {"text/plain", "text/html", "text/markdown", "text/latex"}
    return any(o.get("output_type") == "stream" or kinds & set(o.get("data", {})) for o in outputs)


# -- comparing at the displayed precision -----------------------------------------------------------------
# A number as a reader sees it: not inside a word or a hex digest (``ent3``, ``1a2b``), with its sign.
NUMBER = re.compile(r"(?<![\w.])[-+−]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\w])(?!\.\d)")


def _last_place(token: str) -> float | None:
    """One unit in the last displayed place of a decimal number (``181.6`` → 0.1, ``-3.24e-05`` → 1e-07);
    None for an integer: two integers must match exactly (a count, a length, a seed)."""
    mantissa, _, exponent = token.lower().partition("e")
    if "." not in mantissa and not exponent:
        return None
    decimals = len(mantissa.partition(".")[2])
    return 10.0 ** (int(exponent or 0) - decimals)


def _value(token: str) -> float:
    return float(token.replace("−", "-"))


def display_difference(ref: str, test: str) -> str | None:
    """Why two rendered outputs differ at their displayed precision (:func:`same_at_display_precision`),
    or None when they do not."""
    if ref == test:
        return None
    a_text, b_text = NUMBER.split(ref), NUMBER.split(test)
    if a_text != b_text:
        i = next((i for i, (x, y) in enumerate(zip(a_text, b_text)) if x != y), min(len(a_text), len(b_text)))
        return f"text differs: {a_text[i][:80]!r} vs {b_text[i][:80]!r}" if i < min(len(a_text), len(b_text)) \
            else "a different count of numbers"
    for a, b in zip(NUMBER.findall(ref), NUMBER.findall(test)):
        if a == b:
            continue
        units = [u for u in (_last_place(a), _last_place(b)) if u is not None]
        if not units:
            return f"integers differ: {a} vs {b}"
        unit = min(units)       # "{:.3g}" drops trailing zeros: -0.22 is -0.220 beside -0.221
        if abs(_value(a) - _value(b)) > unit * (1 + 1e-9):
            return f"{a} vs {b}: more than one unit of the last displayed digit apart"
    return None


def same_at_display_precision(ref: str, test: str) -> bool:
    """Whether two rendered outputs say the same to a reader: the text between the numbers identical,
    integers identical, and each decimal number within one unit of its last displayed place (of the finer
    of the two where a ``g`` format dropped trailing zeros): a float path that moves a value by less than
    the display shows flips at most the last digit at a rounding boundary. Anything else — another word,
    a count, a value more than a unit away — is a difference (:func:`display_difference` says which)."""
    return display_difference(ref, test) is None


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
                            parameters=REF_PARAMETERS.get(stage, {}),
                            progress_bar=False, kernel_name=ensure_installed(),
                            start_timeout=600)      # a loaded machine starts a kernel slowly (60 s timed out)
        nb = json.loads(out.read_text(encoding="utf-8"))
        nb["metadata"].pop("papermill", None)        # run times and paths: noise in the diff
        nb["metadata"].pop("widgets", None)          # progress bars' saved state: nbval never reads it
        for cell in nb["cells"]:
            cell.get("metadata", {}).pop("papermill", None)
            cell.get("metadata", {}).pop("execution", None)
        out.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    regenerate(tuple(sys.argv[1:]) or STAGES)
