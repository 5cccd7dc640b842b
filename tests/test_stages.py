"""Issue 14, defect 3: a failed stage is never reported done, --publish refuses a failed notebook,
and a stage whose report was deleted or changed runs again."""
import nbformat
import pytest

from ntlib.reproduce import STAGES, StageError, publish, reproduce
from test_reproduce import _notebooks


def _kw(tmp_path):
    nbs = tmp_path / "nb"
    nbs.mkdir(exist_ok=True)
    return dict(profile="smoke", corpus="switchboard", run_root=tmp_path / "runs",
                reports_dir=tmp_path / "reports", stages=("01_data",), notebooks_dir=nbs)


def test_a_failed_forced_run_leaves_no_done_marker(tmp_path):
    kw = _kw(tmp_path)
    _notebooks(kw["notebooks_dir"])
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
    _notebooks(out)
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
    _notebooks(kw["notebooks_dir"])
    first = reproduce(**kw)[0]
    assert first["outputs"] == {"01_data.txt": first["outputs"]["01_data.txt"]}   # what it wrote, hashed
    assert reproduce(**kw)[0]["cached"]
    (kw["reports_dir"] / "01_data.txt").write_text("edited by hand")
    assert not reproduce(**kw)[0]["cached"]
    assert (kw["reports_dir"] / "01_data.txt").read_text() == "smoke"
    (kw["reports_dir"] / "01_data.txt").unlink()
    assert not reproduce(**kw)[0]["cached"] and (kw["reports_dir"] / "01_data.txt").is_file()
    assert reproduce(**kw)[0]["cached"]
