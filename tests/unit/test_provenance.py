"""Issue 15: run folders know their code, and every result records what produced it."""
import shutil

import pytest

from ntlib.machine import provenance
from ntlib.run import params
from ntlib.run.config import override
from ntlib.run.pipeline import baselines, baselines_code, baselines_run_dir
from ntlib.run.profiles import get_profile


@pytest.fixture
def scratch_ntlib(tmp_path, monkeypatch):
    """A scratch copy of the ntlib sources that provenance hashes instead of the real ones."""
    copy = tmp_path / "ntlib"
    shutil.copytree(provenance.PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(provenance, "PACKAGE_DIR", copy)
    return copy


def _edit(path, old, new):
    """Replace the first ``old`` in ``path`` with ``new``."""
    text = path.read_text()
    assert old in text, f"{path.name}: {old!r} not found"
    path.write_text(text.replace(old, new, 1))


def test_the_baselines_code_is_pipeline_and_everything_it_imports():
    mods = provenance.module_closure(provenance.BASELINES_CODE)
    for m in ("ntlib.run.pipeline", "ntlib.methods.models", "ntlib.methods.train", "ntlib.data.dataset", "ntlib.data.corpora",
              "ntlib.data.sources", "ntlib.methods.evaluate", "ntlib.run.config"):
        assert m in mods
    for m in ("ntlib.methods.frequent", "ntlib.methods.gan", "ntlib.methods.malicious", "ntlib.results.tables", "ntlib.machine.provenance"):
        assert m not in mods


def test_comments_and_docstrings_keep_the_code_digest(scratch_ntlib):
    before = baselines_code()
    _edit(scratch_ntlib / "methods/models.py", "self.drop = nn.Dropout(cfg.dropout)\n",
          "self.drop = nn.Dropout(\n            cfg.dropout)   # a comment, another layout\n")
    _edit(scratch_ntlib / "methods/train.py", '"""', '"""Another docstring line.\n')
    _edit(scratch_ntlib / "methods/models.py", "def forward(self", "def forward(self")
    assert baselines_code() == before


@pytest.mark.parametrize("module,old,new", [
    ("methods/models.py", "return self.out(self.drop(h)), state", "return self.drop(self.out(h)), state"),  # dropout moved
    ("methods/train.py", "import torch\n", "import torch\nimport math\n"),
    ("data/corpora.py", "def ", "X = 1\n\n\ndef "),
])
def test_changed_training_code_changes_the_run_folder(scratch_ntlib, module, old, new):
    P = get_profile("smoke")
    before, code = baselines_run_dir(P), baselines_code()
    _edit(scratch_ntlib / module, old, new)
    assert baselines_code() != code
    assert baselines_run_dir(P) != before


def test_code_outside_the_baselines_keeps_their_run_folder(scratch_ntlib):
    P = get_profile("smoke")
    before = baselines_run_dir(P)
    _edit(scratch_ntlib / "results/tables.py", "\nimport ", "\nimport math\nimport ")
    assert baselines_run_dir(P) == before and provenance.code_version() != provenance.code_version(
        provenance.ROOT / "ntlib")


def _tiny(P):
    small = override(P.train, max_pairs_per_epoch=256)
    return override(P, train=small, lm_train=override(P.lm_train, max_pairs_per_epoch=256))


def test_a_change_of_dropout_placement_retrains_instead_of_reusing(scratch_ntlib, tmp_path):
    from ntlib.data import dataset
    try:
        dataset.resolve_data([("swda/swb1_dialogact_annot.tar.gz", "swda/split_official.tsv")])
    except dataset.DataError:
        pytest.skip("shared data not found by the resolver")
    P = _tiny(get_profile("smoke"))
    first = baselines(P, tmp_path / "runs", progress=False)
    assert set(first.history) == {"lm", "seq2seq"}                   # trained
    again = baselines(P, tmp_path / "runs", progress=False)
    assert again.history == {} and again.run_dir == first.run_dir    # same code: reused
    rec = provenance.record(run_dir=first.run_dir)["models"]
    assert rec["seq2seq"]["baselines_code"] == baselines_code() and rec["lm"]["threads"] >= 1
    _edit(scratch_ntlib / "methods/models.py", "return self.out(self.drop(h)), state",
          "return self.drop(self.out(h)), state")
    changed = baselines(P, tmp_path / "runs", progress=False)
    assert set(changed.history) == {"lm", "seq2seq"}                 # retrained ...
    assert changed.run_dir != first.run_dir                          # ... into another folder


def test_record_names_code_torch_threads_and_machine():
    import torch
    rec = provenance.record(threads=3, device="cpu")
    assert rec["threads"] == 3 and rec["torch"] == torch.__version__ and rec["device"] == "cpu"
    assert rec["code_version"] == provenance.code_version() and rec["cpu"] and rec["cpu_count"] >= 1
    assert rec["gpu"] is None
    same, why = provenance.same_run_environment(rec, dict(rec))
    assert same and not why
    same, why = provenance.same_run_environment(rec, {**rec, "threads": 1})
    assert not same and why == ["threads: 3 vs 1"]
    assert provenance.same_run_environment(rec, None)[0] is False


def test_threads_default_to_every_core_and_keep_the_override(monkeypatch):
    monkeypatch.delenv("NTLIB_THREADS", raising=False)
    assert provenance.default_threads() == provenance.cpu_count()
    monkeypatch.setenv("NTLIB_THREADS", "1")
    assert provenance.default_threads() == 1
    monkeypatch.setenv("NTLIB_THREADS", "zero")
    with pytest.raises(ValueError, match="NTLIB_THREADS"):
        provenance.default_threads()


def test_params_check_applies_threads_and_provenance_records_them():
    import torch
    n = torch.get_num_threads()
    try:
        ns = {"In": ["", "threads = 1\nprofile = 'smoke'\ncorpus = 'switchboard'", ""], "threads": 1,
              "profile": "smoke", "corpus": "switchboard"}
        params.check(ns)
        assert torch.get_num_threads() == 1
        assert params.provenance(ns)["threads"] == 1
    finally:
        torch.set_num_threads(n)


def test_every_notebook_defaults_to_every_core_and_records_provenance():
    """Every notebook's ``threads`` defaults to 0 (every core, or $NTLIB_THREADS), and every stage's results
    carry the run's provenance."""
    import dataclasses
    import inspect
    import json
    from importlib import import_module

    from ntlib.stages import STAGES, StageResults
    for stage in STAGES:
        nb = provenance.ROOT / "notebooks" / f"{stage.name}.ipynb"
        params_cell = next("".join(c["source"]) for c in json.loads(nb.read_text())["cells"]
                           if "parameters" in c.get("metadata", {}).get("tags", []))
        assert "threads: int = 0" in params_cell, nb.name
        if stage.results:
            module = import_module(f"ntlib.stages.{stage.driver}")
            kinds = [c for _, c in inspect.getmembers(module, inspect.isclass)
                     if issubclass(c, StageResults) and c is not StageResults and c.__module__ == module.__name__]
            assert len(kinds) == 1 and kinds[0].RESULTS == stage.results, stage.name
            assert "provenance" in {f.name for f in dataclasses.fields(kinds[0])}, stage.name