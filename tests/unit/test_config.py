"""Profiles carry the paper's values; overrides name unknown fields; hashes are stable."""
import pytest

from ntlib.run.config import GibbsConfig, config_hash, override
from ntlib.run.profiles import PROFILES, get_profile


def test_paper_profile_holds_the_papers_values():
    p = get_profile("paper", "switchboard")
    assert (p.seq2seq.emb, p.seq2seq.hidden, p.seq2seq.dropout) == (300, 600, 0.3)   # §4.1
    assert (p.train.batch_size, p.train.lr, p.train.epochs_fixed, p.train.epochs_halving) == (64, 1.0, 10, 10)
    assert (p.gibbs.sweeps, p.gibbs.candidates, p.gibbs.restarts, p.gibbs.input_len) == (5, 100, 5, 15)
    assert (p.malicious.lr, p.malicious.target_batch, p.malicious.iterations) == (0.01, 100, 20)
    assert p.malicious.fwa_words == ("<eos>", "you", "i", "me", "are", "to", "do")
    assert (p.frequent.lr, p.frequent.window, p.frequent.eos_scale, p.frequent.passes) == (0.001, 200, 0.1, 20)
    assert p.data.vocab_size == 10_000 and p.data.max_src_len == 15 and p.data.max_tgt_len == 20


def test_corpus_adjustments_follow_the_paper():
    ubuntu, osub = get_profile("paper", "ubuntu"), get_profile("paper", "opensubtitles")
    assert ubuntu.data.vocab_size == osub.data.vocab_size == 30_000
    assert ubuntu.seq2seq.dropout == 0.0 and ubuntu.malicious.lambda_pos == 0.1
    assert osub.train.lr == 0.1 and osub.malicious.lambda_pos == 1.0
    assert get_profile("paper", "switchboard").malicious.hit_types == ("o_sample_avg", "io_sample_avg")
    assert ubuntu.malicious.hit_types == ("o_sample_min", "io_sample_min")


def test_unknown_names_are_errors_that_name_them():
    with pytest.raises(ValueError, match="no field 'sweep'"):
        override(GibbsConfig(), sweep=3)
    with pytest.raises(ValueError, match="unknown profile 'big'"):
        get_profile("big")
    with pytest.raises(ValueError, match="unknown corpus 'reddit'"):
        get_profile("small", "reddit")
    with pytest.raises(ValueError, match=r"MaliciousConfig.lists = .*not allowed: \['test'\]"):
        override(get_profile("paper").malicious, lists=("train", "test"))   # the held-out list
    assert get_profile("paper").malicious.lists == ("train", "train_1k", "train_2.5k")


def test_config_hash_is_stable_and_sensitive():
    a = config_hash(GibbsConfig(), "switchboard")
    assert a == config_hash(GibbsConfig(), "switchboard")
    assert a != config_hash(GibbsConfig(sweeps=4), "switchboard")
    assert set(PROFILES) == {"smoke", "teach", "small", "paper"}


def test_teach_profile_lies_between_smoke_and_small():
    """Issue 19: the teaching run — larger than smoke (whose baseline only answers the empty string),
    smaller than small (~15 min of baseline training) — on a Switchboard subset, one seed."""
    smoke, teach, small = (get_profile(n) for n in ("smoke", "teach", "small"))
    for stage in ("lm", "seq2seq"):
        assert getattr(smoke, stage).hidden < getattr(teach, stage).hidden < getattr(small, stage).hidden
    for stage in ("train", "lm_train"):
        assert (getattr(smoke, stage).max_pairs_per_epoch < getattr(teach, stage).max_pairs_per_epoch
                < getattr(small, stage).max_pairs_per_epoch)
    assert smoke.data.vocab_size < teach.data.vocab_size < small.data.vocab_size
    assert teach.data.max_train_dialogues is not None and teach.data.corpus == "switchboard"
    assert smoke.decode.max_eval_inputs < teach.decode.max_eval_inputs < small.decode.max_eval_inputs
    assert smoke.malicious.max_targets < teach.malicious.max_targets < small.malicious.max_targets
    assert "train" in teach.malicious.lists and teach.baselines == 1
    assert smoke.baselines == 2 and small.baselines >= 3        # verdicts across baselines: tested, committed
