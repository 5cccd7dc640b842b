"""Issue 31: notebooks 03, 04 and 05 run side by side once 02 is done (`reproduce --concurrent`), each stage's
reports recorded as its own, and the done-markers the same as a run one after another."""
import json

import nbformat
import pytest
from toys import stage_notebooks

from ntlib.run.reproduce import STAGES, StageError, reproduce
from ntlib.stages import waves

SIDE_BY_SIDE = ("03_malicious", "04_frequent", "05_gan_mmi")


def test_03_04_05_form_one_wave_once_02_is_done():
    assert waves(STAGES, concurrent=True) == [["01_data"], ["02_baselines"], list(SIDE_BY_SIDE), ["06_tables"]]
    assert waves(STAGES, concurrent=False) == [[s] for s in STAGES]
    assert waves(("04_frequent", "05_gan_mmi", "06_tables"), concurrent=True) == [["04_frequent", "05_gan_mmi"],
                                                                                   ["06_tables"]]
    assert waves(STAGES + ("07_negative_losses",), concurrent=True)[-1] == ["07_negative_losses"]


def _timed_notebooks(folder, fail=None):
    """Toy stages that each say they started, wait (up to a minute) until all three have, then write
    ``<stage>.json`` through ntlib's atomic writer — one after another, they would time out; ``fail``
    raises in that stage instead of waiting."""
    stage_notebooks(folder)
    for stage in SIDE_BY_SIDE:
        nb = nbformat.read(folder / f"{stage}.ipynb", 4)
        wait = ("while len(list(pathlib.Path(reports_dir).glob('*.started'))) < 3:\n"
                "    assert time.time() < t0 + 60, 'the other stages did not start beside this one'\n"
                "    time.sleep(0.1)\n")
        nb.cells[-1].source = (
            "import json, pathlib, time\nfrom ntlib.results.reports import atomic_write_text\nt0 = time.time()\n"
            f"pathlib.Path(reports_dir).mkdir(exist_ok=True)\npathlib.Path(reports_dir, '{stage}.started').touch()\n"
            + ("raise RuntimeError('stage failed')\n" if stage == fail else wait)
            + f"atomic_write_text(pathlib.Path(reports_dir, '{stage}.json'), json.dumps([t0, time.time()]))")
        nbformat.write(nb, folder / f"{stage}.ipynb")


def _kw(tmp_path):
    (tmp_path / "nb").mkdir(exist_ok=True)
    return dict(profile="smoke", corpus="switchboard", run_root=tmp_path / "runs", reports_dir=tmp_path / "reports",
                stages=SIDE_BY_SIDE, notebooks_dir=tmp_path / "nb", threads=1)


def test_side_by_side_stages_overlap_own_their_reports_and_leave_markers_a_sequential_run_accepts(tmp_path, capsys):
    kw = _kw(tmp_path)
    _timed_notebooks(kw["notebooks_dir"])
    first = reproduce(**kw, concurrent=True)
    assert [r["cached"] for r in first] == [False] * 3 and [r["stage"] for r in first] == list(SIDE_BY_SIDE)
    spans = {s: json.loads((kw["reports_dir"] / f"{s}.json").read_text()) for s in SIDE_BY_SIDE}
    assert max(a for a, _ in spans.values()) < min(b for _, b in spans.values())      # they ran at once
    warning = [line for line in capsys.readouterr().out.splitlines() if line.startswith("warning")]
    assert len(warning) == 1 and all(f"{s}.started" in warning[0] for s in SIDE_BY_SIDE)   # plain writes: named
    for r in first:                                  # each stage's outputs: what it wrote, nothing of the others
        assert list(r["outputs"]) == [f"{r['stage']}.json"]
    assert [r["cached"] for r in reproduce(**kw, concurrent=True)] == [True] * 3
    assert [r["cached"] for r in reproduce(**kw, concurrent=False)] == [True] * 3  # the same markers either way
    (kw["reports_dir"] / "04_frequent.json").unlink()                               # one report gone: its stage alone
    assert [r["cached"] for r in reproduce(**kw, concurrent=True)] == [True, False, True]


def test_a_failing_stage_lets_the_others_finish_and_is_named(tmp_path):
    kw = _kw(tmp_path)
    _timed_notebooks(kw["notebooks_dir"], fail="04_frequent")
    with pytest.raises(StageError, match=r"04_frequent\.ipynb failed: RuntimeError: stage failed"):
        reproduce(**kw, concurrent=True)
    out = kw["run_root"] / "reproduce-switchboard-smoke"
    assert sorted(p.name for p in out.glob("*.done.json")) == ["03_malicious.done.json", "05_gan_mmi.done.json"]
    _timed_notebooks(kw["notebooks_dir"])                      # mended: only 04 runs again
    assert [r["cached"] for r in reproduce(**kw, concurrent=True)] == [True, False, True]


def test_a_side_by_side_stages_key_covers_only_the_stages_it_uses(tmp_path):
    from ntlib.run.reproduce import stage_keys
    stage_notebooks(tmp_path)
    a = stage_keys("smoke", "switchboard", tmp_path)
    nb = nbformat.read(tmp_path / "03_malicious.ipynb", 4)
    nb.cells[-1].source += "\ny = 2"
    nbformat.write(nb, tmp_path / "03_malicious.ipynb")
    b = stage_keys("smoke", "switchboard", tmp_path)
    assert [s for s in STAGES if a[s] != b[s]] == ["03_malicious", "06_tables"]     # 04 and 05 do not use 03
