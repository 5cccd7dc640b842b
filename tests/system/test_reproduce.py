"""make reproduce: stages run in order, a finished unchanged stage is skipped, a change re-runs it."""
import nbformat
from toys import stage_notebooks

from ntlib.run.publish import publish
from ntlib.run.reproduce import STAGES, notebook_digest, reproduce, stage_keys


def test_stage_keys_chain_and_react_to_changes(tmp_path):
    stage_notebooks(tmp_path)
    a = stage_keys("smoke", "switchboard", tmp_path)
    assert list(a) == list(STAGES) and len(set(a.values())) == len(STAGES)
    assert stage_keys("small", "switchboard", tmp_path)["01_data"] != a["01_data"]
    stage_notebooks(tmp_path, body="x = 2")      # every notebook changed: every key changes
    assert all(stage_keys("smoke", "switchboard", tmp_path)[s] != a[s] for s in STAGES)


def test_reproduce_runs_then_skips_cached_stage(tmp_path):
    nbs, runs, reports = tmp_path / "nb", tmp_path / "runs", tmp_path / "reports"
    nbs.mkdir()
    stage_notebooks(nbs)
    kw = dict(profile="smoke", corpus="switchboard", run_root=runs, reports_dir=reports,
              stages=("01_data",), notebooks_dir=nbs)
    first = reproduce(**kw)
    assert not first[0]["cached"] and (reports / "01_data.txt").read_text() == "smoke"
    assert (runs / "reproduce-switchboard-smoke" / "01_data.ipynb").exists()
    second = reproduce(**kw)
    assert second[0]["cached"]
    (reports / "01_data.txt").unlink()             # a deleted report is regenerated (issue 14)
    regenerated = reproduce(**kw)
    assert not regenerated[0]["cached"] and (reports / "01_data.txt").read_text() == "smoke"
    stage_notebooks(nbs, body="x = 3")
    third = reproduce(**kw)
    assert not third[0]["cached"] and (reports / "01_data.txt").exists()


def test_notebook_digest_ignores_outputs_prose_and_markers(tmp_path):
    stage_notebooks(tmp_path)
    path = tmp_path / "01_data.ipynb"
    before = notebook_digest(path)
    nb = nbformat.read(path, 4)
    nb.cells.insert(0, nbformat.v4.new_markdown_cell("# prose"))
    nb.cells[-1].outputs = [nbformat.v4.new_output("stream", text="1 2 3\n")]
    nb.cells[-1].source = "# NBVAL_CHECK_OUTPUT\n" + nb.cells[-1].source
    nbformat.write(nb, path)
    assert notebook_digest(path) == before
    nb.cells[-1].source += "\ny = 2"
    nbformat.write(nb, path)
    assert notebook_digest(path) != before


def test_publish_strips_injected_parameters_and_progress_bars(tmp_path):
    runs, nbs = tmp_path / "runs", tmp_path / "nb"
    out = runs / "reproduce-switchboard-smoke"
    out.mkdir(parents=True)
    nbs.mkdir()
    stage_notebooks(out)
    for stage in STAGES:
        nb = nbformat.read(out / f"{stage}.ipynb", 4)
        injected = nbformat.v4.new_code_cell("profile = 'smoke'")
        injected.metadata["tags"] = ["injected-parameters"]
        nb.cells.insert(1, injected)
        nb.cells[-1].outputs = [nbformat.v4.new_output(
            "stream", name="stderr", text="train:  50%|#####     | 5/10 [00:01<00:01, 4.1it/s]\n"),
            nbformat.v4.new_output("stream", name="stdout", text="valid ppl 61.9\n")]
        nbformat.write(nb, out / f"{stage}.ipynb")
        (out / f"{stage}.done.json").write_text("{}")
    publish("smoke", "switchboard", runs, nbs)
    nb = nbformat.read(nbs / "02_baselines.ipynb", 4)
    assert not any("injected-parameters" in c.metadata.get("tags", []) for c in nb.cells)
    assert [o["text"] for o in nb.cells[-1].outputs] == ["valid ppl 61.9\n"]
    # the opt-in stage 07 is published only when named, and alone
    import pytest

    from ntlib.run.reproduce import StageError
    with pytest.raises(StageError, match="07_negative_losses.ipynb: not run to completion"):
        publish("smoke", "switchboard", runs, nbs, stages=("07_negative_losses",))
    (nbs / "01_data.ipynb").unlink()
    nbformat.write(nbformat.read(out / "01_data.ipynb", 4), out / "07_negative_losses.ipynb")
    (out / "07_negative_losses.done.json").write_text("{}")
    assert publish("smoke", "switchboard", runs, nbs, stages=("07_negative_losses",)) == [nbs / "07_negative_losses.ipynb"]
    assert not (nbs / "01_data.ipynb").exists()
    with pytest.raises(StageError, match="unknown stage"):
        publish("smoke", "switchboard", runs, nbs, stages=("08_nope",))


