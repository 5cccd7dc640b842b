"""Issue 14, defect 1: notebook parameters are checked (an unknown one is an error, not a papermill
warning), and reports of any run but small/Switchboard never land in the committed reports/."""
from pathlib import Path

import pytest

from ntlib import params
from ntlib.params import ParameterError, check

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
PARAMS_CELL = ('import os\nprofile = os.environ.get("NTLIB_PROFILE", "small")\ncorpus = "switchboard"\n'
               'seed = 1\nrun_root = "../runs"\nreports_dir = None\ndata_dir = None\n')


def _ns(injected: str = "", **values):
    """A kernel namespace after the parameters cell (and papermill's injected cell) ran."""
    ns = dict(profile="small", corpus="switchboard", seed=1, run_root="../runs", reports_dir=None,
              data_dir=None) | values
    ns["In"] = ["", PARAMS_CELL] + ([f"# Parameters\n{injected}"] if injected else []) + ["params.check(...)"]
    return ns


def test_unknown_injected_parameter_is_an_error_naming_it():
    with pytest.raises(ParameterError, match=r"unknown parameter\(s\) \['reports_dri'\].*did you mean 'reports_dir'"):
        check(_ns('profile = "smoke"\nreports_dri = "/tmp/x"\n', reports_dri="/tmp/x"))
    check(_ns('profile = "smoke"\nreports_dir = "/tmp/x"\n'))          # declared: fine


@pytest.mark.parametrize("name, value, allowed", [
    ("profile", "tiny", "smoke"), ("corpus", "reddit", "switchboard"), ("seed", "7", "int"),
    ("seed", -1, "int ≥ 0"), ("run_root", "", "path"), ("data_dir", 3, "path")])
def test_bad_parameter_value_is_an_error_naming_it(name, value, allowed):
    with pytest.raises(ParameterError, match=rf"parameter {name} = {value!r}: .*{allowed}"):
        check(_ns(**{name: value}))


def test_reports_dir_default_follows_profile_and_corpus(monkeypatch):
    monkeypatch.chdir(NOTEBOOKS)
    for profile, corpus, expected in (("small", "switchboard", "../reports"),
                                      ("smoke", "switchboard", "../reports/switchboard-smoke"),
                                      ("small", "dailydialog", "../reports/dailydialog-small")):
        ns = _ns(profile=profile, corpus=corpus)
        check(ns)
        assert ns["reports_dir"] == expected


@pytest.mark.parametrize("explicit", ["../reports", "../reports/", "../reports/results", "../reports/figures"])
def test_committed_reports_refused_for_another_profile(monkeypatch, explicit):
    monkeypatch.chdir(NOTEBOOKS)
    with pytest.raises(ParameterError, match=r"reports_dir = .* is the committed reports/.*smoke/switchboard"):
        check(_ns() | {"profile": "smoke", "reports_dir": explicit})
    check(_ns() | {"profile": "small", "reports_dir": explicit})             # the committed run itself
    check(_ns() | {"profile": "smoke", "reports_dir": "../reports/switchboard-smoke"})


def test_reproduce_refuses_committed_reports_for_another_profile(tmp_path):
    from ntlib.reproduce import reproduce
    with pytest.raises(ParameterError, match="committed reports/"):
        reproduce("smoke", "switchboard", run_root=tmp_path / "runs", reports_dir=params.COMMITTED_REPORTS,
                  stages=("01_data",), notebooks_dir=tmp_path)
    assert not (tmp_path / "runs").exists()                               # refused before anything ran


def test_every_notebook_checks_its_parameters_right_after_the_parameters_cell():
    import nbformat
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        cells = [c for c in nbformat.read(path, 4).cells if c.cell_type == "code"]
        k = next(i for i, c in enumerate(cells) if "parameters" in c.metadata.get("tags", []))
        assert "params.check(globals())" in cells[k + 1].source, path.name
        assert params.injected_names([cells[k].source])[0] >= {"profile", "corpus", "seed", "reports_dir"}
        assert set(params.injected_names([cells[k].source])[0]) - {"os"} <= set(params.RULES), path.name


@pytest.mark.slow
def test_misspelt_papermill_parameter_stops_the_notebook(tmp_path):
    pm = pytest.importorskip("papermill")
    with pytest.raises(pm.PapermillExecutionError, match="reports_dri"):
        pm.execute_notebook(str(NOTEBOOKS / "06_tables.ipynb"), str(tmp_path / "out.ipynb"),
                            parameters=dict(profile="smoke", reports_dri=str(tmp_path / "x")),
                            cwd=str(NOTEBOOKS), progress_bar=False, kernel_name="python3")
    assert not (tmp_path / "x").exists()


def test_device_parameter_is_checked():
    assert params.RULES["device"]("auto") is None and params.RULES["device"]("cpu") is None
    assert "not a device" in params.RULES["device"]("gpu0")
    assert "must be a device setting" in params.RULES["device"](3)
