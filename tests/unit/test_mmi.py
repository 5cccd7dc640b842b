"""MMI-antiLM (ntlib.methods.mmi, Li et al. 2016): with λ = γ = 0 it is plain beam search; its beam
scores are exactly log P(T|S) and log U(T) of the two models; a larger λ demotes a response
the LM finds likely until another one wins; γ rewards length; the grid marks one setting."""
import itertools

import pytest
import torch

from ntlib.data.dataset import EOS, PairTensors, Vocab
from ntlib.methods import mmi
from ntlib.methods.decode import beam_search
from ntlib.methods.evaluate import lm_nll, seq2seq_nll
from ntlib.methods.models import LSTMLM, Seq2Seq
from ntlib.methods.train import sgd_step
from ntlib.run.config import MMIConfig, ModelConfig
from ntlib.run.rules import ConfigError

TINY = ModelConfig(emb=8, hidden=16, dropout=0.0)


def test_lambda_zero_equals_plain_beam_search():
    for seed in range(3):
        torch.manual_seed(seed)
        model = Seq2Seq(30, TINY).eval()
        lm = LSTMLM(30, TINY).eval()
        src = torch.randint(4, 30, (12, 5))
        src[:3, :2] = 0                                       # some left padding
        for K in (1, 4):
            ref = beam_search(model, src, K, 6)
            got = mmi.beam_search_antilm(model, lm, src, K, 6, lam=0.0, g=3)
            for r, hyps in zip(ref, got):
                top = mmi.nbest(hyps, lam=0.0, gamma=0.0, n=K)
                assert [s for _, s in r] == pytest.approx([h.score() for h in top], abs=1e-5)
                # same ranking; hypotheses whose scores tie exactly may come in either order
                key = lambda pairs: sorted((round(s, 5), tuple(i)) for i, s in pairs)
                assert key([(ids[:-1], s) for ids, s in r]) == key([(h.ids, h.score()) for h in top])


def test_beam_scores_are_the_two_models_log_probs():
    """Exhaustive: a beam wider than all sequences finds every one, with exact terms."""
    torch.manual_seed(0)
    model, lm = Seq2Seq(7, TINY).eval(), LSTMLM(7, TINY).eval()
    src = torch.tensor([[0, 4, 5, 6]])
    hyps = mmi.beam_search_antilm(model, lm, src, beam_size=500, max_len=3, lam=0.7, g=2)[0]
    words = [1, 4, 5, 6]                                      # all but PAD, BOS, EOS
    assert len(hyps) == sum(len(words) ** n for n in range(4))
    with torch.no_grad():
        for h in hyps:
            tgt = torch.tensor([list(h.ids) + [EOS]])
            assert h.logp == pytest.approx(float(model.token_logprobs(src, tgt).sum()), abs=1e-4)
            assert h.lm_logp == pytest.approx(float(lm.token_logprobs(tgt)[0, :2].sum()), abs=1e-4)
    best = max(itertools.chain(hyps), key=lambda h: h.score(0.7, 0.3))
    assert mmi.nbest(hyps, 0.7, 0.3, 1)[0] == best


def test_score_formula_and_lambda_gamma_directions():
    likely = mmi.Hypothesis((5, 6), logp=-2.0, lm_logp=-1.0)       # the LM finds it likely
    rare = mmi.Hypothesis((7, 8, 9), logp=-3.0, lm_logp=-8.0)
    assert likely.score(0.5, 0.2) == pytest.approx(-2.0 + 0.5 + 0.4)
    assert mmi.mmi_score(-3.0, -8.0, 3, 0.5, 0.2) == pytest.approx(rare.score(0.5, 0.2))
    margins = [likely.score(lam) - rare.score(lam) for lam in (0.0, 0.1, 0.3)]
    assert margins == sorted(margins, reverse=True) and margins[0] > 0 > margins[-1]
    assert mmi.nbest([likely, rare], 0.0, 0.0, 1)[0] is likely
    assert mmi.nbest([likely, rare], 0.3, 0.0, 1)[0] is rare
    assert mmi.nbest([likely, rare], 0.0, 2.0, 1)[0] is rare       # γ rewards length


def test_larger_lambda_demotes_the_response_the_lm_likes():
    """Toy: the seq2seq answers "a" (60 %) or "b c" (40 %); the LM has only seen "a"."""
    torch.manual_seed(0)
    a, bc = [5, EOS, 0], [6, 7, EOS]
    src = torch.tensor([[4, 8]]).repeat(10, 1)
    tgt = torch.tensor([a] * 6 + [bc] * 4)
    model, lm = Seq2Seq(9, TINY), LSTMLM(9, TINY)
    opt_s, opt_l = torch.optim.Adam(model.parameters(), 0.05), torch.optim.Adam(lm.parameters(), 0.05)
    for _ in range(150):
        sgd_step(model, opt_s, seq2seq_nll(model, src, tgt)[0], None)
        sgd_step(lm, opt_l, lm_nll(lm, torch.tensor([a] * 10))[0], None)
    tops = {}
    for lam in (0.0, 0.2, 0.5):
        hyps = mmi.beam_search_antilm(model, lm, src[:1], beam_size=4, max_len=4, lam=lam, g=1)[0]
        tops[lam] = mmi.nbest(hyps, lam, 0.0, 1)[0].ids
        by_ids = {h.ids: h for h in hyps}
        if lam:
            assert by_ids[(5,)].lm_logp > by_ids[(6, 7)].lm_logp
    assert tops[0.0] == (5,) and tops[0.5] == (6, 7)