def test_publish_never_copies_another_profiles_run_over_the_committed_notebooks(tmp_path):
    """Issue 27: `--profile smoke --stages 06_tables --publish` copied the smoke notebook over notebooks/."""
    import pytest

    from ntlib.run.reproduce import ROOT, StageError
    runs = tmp_path / "runs"
    out = runs / "reproduce-switchboard-smoke"
    out.mkdir(parents=True)
    stage_notebooks(out)
    (out / "06_tables.done.json").write_text("{}")
    before = (ROOT / "notebooks" / "06_tables.ipynb").read_bytes()
    with pytest.raises(StageError, match="a smoke/switchboard run is not published over them"):
        publish("smoke", "switchboard", runs, stages=("06_tables",))
    assert (ROOT / "notebooks" / "06_tables.ipynb").read_bytes() == before


def test_a_stage_rewriting_an_earlier_stages_report_is_an_error(tmp_path):
    """Two stages writing one report made the first one's done-marker stale, so the next
    `make reproduce` re-ran it (06_tables rewrote 03's table3 CSV)."""
    import pytest

    from ntlib.run.reproduce import StageError
    nbs = tmp_path / "nb"
    nbs.mkdir()
    stage_notebooks(nbs, body="pathlib.Path(reports_dir, 'shared.txt').write_text('x')")
    with pytest.raises(StageError, match="02_baselines rewrote shared.txt, a report of 01_data"):
        reproduce(profile="smoke", corpus="switchboard", run_root=tmp_path / "runs",
                  reports_dir=tmp_path / "reports", stages=("01_data", "02_baselines"), notebooks_dir=nbs)


def test_the_readme_results_are_generated_from_the_committed_results(tmp_path):
    """Issue 28/29: the README's results block is what the publish step generates from reports/results,
    never typed: regenerating it from the committed results leaves the README unchanged."""
    import shutil

    from ntlib.run.publish import README, RESULTS_END, RESULTS_START, readme_results, update_readme
    copy = tmp_path / "README.md"
    shutil.copy(README, copy)
    assert RESULTS_START in copy.read_text() and RESULTS_END in copy.read_text()
    assert not update_readme(readme=copy), "README.md's results differ from reports/results: run the publish step"
    assert readme_results() in copy.read_text()


def test_the_command_line_publishes_the_committed_run_and_passes_the_seed(monkeypatch):
    """`reproduce --publish` reached a name it never imported (DEFAULT_RUN) after an hour of running; `--seed N`
    runs the pipeline on baselines N, N + 1, …, and is refused with --publish before anything runs."""
    import pytest

    from ntlib.run import reproduce as rp
    calls = {}
    monkeypatch.setattr(rp, "reproduce", lambda *a, **k: calls.__setitem__("reproduce", k))
    monkeypatch.setattr(rp, "publish", lambda *a, **k: calls.__setitem__("publish", k) or [])
    monkeypatch.setattr(rp, "update_readme", lambda: calls.__setitem__("readme", True) or False)
    assert rp.main(["--publish"]) == 0
    assert set(calls) == {"reproduce", "publish", "readme"} and calls["reproduce"]["seed"] == 1
    calls.clear()
    with pytest.raises(SystemExit):
        rp.main(["--publish", "--seed", "4"])
    assert calls == {}                                   # refused before an hour of running
    assert rp.main(["--seed", "4"]) == 0 and calls == {"reproduce": calls["reproduce"]}
    assert calls["reproduce"]["seed"] == 4


def test_another_seed_runs_into_its_own_folders(tmp_path):
    nbs = tmp_path / "nb"
    nbs.mkdir()
    stage_notebooks(nbs)
    kw = dict(profile="smoke", corpus="switchboard", run_root=tmp_path / "runs", stages=("01_data",),
              notebooks_dir=nbs)
    first = reproduce(**kw, reports_dir=tmp_path / "r1")
    other = reproduce(**kw, reports_dir=tmp_path / "r4", seed=4)
    assert first[0]["key"] != other[0]["key"] and not other[0]["cached"]
    assert (tmp_path / "runs" / "reproduce-switchboard-smoke-seed4" / "01_data.ipynb").is_file()
    executed = nbformat.read(tmp_path / "runs" / "reproduce-switchboard-smoke-seed4" / "01_data.ipynb", 4)
    assert any("seed = 4" in "".join(c["source"]) for c in executed.cells if c["cell_type"] == "code")
