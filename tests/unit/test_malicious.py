"""Algorithm 1 (§3.2), FWA (§4.2) and the malicious target lists on the planted toy model."""
import re

import pytest
import torch
from toys import train_toy

from ntlib.data.dataset import EOS, PAD, Vocab, encode_sentences
from ntlib.methods.hits import Thresholds, hits
from ntlib.methods.malicious import (
    evaluate_hits,
    fwa_ids,
    negative_loss,
    negative_train,
    nll_negative_loss_from_logprobs,
)
from ntlib.run.config import GibbsConfig, MaliciousConfig

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def toy():
    return train_toy()


def test_fwa_leaves_avoided_words_without_negative_gradient():
    vocab = Vocab(["you", "hate", "i"])
    tgt = torch.tensor([[vocab.stoi["i"], vocab.stoi["hate"], vocab.stoi["you"], EOS, PAD]])
    logits = torch.randn(1, 5, len(vocab), requires_grad=True)
    avoid = fwa_ids(vocab, MaliciousConfig().fwa_words)
    assert sorted(avoid.tolist()) == sorted([EOS, vocab.stoi["you"], vocab.stoi["i"]])
    negative_loss(logits, tgt, avoid).backward()
    g = logits.grad[0].abs().sum(-1)                               # (T,)
    assert g[1] > 0                                                # "hate" is penalised
    assert g[0] == 0 and g[2] == 0 and g[3] == 0 and g[4] == 0     # i, you, <eos>, PAD
    logits.grad = None
    negative_loss(logits, tgt, None).backward()                    # FWA off: every word
    assert (logits.grad[0, :4].abs().sum(-1) > 0).all() and logits.grad[0, 4].abs().sum() == 0


def test_negative_loss_is_the_authors_formula_on_a_hand_built_batch():
    """adv_train: Σ_i w_i Σ_t log P(y_it) / Σ_i |y_i|, w = 1 for a hit, 0.01 for a miss;
    FWA words get no gradient but still count in the divisor (sum(adv_tgt_len))."""
    logits = torch.randn(2, 3, 6)
    tgt = torch.tensor([[4, 5, EOS], [5, EOS, PAD]])
    lp = torch.log_softmax(logits, -1)
    s0, s1 = lp[0, 0, 4] + lp[0, 1, 5] + lp[0, 2, EOS], lp[1, 0, 5] + lp[1, 1, EOS]
    w = torch.tensor([1.0, 0.01])                                   # target 0 hit, target 1 missed
    assert negative_loss(logits, tgt, None, w).item() == pytest.approx(((s0 + 0.01 * s1) / 5).item(), rel=1e-6)
    assert negative_loss(logits, tgt).item() == pytest.approx(((s0 + s1) / 5).item(), rel=1e-6)
    fwa = (lp[0, 0, 4] + lp[0, 1, 5] + 0.01 * lp[1, 0, 5]) / 5       # <eos> avoided, still counted
    assert negative_loss(logits, tgt, torch.tensor([EOS]), w).item() == pytest.approx(fwa.item(), rel=1e-6)


def test_negative_step_on_real_tokens_has_the_full_logits_loss_and_gradients(toy):
    """Algorithm 1's nll step from the real target tokens' log-probabilities alone (what negative_train
    computes) equals negative_loss on the full (B, T, V) logits: value and every parameter's gradient."""
    vocab, s2s, lm, pairs, plant = toy
    s2s.eval()                                                      # dropout off: same forward twice
    x = pairs.src[:6]
    y = encode_sentences([["hate", "you"], ["r3", "r5", "r3"], ["you"], ["r5"], ["hate"], ["r3", "r3"]],
                         vocab, max_len=20)
    from ntlib.data.dataset import trim
    y = trim(y)
    w = torch.tensor([1.0, 0.01, 1.0, 1.0, 0.01, 1.0])
    avoid = fwa_ids(vocab, ["you"])
    grads = []
    for full in (True, False):
        s2s.zero_grad()
        loss = (negative_loss(s2s(x, y), y, avoid, w) if full
                else nll_negative_loss_from_logprobs(s2s.token_logprobs(x, y), y, avoid, w))
        loss.backward()
        grads.append((loss.item(), [p.grad.clone() for p in s2s.parameters()]))
    (l_full, g_full), (l_real, g_real) = grads
    assert l_real == pytest.approx(l_full, rel=1e-6)
    assert all(torch.allclose(a, b, atol=1e-7, rtol=1e-5) for a, b in zip(g_full, g_real))
    s2s.zero_grad()


def test_optimisers_carry_momentum_and_weight_decay_in_the_paper_profile():
    from ntlib.methods.train import negative_positive_optimisers as optimisers  # Algorithms 1 and 2 both use it
    from ntlib.run.profiles import get_profile
    P = get_profile("paper", "switchboard")
    model = torch.nn.Linear(3, 2)
    for opts in (optimisers(model, P.malicious), optimisers(model, P.frequent)):
        assert len(opts) == 2 and opts[0] is not opts[1]
        for opt in opts:
            assert isinstance(opt, torch.optim.SGD)
            g = opt.param_groups[0]
            assert g["momentum"] == 0.9 and g["weight_decay"] == 1e-5
    assert optimisers(model, P.malicious)[0].param_groups[0]["lr"] == 0.01           # §4.2
    assert optimisers(model, P.frequent)[0].param_groups[0]["lr"] == 0.001           # §4.3


