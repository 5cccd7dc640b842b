"""make reproduce: stages run in order, a finished unchanged stage is skipped, a change re-runs it."""
import nbformat

from ntlib.reproduce import STAGES, reproduce, stage_keys


def _notebooks(folder, body="x = 1"):
    for stage in STAGES:
        nb = nbformat.v4.new_notebook()
        params = nbformat.v4.new_code_cell(
            "profile = 'smoke'\ncorpus = 'switchboard'\nrun_root = ''\nreports_dir = ''\ndata_dir = None")
        params.metadata["tags"] = ["parameters"]
        nb.cells = [params, nbformat.v4.new_code_cell(
            f"import pathlib\n{body}\npathlib.Path(reports_dir, '{stage}.txt').write_text(profile)")]
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, folder / f"{stage}.ipynb")


def test_stage_keys_chain_and_react_to_changes(tmp_path):
    _notebooks(tmp_path)
    a = stage_keys("smoke", "switchboard", tmp_path)
    assert list(a) == list(STAGES) and len(set(a.values())) == len(STAGES)
    assert stage_keys("small", "switchboard", tmp_path)["01_data"] != a["01_data"]
    _notebooks(tmp_path, body="x = 2")      # every notebook changed: every key changes
    assert all(stage_keys("smoke", "switchboard", tmp_path)[s] != a[s] for s in STAGES)


def test_reproduce_runs_then_skips_cached_stage(tmp_path):
    nbs, runs, reports = tmp_path / "nb", tmp_path / "runs", tmp_path / "reports"
    nbs.mkdir()
    _notebooks(nbs)
    kw = dict(profile="smoke", corpus="switchboard", run_root=runs, reports_dir=reports,
              stages=("01_data",), notebooks_dir=nbs)
    first = reproduce(**kw)
    assert not first[0]["cached"] and (reports / "01_data.txt").read_text() == "smoke"
    assert (runs / "reproduce-switchboard-smoke" / "01_data.ipynb").exists()
    (reports / "01_data.txt").unlink()
    second = reproduce(**kw)
    assert second[0]["cached"] and not (reports / "01_data.txt").exists()
    _notebooks(nbs, body="x = 3")
    third = reproduce(**kw)
    assert not third[0]["cached"] and (reports / "01_data.txt").exists()
