"""ntlib.stages.own_model (notebook 08): its config and presets, the MLE training of a Hugging Face model (the
loss goes down), the cached model loaded back exactly, and the tables the notebook shows, on the toy task of
tests/toys.py. Skipped without transformers (the hf extra), except the config's checks."""
import types
from pathlib import Path

import pytest
import torch
from toys import WORDS, toy_pairs

from ntlib.data.dataset import Vocab
from ntlib.methods.hits import Thresholds
from ntlib.run.config import DataConfig
from ntlib.run.rules import ConfigError
from ntlib.stages import BY_NAME, DEFAULT
from ntlib.stages import own_model as stage


def test_presets_and_validation():
    assert set(stage.PRESETS) == {"smoke", "teach", "small", "paper"}
    assert stage.config("teach").architecture == "gpt2" and stage.config("smoke").steps < stage.config("teach").steps
    with pytest.raises(ConfigError, match=r"OwnModelConfig.d_model = 30: must be a multiple of heads = 4"):
        stage.config("teach", d_model=30)
    with pytest.raises(ConfigError, match="architecture"):
        stage.config("teach", architecture="lstm")
    with pytest.raises(ValueError, match="no preset for profile 'tiny'"):
        stage.config("tiny")
    assert BY_NAME["08_own_model"].opt_in and "08_own_model" not in DEFAULT     # make own-model, not make reproduce
    make = (Path(__file__).resolve().parents[2] / "Makefile").read_text()
    assert "--stages 08_own_model" in make.split("\nown-model:")[1].split("\n\n")[0]
    assert "\ntest: setup-hf" in make                                   # make test installs the hf extra: nbval runs 08


transformers = pytest.importorskip("transformers")
VOCAB = Vocab(WORDS)
CFG = stage.OwnModelConfig(d_model=32, layers=1, heads=2, steps=60, batch_size=32, lr=3e-3, log_every=10)


def _nb(tmp_path):
    return types.SimpleNamespace(run_root=str(tmp_path), corpus="toy", profile="smoke", seed=1,
                                 P=types.SimpleNamespace(data=DataConfig()))


def _setup(pairs, cfg=CFG):
    data = types.SimpleNamespace(train=pairs, vocab=VOCAB)
    return stage.Setup(cfg, data, None, None, None, None, positions=32)


@pytest.mark.parametrize("arch", stage.ARCHITECTURES)
def test_mle_training_lowers_the_loss(arch):
    pairs, _ = toy_pairs(VOCAB, 1000, torch.Generator().manual_seed(0))
    cfg = stage.OwnModelConfig(architecture=arch, d_model=32, layers=1, heads=2, steps=60, batch_size=32,
                               log_every=10)
    model = stage.build(cfg, len(VOCAB), 32, seed=1)
    hist = stage.fit_mle(model, pairs, cfg, seed=1, progress=False)
    assert hist["step"] == [10, 20, 30, 40, 50, 60]
    assert hist["loss"][-1] < 0.7 * hist["loss"][0]           # per-word NLL: from ~log V down


def test_the_trained_model_is_cached_and_loaded_back_exactly(tmp_path):
    pairs, _ = toy_pairs(VOCAB, 500, torch.Generator().manual_seed(0))
    nb, s = _nb(tmp_path), _setup(pairs)
    first = stage.train(nb, s)
    assert not first.cached and (stage.model_dir(nb, s) / "model.pt").is_file()
    again = stage.train(nb, s)
    assert again.cached and again.history == first.history
    assert stage.training_table(again).loc["MLE", "time"] == "loaded from run_root"
    for a, b in zip(first.model.state_dict().values(), again.model.state_dict().values()):
        assert torch.equal(a, b)
    other = _setup(pairs, stage.OwnModelConfig(**{**CFG.__dict__, "steps": 61}))
    assert stage.model_dir(nb, other) != stage.model_dir(nb, s)             # another config: another folder


def test_hit_table_pairs_hits_target_by_target():
    def rec(hits):
        h = torch.tensor(hits)
        return {"k": int(h.sum()), "n": len(h), "hits": h}
    att = stage.Attack(Thresholds(-2.0, float("nan")), {},
                       {n: {ht: rec([1, 1, 1, 0]) for ht in stage.HIT_TYPES} for n in stage.LISTS})
    assert list(stage.hit_table(att).columns) == ["before"]
    att.after = {n: {ht: rec([0, 0, 0, 1]) for ht in stage.HIT_TYPES} for n in stage.LISTS}
    t = stage.hit_table(att)
    row = t.loc[("train list", "o_sample_avg")]
    assert row["before"] == "3 / 4" and row["after Algorithm 1"] == "1 / 4" and row["fell / rose"] == "3 / 1"
    assert row["McNemar p (one-sided, fell)"] == "0.312"               # P(X ≥ 3 | 4, ½) = 5/16


def test_table4_names_the_empty_response():
    rows = {"Baseline": {"ppl": 50.0, "max_ratio": 0.6, "ent3": 1.0, "distinct2": 0.1, "bleu4": 0.01,
                         "top10": [("", 0.6), ("yeah", 0.4)]},
            "+neg-train": {"ppl": 51.0, "max_ratio": 0.3, "ent3": 2.0, "distinct2": 0.2, "bleu4": 0.01,
                           "top10": [("yeah", 0.3)]}}
    t = stage.table4(stage.Frequent(rows, {}, 0.0))
    assert t.loc["Baseline", "most frequent response"] == "(empty response) (60.0 %)"
    assert t.loc["+neg-train", "max-ratio %"] == 30.0 and t.loc["+neg-train", "most frequent response"] == "“yeah” (30.0 %)"

