"""Test-session settings shared by pytest and nbval: notebooks run on the smoke profile in the
deterministic environment of tests/nbrefs.py (one thread, no progress bars), writing their runs and
reports to a temporary folder, never to the committed reports/."""
import importlib.util
import os
import sys
import tempfile
from pathlib import Path

_spec = importlib.util.spec_from_file_location("nbrefs", Path(__file__).parent / "tests" / "nbrefs.py")
nbrefs = sys.modules["nbrefs"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(nbrefs)

_tmp = tempfile.mkdtemp(prefix=nbrefs.TMP_PREFIX)
for _key, _value in nbrefs.smoke_env(_tmp).items():
    os.environ.setdefault(_key, _value)


# --- nbval: count the cells it compared, and fail a reference notebook that compared none ----------
# nbval ignores any comment that is not exactly one of its markers, and a mode switch (--nbval-lax)
# can turn all comparisons off without a single failure. Counting what was compared at run time is
# the guard: every reference notebook whose cells all ran must have had stored results compared.
_nbval = {}     # notebook path -> {"cells": collected, "ran": executed, "compared": compared with results}


def pytest_collection_modifyitems(items):
    for item in items:
        if hasattr(item, "cell") and hasattr(item, "options"):          # an nbval IPyNbCell
            _nbval.setdefault(str(item.fspath), {"cells": 0, "ran": 0, "compared": 0})["cells"] += 1


def pytest_runtest_call(item):
    if hasattr(item, "cell") and hasattr(item, "options"):
        n = _nbval[str(item.fspath)]
        n["ran"] += 1
        if item.options.get("check") and not item.options.get("skip") and nbrefs.shows_result(item.cell.outputs):
            n["compared"] += 1


def pytest_terminal_summary(terminalreporter):
    for path, n in sorted(_nbval.items()):
        terminalreporter.write_line(f"nbval: {os.path.relpath(path)}: compared {n['compared']} of "
                                    f"{n['cells']} cells")


def pytest_sessionfinish(session):
    blind = [p for p, n in _nbval.items() if n["ran"] == n["cells"] > 0 and n["compared"] == 0]
    if blind:
        print(f"\nnbval compared no stored result in {', '.join(map(os.path.relpath, blind))}: "
              "are the reference outputs missing, or is nbval in lax mode?")
        session.exitstatus = 1
