"""Issue 14, defect 1: notebook parameters are checked (an unknown one is an error, not a papermill
warning), and reports of any run but small/Switchboard never land in the committed reports/."""
from pathlib import Path

import pytest

from ntlib.machine.kernel import ensure_installed
from ntlib.run import params
from ntlib.run.navigation import INDEX
from ntlib.run.params import ParameterError, check

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
PARAMS_CELL = ('import os\nprofile = os.environ.get("NTLIB_PROFILE", "small")\ncorpus = "switchboard"\n'
               'seed = 1\nrun_root = "../runs"\nreports_dir = None\ndata_dir = None\n')


def _ns(injected: str = "", **values):
    """A kernel namespace after the parameters cell (and papermill's injected cell) ran."""
    ns = dict(profile="small", corpus="switchboard", seed=1, run_root="../runs", reports_dir=None,
              data_dir=None) | values
    ns["In"] = ["", PARAMS_CELL] + ([f"# Parameters\n{injected}"] if injected else []) + ["params.check(...)"]
    return ns


@pytest.fixture(autouse=True)
def no_environment_defaults(monkeypatch):
    """The test session sets $NTLIB_PROFILE, $NTLIB_REPORTS, … for the notebooks it runs; a namespace built
    here stands for a notebook run without them."""
    for var in params.ENVIRONMENT.values():
        monkeypatch.delenv(var, raising=False)


def test_unknown_injected_parameter_is_an_error_naming_it():
    with pytest.raises(ParameterError, match=r"unknown parameter\(s\) \['reports_dri'\].*did you mean 'reports_dir'"):
        check(_ns('profile = "smoke"\nreports_dri = "/tmp/x"\n', reports_dri="/tmp/x"))
    check(_ns('profile = "smoke"\nreports_dir = "/tmp/x"\n'))          # declared: fine


@pytest.mark.parametrize("name, value, allowed", [
    ("profile", "tiny", "smoke"), ("corpus", "reddit", "switchboard"), ("seed", "7", "int"),
    ("seed", -1, r"int in \[0, "), ("run_root", "", "path"), ("data_dir", 3, "path")])
def test_bad_parameter_value_is_an_error_naming_it(name, value, allowed):
    with pytest.raises(ParameterError, match=rf"parameter {name} = {value!r}: .*{allowed}"):
        check(_ns(**{name: value}))


def test_profile_none_is_the_panels_alone():
    from ntlib.run.params import start
    check(_ns(profile=None))                     # the panel: the profile last reproduced (ntlib.run.panel_profile)
    with pytest.raises(ParameterError, match="parameter profile = None: a stage notebook runs one profile"):
        start(_ns(profile=None))


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


@pytest.mark.parametrize("name, value", [("seed", 2), ("r_thres", 0.05), ("lr", 0.01), ("eos_comparison", True),
                                         ("max_targets", 10)])
def test_changed_settings_on_the_committed_profile_write_elsewhere(monkeypatch, name, value):
    """Issue 27: seed, r_thres, lr, … changed on small/switchboard resolved reports_dir to reports/."""
    monkeypatch.chdir(NOTEBOOKS)
    ns = _ns(profile="small") | {name: value}
    check(ns)
    assert ns["reports_dir"].startswith("../reports/switchboard-small-custom-") and ns["reports_dir"] != "../reports"
    with pytest.raises(ParameterError, match=rf"committed reports/.*a run with {name} = "):
        check(_ns(profile="small") | {name: value, "reports_dir": "../reports"})
    other = _ns(profile="small") | {name: value, "seed": 3} if name != "seed" else _ns(profile="small") | {"seed": 3}
    check(other)
    assert other["reports_dir"] != ns["reports_dir"]                       # each setting its own folder


def test_reproduce_refuses_committed_reports_for_another_profile(tmp_path):
    from ntlib.run.reproduce import reproduce
    with pytest.raises(ParameterError, match="committed reports/"):
        reproduce("smoke", "switchboard", run_root=tmp_path / "runs", reports_dir=params.COMMITTED_REPORTS,
                  stages=("01_data",), notebooks_dir=tmp_path)
    assert not (tmp_path / "runs").exists()                               # refused before anything ran


def test_every_notebook_checks_its_parameters_right_after_the_parameters_cell():
    import nbformat
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        if path.stem == INDEX:          # the index notebook is prose only
            continue
        cells = [c for c in nbformat.read(path, 4).cells if c.cell_type == "code"]
        k = next(i for i, c in enumerate(cells) if "parameters" in c.metadata.get("tags", []))
        assert "params.start(globals())" in cells[k + 1].source, path.name
        declared = params.injected_names([cells[k].source])[0] - {"Optional", "Union"}
        assert declared >= set(params.DEFAULTS), path.name                 # every notebook's common parameters
        assert declared <= set(params.RULES), path.name


def test_environment_variables_stand_in_for_a_default_only(monkeypatch):
    """$NTLIB_PROFILE & co. replace a parameter left at its default, never one papermill injected or a
    reader changed in the cell; threads = 0 is $NTLIB_THREADS, else every core."""
    monkeypatch.setenv("NTLIB_PROFILE", "smoke")
    monkeypatch.setenv("NTLIB_THREADS", "1")
    ns = _ns(threads=0)
    check(ns)
    assert ns["profile"] == "smoke" and ns["threads"] == 1
    ns = _ns('profile = "teach"\n', profile="teach")                       # injected by papermill
    check(ns)
    assert ns["profile"] == "teach"
    ns = _ns(profile="paper")                                              # changed in the cell by a reader
    check(ns)
    assert ns["profile"] == "paper"


