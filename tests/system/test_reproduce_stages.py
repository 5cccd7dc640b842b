"""Issue 14, defect 3: a failed stage is never reported done, --publish refuses a failed notebook,
and a stage whose report was deleted or changed runs again."""
import nbformat
import pytest
from toys import stage_notebooks

from ntlib.run.publish import publish
from ntlib.run.reproduce import STAGES, StageError, reproduce


def _kw(tmp_path):
    nbs = tmp_path / "nb"
    nbs.mkdir(exist_ok=True)
    return dict(profile="smoke", corpus="switchboard", run_root=tmp_path / "runs",
                reports_dir=tmp_path / "reports", stages=("01_data",), notebooks_dir=nbs)


def test_a_failed_forced_run_leaves_no_done_marker(tmp_path):
    kw = _kw(tmp_path)
    stage_notebooks(kw["notebooks_dir"])
    assert not reproduce(**kw)[0]["cached"]
    marker = kw["run_root"] / "reproduce-switchboard-smoke" / "01_data.done.json"
    assert marker.exists()
    # the same notebook, failing this time (e.g. out of memory): --force re-runs and fails ...
    nb = nbformat.read(kw["notebooks_dir"] / "01_data.ipynb", 4)
    nb.cells[-1].source += "\nimport os\nif os.environ.get('FAIL_NOW'): raise RuntimeError('stage failed')"
    nbformat.write(nb, kw["notebooks_dir"] / "01_data.ipynb")
    reproduce(**kw)                                         # the new notebook, succeeding
    import os
    os.environ["FAIL_NOW"] = "1"
    try:
        with pytest.raises(StageError, match=r"01_data\.ipynb failed: RuntimeError: stage failed"):
            reproduce(**kw, force=True)
    finally:
        del os.environ["FAIL_NOW"]
    assert not marker.exists()                              # ... and is not "done" any more
    assert not reproduce(**kw)[0]["cached"]                 # the next run runs it again


def test_publish_refuses_a_notebook_with_an_error_output(tmp_path):
    runs, nbs = tmp_path / "runs", tmp_path / "published"
    out = runs / "reproduce-switchboard-smoke"
    out.mkdir(parents=True)
    nbs.mkdir()
    stage_notebooks(out)
    for stage in STAGES:
        (out / f"{stage}.done.json").write_text("{}")
    nb = nbformat.read(out / "03_malicious.ipynb", 4)
    nb.cells[-1].outputs = [nbformat.v4.new_output("error", ename="RuntimeError", evalue="boom",
                                                   traceback=["Traceback ...", "RuntimeError: boom"])]
    nbformat.write(nb, out / "03_malicious.ipynb")
    with pytest.raises(StageError, match=r"03_malicious\.ipynb: has an error output \(RuntimeError: boom\)"):
        publish("smoke", "switchboard", runs, nbs)
    assert not list(nbs.iterdir())                          # nothing published, not even 01, 02
    (out / "03_malicious.done.json").unlink()               # a stage that never finished
    nb.cells[-1].outputs = []
    nbformat.write(nb, out / "03_malicious.ipynb")
    with pytest.raises(StageError, match=r"03_malicious\.ipynb: not run to completion"):
        publish("smoke", "switchboard", runs, nbs)


def test_a_changed_or_deleted_report_reruns_its_stage(tmp_path):
    kw = _kw(tmp_path)
    stage_notebooks(kw["notebooks_dir"])
    first = reproduce(**kw)[0]
    assert first["outputs"] == {"01_data.txt": first["outputs"]["01_data.txt"]}   # what it wrote, hashed
    assert reproduce(**kw)[0]["cached"]
    (kw["reports_dir"] / "01_data.txt").write_text("edited by hand")
    assert not reproduce(**kw)[0]["cached"]
    assert (kw["reports_dir"] / "01_data.txt").read_text() == "smoke"
    (kw["reports_dir"] / "01_data.txt").unlink()
    assert not reproduce(**kw)[0]["cached"] and (kw["reports_dir"] / "01_data.txt").is_file()
    assert reproduce(**kw)[0]["cached"]


def _mark(folder, stage, body):
    """``folder/<stage>.ipynb`` with ``body`` appended to its last cell."""
    nb = nbformat.read(folder / f"{stage}.ipynb", 4)
    nb.cells[-1].source += "\n" + body
    nbformat.write(nb, folder / f"{stage}.ipynb")