def test_grid_search_marks_one_sane_setting():
    torch.manual_seed(0)
    vocab = Vocab([f"w{i}" for i in range(10)])                 # ids 5..14
    src = torch.randint(5, 15, (12, 4))
    valid = PairTensors(src, torch.cat([src[:, :2], torch.full((12, 1), EOS)], 1))
    model, lm = Seq2Seq(len(vocab), TINY).eval(), LSTMLM(len(vocab), TINY).eval()
    cfg = MMIConfig(lambdas=(0.0, 0.5), gs=(1, 2), gammas=(0.0, 1.0), beam_size=3,
                    max_valid_inputs=8, max_lm_ppl_ratio=10.0, max_len_ratio=10.0)
    rows, info = mmi.grid_search(model, lm, valid, vocab, cfg, max_len=5, progress=False)
    assert [(r["lambda"], r["g"], r["gamma"]) for r in rows] == [
        (0.0, None, 0.0), (0.0, None, 1.0), (0.5, 1, 0.0), (0.5, 1, 1.0), (0.5, 2, 0.0),
        (0.5, 2, 1.0)]
    assert sum(r["chosen"] for r in rows) == 1 and info["n_inputs"] == 8
    chosen = next(r for r in rows if r["chosen"])
    assert chosen["sane"] and chosen["ent3"] == max(r["ent3"] for r in rows if r["sane"])
    assert all(r["lm_ppl"] > 1 and 0 <= r["max_ratio"] <= 1 for r in rows)
    assert list(info["responses"]) == [r["setting"] for r in rows]
    assert all(len(v) == 8 for v in info["responses"].values())


def test_a_setting_far_shorter_than_the_references_is_not_sane():
    """Issue 29: the committed run chose a setting answering 1.1 words (43 of 1,000 responses had a trigram);
    the lower length bound (our rule, 0.25 × the references' mean length) refuses it."""
    cfg = MMIConfig()
    assert (cfg.min_len_ratio, cfg.max_len_ratio, cfg.max_lm_ppl_ratio) == (0.25, 1.5, 1.0)
    ref_ppl, ref_len = 76.8, 6.585                               # the committed run's references
    assert not mmi.sane({"lm_ppl": 2.6, "avg_len": 1.095}, cfg, ref_ppl, ref_len)    # < 0.25 × 6.585 = 1.646
    assert mmi.sane({"lm_ppl": 3.3, "avg_len": 2.66}, cfg, ref_ppl, ref_len)
    assert not mmi.sane({"lm_ppl": 3.3, "avg_len": 9.9}, cfg, ref_ppl, ref_len)      # > 1.5 × 6.585 = 9.88
    assert not mmi.sane({"lm_ppl": 1141.0, "avg_len": 2.5}, cfg, ref_ppl, ref_len)   # not fluent
    with pytest.raises(ConfigError, match="min_len_ratio = 2.0 > max_len_ratio = 1.5"):
        MMIConfig(min_len_ratio=2.0)


def test_grid_search_never_chooses_a_setting_below_the_length_bound_when_one_is_sane():
    torch.manual_seed(0)
    vocab = Vocab([f"w{i}" for i in range(10)])
    src = torch.randint(5, 15, (12, 4))
    valid = PairTensors(src, torch.cat([src[:, :3], torch.full((12, 1), EOS)], 1))   # references: 3 words
    model, lm = Seq2Seq(len(vocab), TINY).eval(), LSTMLM(len(vocab), TINY).eval()
    cfg = MMIConfig(lambdas=(0.0, 0.5), gs=(1, 2), gammas=(0.0, 1.0, 3.0), beam_size=3, max_valid_inputs=8,
                    max_lm_ppl_ratio=100.0, max_len_ratio=10.0, min_len_ratio=0.5)
    rows, info = mmi.grid_search(model, lm, valid, vocab, cfg, max_len=5, progress=False)
    assert info["ref_avg_len"] == 3.0
    assert all(r["sane"] == (r["avg_len"] >= 1.5) for r in rows)
    chosen = next(r for r in rows if r["chosen"])
    if any(r["sane"] for r in rows):
        assert chosen["sane"] and chosen["avg_len"] >= 1.5