@pytest.mark.slow
def test_misspelt_papermill_parameter_stops_the_notebook(tmp_path):
    pm = pytest.importorskip("papermill")
    with pytest.raises(pm.PapermillExecutionError, match="reports_dri"):
        pm.execute_notebook(str(NOTEBOOKS / "06_tables.ipynb"), str(tmp_path / "out.ipynb"),
                            parameters=dict(profile="smoke", reports_dri=str(tmp_path / "x")),
                            cwd=str(NOTEBOOKS), progress_bar=False, kernel_name=ensure_installed())
    assert not (tmp_path / "x").exists()


def test_device_parameter_is_checked():
    assert params.RULES["device"]("auto") is None and params.RULES["device"]("cpu") is None
    assert "not a device" in params.RULES["device"]("gpu0")
    assert "must be a device setting" in params.RULES["device"](3)


# -- issue 19: the knobs a student turns (None: the profile's value) ---------------------------------
@pytest.mark.parametrize("name, value, allowed", [
    ("r_thres", 2, r"each item must be a finite number > 0 and < 1 .*FrequentConfig.sweep"),
    ("r_thres", [0.1, 0.0], r"each item must be a finite number > 0 .*not allowed: \[0.0\]"),
    ("window", 0, r"must be an int ≥ 1 \(as FrequentConfig.window"),
    ("eos_scale", -1.0, r"FrequentConfig.eos_scale"),
    ("lr", 1e9, r"FrequentConfig.lr"),
    ("hit_types", ("bogus",), r"must be a non-empty tuple of hit types"),
    ("iterations", 0, r"MaliciousConfig.iterations"),
    ("max_targets", 2.5, r"MaliciousConfig.max_targets"),
    ("lists", ("test",), r"MaliciousConfig.lists"),
    ("lists", "train", r"MaliciousConfig.lists"),
    ("alpha_G", (), r"GanConfig.g_lrs"),
    ("mmi_lambdas", (-0.5,), r"MMIConfig.lambdas")])
def test_bad_knob_is_an_error_naming_the_parameter(name, value, allowed):
    with pytest.raises(ParameterError, match=rf"parameter {name} = .*{allowed}"):
        check(_ns(**{name: value}))


def test_every_knob_defaults_to_none_and_none_passes():
    check(_ns(**{name: None for name in params.KNOBS}))
    import nbformat
    for stage, knobs in (("03_malicious", {"hit_types", "iterations", "max_targets", "lists"}),
                         ("04_frequent", {"r_thres", "eos_scale", "lr", "window"}),
                         ("05_gan_mmi", {"alpha_G", "mmi_lambdas"})):
        cells = [c for c in nbformat.read(NOTEBOOKS / f"{stage}.ipynb", 4).cells if c.cell_type == "code"]
        k = next(i for i, c in enumerate(cells) if "parameters" in c.metadata.get("tags", []))
        import ast
        assigned = {node.target.id: node.value for node in ast.parse(cells[k].source).body
                    if isinstance(node, ast.AnnAssign)}
        assert all(isinstance(assigned[n], ast.Constant) and assigned[n].value is None for n in knobs), stage


def test_apply_none_keeps_the_profiles_config_and_a_value_reaches_it():
    from ntlib.run.profiles import get_profile
    P = get_profile("teach")
    assert params.apply(P.frequent, dict(eos_scale=None, lr=None, window=None), "eos_scale", "lr", "window") \
        is P.frequent                                                     # default run: the same config
    cfg = params.apply(P.frequent, dict(eos_scale=0.5, lr=0.01, window=7), "eos_scale", "lr", "window")
    assert (cfg.eos_scale, cfg.lr, cfg.window) == (0.5, 0.01, 7) and cfg.passes == P.frequent.passes
    m = params.apply(P.malicious, dict(hit_types=["io_sample_min"], iterations=3, max_targets=5,
                                       lists=["train_1k"]), "hit_types", "iterations", "max_targets", "lists")
    assert (m.hit_types, m.iterations, m.max_targets, m.lists) == (("io_sample_min",), 3, 5, ("train_1k",))
    assert params.apply(P.gan, dict(alpha_G=[1e-3]), "alpha_G").g_lrs == (1e-3,)
    assert params.apply(P.mmi, dict(mmi_lambdas=(0.0, 0.7)), "mmi_lambdas").lambdas == (0.0, 0.7)
    with pytest.raises(ParameterError, match=r"parameter window = 0: FrequentConfig.window = 0"):
        params.apply(P.frequent, dict(window=0), "window")
    with pytest.raises(ValueError, match="not a notebook knob"):
        params.apply(P.frequent, dict(passes=1), "passes")


def test_r_thres_sets_the_sweep_one_value_or_a_list_and_none_keeps_the_papers():
    """Issue 28: one owner for r_thres: the profile's ``FrequentConfig.sweep`` (Table 4's thresholds)."""
    from ntlib.run.profiles import get_profile
    P = get_profile("small")
    assert P.frequent.sweep == (0.10, 0.01) and get_profile("small", "ubuntu").frequent.sweep == (0.01, 0.001)
    assert params.apply(P.frequent, {"r_thres": None}, "r_thres").sweep == (0.10, 0.01)
    assert params.apply(P.frequent, {"r_thres": 0.05}, "r_thres").sweep == (0.05,)
    assert params.apply(P.frequent, {"r_thres": [0.2, 0.02]}, "r_thres").sweep == (0.2, 0.02)
    with pytest.raises(ParameterError, match=r"parameter r_thres = 1.0: .*< 1"):
        params.apply(P.frequent, {"r_thres": 1.0}, "r_thres")