def test_a_stage_reruns_when_what_an_earlier_stage_wrote_changed(tmp_path):
    """Issue 27: with a results file missing, 06 wrote a partial tables.md, and once the file was back 06
    stayed "cached". A stage's cache now covers what the stages before it wrote."""
    kw = {**_kw(tmp_path), "stages": ("01_data", "02_baselines")}
    stage_notebooks(kw["notebooks_dir"])
    _mark(kw["notebooks_dir"], "01_data", "import time; pathlib.Path(reports_dir, 'results.json').write_text(str(time.time()))")
    assert [r["cached"] for r in reproduce(**kw)] == [False, False]
    assert [r["cached"] for r in reproduce(**kw)] == [True, True]
    (kw["reports_dir"] / "results.json").unlink()          # 01's result gone: 01 re-runs, so 02 must too
    assert [r["cached"] for r in reproduce(**kw)] == [False, False]
    assert [r["cached"] for r in reproduce(**kw)] == [True, True]


def test_a_dead_kernel_or_a_full_disk_is_a_stage_error_and_leaves_no_truncated_notebook(tmp_path, monkeypatch):
    """Issue 27: a dead kernel or a full disk while papermill saved gave a raw DeadKernelError / OSError
    without the stage, and left a truncated .ipynb."""
    import errno

    import papermill.engines
    import papermill.execute
    import papermill.iorw
    kw = _kw(tmp_path)
    stage_notebooks(kw["notebooks_dir"])
    _mark(kw["notebooks_dir"], "01_data", "import os; os._exit(1)")
    out = kw["run_root"] / "reproduce-switchboard-smoke"
    with pytest.raises(StageError, match=r"01_data\.ipynb did not run to the end: DeadKernelError"):
        reproduce(**kw)
    assert not (out / "01_data.done.json").exists()
    stage_notebooks(kw["notebooks_dir"])
    real = papermill.iorw.write_ipynb
    calls = []

    def disk_full(nb, path, *a, **k):                      # the third save finds the disk full, mid-write
        calls.append(path)
        if len(calls) >= 3:
            with open(path, "w") as f:
                f.write('{"cells": [')
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(nb, path, *a, **k)
    for module in (papermill.iorw, papermill.engines, papermill.execute):     # each imported it by name
        monkeypatch.setattr(module, "write_ipynb", disk_full)
    with pytest.raises(StageError, match=r"01_data\.ipynb did not run to the end: OSError: .*No space left on device"):
        reproduce(**kw)
    left = sorted(p.name for p in out.iterdir() if p.suffix == ".ipynb" or ".ntlib-tmp-" in p.name)
    assert "01_data.ipynb" not in left and not any(".ntlib-tmp-" in n for n in left), left


def test_two_reproductions_of_other_run_roots_cannot_write_one_reports_folder(tmp_path):
    """Issue 27: two reproductions with different --run-root shared an unlocked reports/."""
    from ntlib.results.reports import run_lock
    kw = _kw(tmp_path)
    stage_notebooks(kw["notebooks_dir"])
    with run_lock(kw["reports_dir"], what="reproduction writing reports"):     # the other reproduction
        with pytest.raises(RuntimeError, match=r"reports: another reproduction writing reports \(pid \d+\)"):
            reproduce(**{**kw, "run_root": tmp_path / "other-runs"})
    assert not (kw["reports_dir"] / "01_data.txt").exists()
    reproduce(**kw)
    assert (kw["reports_dir"] / "01_data.txt").exists()


def test_publish_removes_temporary_files_a_killed_publish_left(tmp_path):
    import subprocess
    import sys

    from ntlib.results.reports import TMP_MARK
    runs, nbs = tmp_path / "runs", tmp_path / "published"
    out = runs / "reproduce-switchboard-smoke"
    out.mkdir(parents=True)
    nbs.mkdir()
    stage_notebooks(out)
    for stage in STAGES:
        (out / f"{stage}.done.json").write_text("{}")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True).stdout.strip()
    stale = nbs / f".03_malicious.ipynb{TMP_MARK}{dead}-x.tmp"
    stale.write_text("{")
    publish("smoke", "switchboard", runs, nbs)
    assert not stale.exists()
    assert sorted(p.name for p in nbs.iterdir()) == ["00_index.ipynb"] + [f"{s}.ipynb" for s in STAGES]   # + the index


def test_failing_notebook_is_named(tmp_path):
    pytest.importorskip("papermill")
    from ntlib.run.reproduce import StageError, execute
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("x = 1")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell("raise KeyError('boom')")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "07_broken.ipynb")
    with pytest.raises(StageError, match=r"07_broken\.ipynb failed: KeyError: 'boom' \(cell \[3\] of the executed notebook .*out\.ipynb"):
        execute(tmp_path / "07_broken.ipynb", tmp_path / "out.ipynb", {"x": 2}, tmp_path)
