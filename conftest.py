"""Test-session settings shared by pytest and nbval: notebooks run on the smoke profile in the
deterministic environment of tests/nbrefs.py (one thread, no progress bars), writing their runs and
reports to a temporary folder, never to the committed reports/. ntlib is imported first: it pins
torch's float path (ntlib.machine.floatpath) in this process and in every kernel papermill and nbval start."""
import ntlib  # noqa: F401  (first: the float path is pinned before anything loads torch)
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "tests"))     # nbrefs, toys: what the test layers share
import nbrefs  # noqa: E402

_tmp = tempfile.mkdtemp(prefix=nbrefs.TMP_PREFIX)
for _key, _value in nbrefs.smoke_env(_tmp).items():
    os.environ.setdefault(_key, _value)


# --- nbval: count the cells it compared, and fail a reference notebook that compared none ----------
# nbval ignores any comment that is not exactly one of its markers, and a mode switch (--nbval-lax)
# can turn all comparisons off without a single failure. Counting what was compared at run time is
# the guard: every reference notebook whose cells all ran must have had stored results compared.
_nbval = nbrefs.NBVAL_RUNS     # notebook stem -> {"cells": collected, "ran": executed, "compared": compared}


def pytest_collection_modifyitems(items):
    for item in items:
        if hasattr(item, "cell") and hasattr(item, "options"):          # an nbval IPyNbCell
            _nbval.setdefault(Path(str(item.fspath)).stem, {"cells": 0, "ran": 0, "compared": 0,
                                                           "path": str(item.fspath)})["cells"] += 1


def _flatten(cell, outputs, skip) -> dict:
    """nbval's view of a cell's outputs: {key or MIME type: [sanitized values]} (as its compare_outputs)."""
    from nbval.plugin import transform_streams_for_comparison
    flat = {}
    for out in transform_streams_for_comparison(outputs):
        for key, value in out.items():
            if key in skip:
                continue
            items = value.items() if key == "data" else [(key, value)]
            for k, v in items:
                if k not in skip:
                    flat.setdefault(k, []).append(cell.sanitize(v))
    return flat


def _compare_at_display_precision(compare):
    """Wrap nbval's exact comparison: a cell whose outputs differ only within one unit of the last
    displayed digit of its decimal numbers (``nbrefs.same_at_display_precision``) passes — another float
    path (a CPU without the AVX2 pin, another thread count) moves values below what the notebook shows."""
    def compare_outputs(self, test, ref, skip_compare=None):
        if compare(self, test, ref, skip_compare):
            return True
        skip = skip_compare or self.parent.skip_compare
        a, b = _flatten(self, ref, skip), _flatten(self, test, skip)
        same = a.keys() == b.keys() and all(
            len(a[k]) == len(b[k]) and all(x == y or (isinstance(x, str) and isinstance(y, str)
                                                      and nbrefs.same_at_display_precision(x, y))
                                           for x, y in zip(a[k], b[k])) for k in a)
        if same:
            self.comparison_traceback = []
        else:
            why = next((nbrefs.display_difference(x, y) for k in a if k in b for x, y in zip(a[k], b[k])
                        if isinstance(x, str) and isinstance(y, str) and nbrefs.display_difference(x, y)), None)
            if why:
                self.comparison_traceback.append(f"at the displayed precision: {why}")
        return same
    return compare_outputs


def pytest_configure(config):
    try:
        from nbval.plugin import IPyNbCell
    except ImportError:
        return
    if not getattr(IPyNbCell.compare_outputs, "_ntlib", False):
        IPyNbCell.compare_outputs = _compare_at_display_precision(IPyNbCell.compare_outputs)
        IPyNbCell.compare_outputs._ntlib = True


def pytest_runtest_call(item):
    if hasattr(item, "cell") and hasattr(item, "options"):
        n = _nbval[Path(str(item.fspath)).stem]
        n["ran"] += 1
        if item.options.get("check") and not item.options.get("skip") and nbrefs.shows_result(item.cell.outputs):
            n["compared"] += 1


def pytest_terminal_summary(terminalreporter):
    for _, n in sorted(_nbval.items()):
        terminalreporter.write_line(f"nbval: {os.path.relpath(n['path'])}: compared {n['compared']} of "
                                    f"{n['cells']} cells")


def pytest_sessionfinish(session):
    blind = [n["path"] for n in _nbval.values() if n["ran"] == n["cells"] > 0 and n["compared"] == 0]
    if blind:
        print(f"\nnbval compared no stored result in {', '.join(map(os.path.relpath, blind))}: "
              "are the reference outputs missing, or is nbval in lax mode?")
        session.exitstatus = 1