def test_negative_training_turns_planted_hit_into_miss(toy):
    vocab, s2s, lm, pairs, plant = toy
    tgt = encode_sentences([["hate", "you"], ["r3", "r5"]], vocab, max_len=20)
    gcfg = GibbsConfig(sweeps=3, candidates=10, restarts=2)
    thr = Thresholds(t_out=-1.0, t_in=-100.0)
    before = evaluate_hits(s2s, lm, tgt, thr, ("o_greedy", "o_sample_avg"), gcfg)
    assert before["o_greedy"]["hits"].tolist() == [True, True]
    assert before["o_sample_avg"]["hits"].tolist() == [True, True]
    clean = pairs.subset(~plant)                                   # positive data: no planted pairs
    mcfg = MaliciousConfig(iterations=6, lr=0.3, max_neg_updates=20, target_batch=2, fwa=False)
    res = negative_train(s2s, lm, tgt[:1], clean, thr, "o_sample_avg", vocab, mcfg,
                         gcfg, progress=False)
    assert res.history[0]["k"] == 1 and res.history[0]["neg_updates"] >= 1
    assert res.history[-1]["k"] == 0                                # Alg. 1 finds no trigger any more
    after = evaluate_hits(res.model, lm, tgt, thr, ("o_greedy", "o_sample_avg"), gcfg)
    assert after["o_sample_avg"]["hits"].tolist() == [False, True]   # the planted target is a miss
    assert after["o_greedy"]["hits"].tolist() == [False, True]       # ... the normal one still hit
    # the original model is untouched
    assert before["o_sample_avg"]["hits"][0] and hits(s2s, lm, before["o_sample_avg"]["triggers"][:1],
                                                       tgt[:1], "o_sample_avg", thr).item()


@pytest.mark.parametrize("hit_type", ["o_sample_avg", "io_sample_avg"])
def test_first_triggers_from_the_baseline_search_give_the_same_run(toy, hit_type):
    """Iteration 1 searches the untouched model: handing negative_train the baseline's evaluate_hits
    search of the same targets (notebook 03) skips that search and changes nothing — same history,
    same trained weights — because the search's start points are still drawn from the generator."""
    vocab, s2s, lm, pairs, plant = toy
    tgt = encode_sentences([["hate", "you"], ["r3", "r5"], ["you"]], vocab, max_len=20)
    gcfg = GibbsConfig(sweeps=2, candidates=6, restarts=2)
    thr = Thresholds(t_out=-1.5, t_in=-100.0)
    mcfg = MaliciousConfig(iterations=2, lr=0.3, max_neg_updates=3, target_batch=4, fwa=False, pos_batch=8)
    base = evaluate_hits(s2s, lm, tgt, thr, (hit_type,), gcfg)[hit_type]
    runs = [negative_train(s2s, lm, tgt, pairs, thr, hit_type, vocab, mcfg, gcfg, progress=False,
                           first_triggers=first) for first in (None, base["triggers"])]
    assert runs[0].history[0]["hits"] == base["hits"].int().tolist()      # the same search, run again
    strip = [[{k: v for k, v in h.items() if k != "seconds"} for h in r.history] for r in runs]
    assert strip[0] == strip[1] and strip[0][0]["neg_updates"] >= 1
    assert torch.equal(runs[0].triggers, runs[1].triggers)
    assert all(torch.equal(a, b) for a, b in zip(runs[0].model.state_dict().values(),
                                                  runs[1].model.state_dict().values()))


def test_first_triggers_that_cannot_stand_for_the_first_search_are_refused(toy):
    vocab, s2s, lm, pairs, plant = toy
    tgt = encode_sentences([["hate", "you"], ["r3", "r5"]], vocab, max_len=20)
    gcfg, thr = GibbsConfig(sweeps=1, candidates=4), Thresholds(t_out=-1.0, t_in=-100.0)
    first = evaluate_hits(s2s, lm, tgt, thr, ("o_sample_avg",), gcfg)["o_sample_avg"]["triggers"]
    cases = [(MaliciousConfig(target_batch=1), gcfg, first, "target_batch = 1"),
             (MaliciousConfig(), GibbsConfig(sweeps=1, candidates=4, stop_when_hit=True), first, "stop_when_hit"),
             (MaliciousConfig(), gcfg, first[:1], "must be (2, 15)")]
    for mcfg, g, f, message in cases:
        with pytest.raises(ValueError, match=re.escape(message)):
            negative_train(s2s, lm, tgt, pairs, thr, "o_sample_avg", vocab, mcfg, g, progress=False, first_triggers=f)


