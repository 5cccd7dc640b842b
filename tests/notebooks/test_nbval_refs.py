"""The nbval regression compares what it should: the smoke references under tests/notebooks are the
current notebooks' code, nbval runs strict and compares result cells in every notebook, and the
sanitize file only blanks timings, addresses and temp paths — never a result."""
import re

import nbrefs
import pytest

nbval_plugin = pytest.importorskip("nbval.plugin")

ROOT, REFS, NOTEBOOKS, STAGES = nbrefs.ROOT, nbrefs.REFS, nbrefs.NOTEBOOKS, nbrefs.STAGES


@pytest.mark.parametrize("stage", STAGES)
def test_reference_is_the_notebooks_code(stage):
    ref, nb = REFS / f"{stage}.ipynb", NOTEBOOKS / f"{stage}.ipynb"
    assert ref.is_file(), f"{ref} missing: run `make test-refs`"
    assert ["".join(c["source"]) for c in nbrefs.code_cells(ref, injected=False)] == \
        ["".join(c["source"]) for c in nbrefs.code_cells(nb)], \
        f"{ref.name} is stale: notebooks/{stage}.ipynb changed its code; run `make test-refs` and review the diff"


@pytest.mark.parametrize("stage", STAGES)
def test_nbval_compares_result_cells(stage, pytestconfig):
    """Counted with nbval's own marker parsing: cells whose stored outputs show a result and that
    nbval will check (strict mode checks every cell not marked NBVAL_IGNORE_OUTPUT / NBVAL_SKIP)."""
    assert pytestconfig.option.nbval and not pytestconfig.option.nbval_lax
    compared = 0
    for cell in nbrefs.code_cells(REFS / f"{stage}.ipynb"):
        opts = {"check": True, **dict(nbval_plugin.find_metadata_tags(cell.get("metadata", {}))),
                **dict(nbval_plugin.find_comment_markers("".join(cell["source"])))}
        compared += opts["check"] and not opts.get("skip") and nbrefs.shows_result(cell["outputs"])
    assert compared >= 3, f"{stage}: nbval would compare only {compared} result cells"


@pytest.mark.parametrize("stage", STAGES)
def test_no_marker_nbval_would_silently_ignore(stage):
    """nbval acts only on a comment that is exactly a marker: `# NBVAL_CHECK_OUTPUT  (reads …)` did nothing."""
    for cell in nbrefs.code_cells(NOTEBOOKS / f"{stage}.ipynb"):
        for line in "".join(cell["source"]).splitlines():
            if "NBVAL" in line:
                assert line.strip().startswith("#") and line.strip().lstrip("#").strip() in \
                    nbval_plugin.comment_markers, f"{stage}: {line.strip()!r} is not an nbval marker"


def test_sanitize_blanks_timings_addresses_and_paths_only():
    patterns = nbval_plugin.get_sanitize_patterns((ROOT / "tests" / "nbval_sanitize.cfg").read_text())

    def sanitize(s):
        for regex, replace in patterns:
            s = re.sub(regex, replace, s)
        return s
    for kept in ("max-ratio 59.1 % (37.4 %)", "E-3 1.13", "PPL 61.95 (42.81)", "10 samples", "24 targets",
                 "BLEU-4 0.125", "k = 3 of n = 24", "lr 0.005", "table id T_ID_row0"):
        assert sanitize(kept) == kept
    assert sanitize("loaded in 12.3 s") == "loaded in TIME"
    assert sanitize("<object at 0x7f3a9c>") == "<object at ADDR>"
    assert sanitize("/tmp/ntlib-test-ab_12x/runs/baselines") == "TMP/runs/baselines"
    assert sanitize('<table id="T_548d8">') == '<table id="T_ID">'
    assert sanitize("epoch 1 |  3/16 [00:01<00:04,  2.9it/s]") == "epoch 1 |  3/16 [ELAPSED<REMAINING]"
    assert sanitize("      \r") == "" and sanitize("a  \nb") == "a\nb"      # a cleared bar's blanks
