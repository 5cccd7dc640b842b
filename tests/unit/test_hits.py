"""The hit criteria of §3.2 (ntlib.methods.hits): by hand and on a tiny planted model (tests/toys.py)."""
import math

import pytest
import torch
from toys import train_toy

from ntlib.data.dataset import EOS, EOU_ID, PAD, encode_sentences
from ntlib.methods.hits import Thresholds, criteria, hit_rate, hits, thresholds

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def toy():
    return train_toy()


def test_hit_criteria_on_hand_made_logprobs():
    tgt = torch.tensor([[5, 6, EOS, PAD], [5, EOS, PAD, PAD]])
    lp = torch.tensor([[-1.0, -3.0, -0.5, 0.0], [-2.0, -2.5, 0.0, 0.0]])
    thr = Thresholds(t_out=-2.2, t_in=-4.0)
    # avg: -1.5 and -2.25; min: -3.0 and -2.5
    assert criteria(lp, tgt, "o_sample_avg", thr).tolist() == [True, False]
    assert criteria(lp, tgt, "o_sample_min", Thresholds(-2.6, 0)).tolist() == [False, True]
    assert criteria(lp, tgt, "io_sample_avg", thr, torch.tensor([-4.5, -1.0])).tolist() == [False, False]
    assert criteria(lp, tgt, "io_sample_avg", thr, torch.tensor([-3.9, -1.0])).tolist() == [True, False]
    with pytest.raises(ValueError, match="o_greedy"):
        criteria(lp, tgt, "o_greedy", thr)
    with pytest.raises(ValueError, match="unknown hit type"):
        hits(None, None, None, tgt, "sample_avg", thr)


def test_wilson_interval_by_hand():
    r = hit_rate(torch.tensor([1, 1, 1, 0, 0, 0, 0, 0, 0, 0], dtype=torch.bool))
    # 3/10, z = 1.96: (0.3 + 0.19208 ∓ 1.96·sqrt(0.021 + 0.009604)) / 1.38416
    assert r["rate"] == 0.3 and (r["k"], r["n"]) == (3, 10)
    assert r["lo"] == pytest.approx(0.10779, abs=1e-5) and r["hi"] == pytest.approx(0.60322, abs=1e-5)
    r0 = hit_rate(torch.zeros(10, dtype=torch.bool))
    assert r0["lo"] == 0.0 and r0["hi"] == pytest.approx(0.38416 / 1.38416, abs=1e-6)
    # the interval always holds the rate, also where rounding puts centre - half above 0 (k = 0)
    for n in range(1, 120):
        for k in (0, 1, n // 2, n - 1, n):
            r = hit_rate(torch.arange(n) < k)
            assert 0.0 <= r["lo"] <= r["rate"] <= r["hi"] <= 1.0, (k, n)


def test_thresholds_are_test_word_loglik(toy):
    vocab, s2s, lm, pairs, _ = toy
    test = pairs.subset(torch.arange(300))
    thr = thresholds(s2s, lm, test, batch_size=128)
    with torch.no_grad():
        lp, lm_lp = s2s.token_logprobs(test.src, test.tgt), lm.token_logprobs(test.tgt)
    n = int((test.tgt != PAD).sum())
    assert thr.t_out == pytest.approx(float(lp.sum()) / n, rel=1e-5)
    assert thr.t_in == pytest.approx(float(lm_lp.sum()) / n, rel=1e-5)
    assert -0.5 < thr.t_out < 0 and math.isfinite(thr.t_in)


def test_o_greedy_needs_the_models_own_eos(toy):
    vocab, s2s, lm, _, _ = toy
    x = torch.full((2, 15), vocab.stoi["a1"])
    x[:, -2] = vocab.stoi["p"]                                     # greedy: "hate you <eos>"
    x[:, -1] = EOU_ID
    tgt = encode_sentences([["hate", "you"], ["hate"]], vocab, max_len=20)
    # "hate <eos>" is a prefix of the response, not the response: a cut-off decode must not hit
    assert hits(s2s, lm, x, tgt, "o_greedy", Thresholds(0, 0)).tolist() == [True, False]
    assert hits(s2s, lm, x[1:], tgt[1:], "o_greedy", Thresholds(0, 0)).tolist() == [False]
