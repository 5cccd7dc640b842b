"""gibbs-enum (App. A) on a tiny planted model.

The toy task: an input is 14 words closed by ``<eou>`` (the form of a training source and of a
trigger); the response is ``r(last word) r(second last word)``; any input whose last word is the
planted word ``p`` is answered by the planted target ``hate you``.
"""

import pytest
import torch
from toys import train_toy

from ntlib.data.dataset import EOS, EOU, EOU_ID, PAD, UNK, encode_sentences
from ntlib.methods.gibbs_enum import (
    _candidate_losses,
    _project_logprobs,
    _top_candidates,
    gibbs_enum,
    gibbs_enum_reference,
    onehot_gradient,
    trigger_loss,
)
from ntlib.methods.hits import Thresholds, hits
from ntlib.methods.models import LSTMLM, Seq2Seq
from ntlib.methods.triggers import close_with_eou, lm_view, random_triggers
from ntlib.run.config import GibbsConfig, ModelConfig

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def toy():
    return train_toy()


def test_search_finds_trigger_for_planted_target(toy):
    vocab, s2s, lm, _, _ = toy
    tgt = encode_sentences([["hate", "you"], ["r3", "r5"]], vocab, max_len=20)
    cfg = GibbsConfig(sweeps=3, candidates=10, restarts=2)
    res = gibbs_enum(s2s, tgt, cfg)
    assert hits(s2s, lm, res.triggers, tgt, "o_greedy", Thresholds(0, 0)).tolist() == [True, True]
    assert res.triggers[0, -2] == vocab.stoi["p"]                 # the planted rule
    assert res.triggers[1, -2] == vocab.stoi["a3"]                # r(last word) = r3
    assert (res.triggers[:, -1] == EOU_ID).all()
    # the returned loss is eq. 7 of the returned trigger, and beats a random input
    loss, lp = trigger_loss(s2s, lm, res.triggers, tgt[:, :3], 0.0)
    assert torch.allclose(loss, res.loss) and torch.allclose(lp, res.logprobs)
    rand, _ = trigger_loss(s2s, lm, random_triggers(2, 15, len(vocab), torch.Generator().manual_seed(0)),
                           tgt[:, :3], 0.0)
    assert (res.loss < rand).all()


@pytest.mark.parametrize("io", [False, True])
def test_batched_search_equals_one_candidate_loop(toy, io):
    # random weights: the trained toy model ignores most input positions, so candidates
    # there tie up to float rounding and either order of evaluation may pick either one
    vocab = toy[0]
    torch.manual_seed(5)
    cfg_m = ModelConfig(emb=16, hidden=32, dropout=0.0)
    s2s, lm = Seq2Seq(len(vocab), cfg_m).eval(), LSTMLM(len(vocab), cfg_m).eval()
    tgt = encode_sentences([["hate", "you"], ["r1", "r2"], ["r7"], ["a1", "you", "r0"]], vocab, max_len=20)
    cfg = GibbsConfig(sweeps=2, candidates=6, restarts=2, chunk_size=5)   # chunks split targets
    a = gibbs_enum(s2s, tgt, cfg, lm=lm, io=io)
    b = gibbs_enum_reference(s2s, tgt, cfg, lm=lm, io=io)
    assert torch.equal(a.triggers, b.triggers)
    assert torch.allclose(a.loss, b.loss, atol=1e-5)


@pytest.mark.parametrize("pos", [0, 7, 13])
def test_prefix_reuse_matches_full_forward(toy, pos):
    vocab, s2s, lm, _, _ = toy
    gen = torch.Generator().manual_seed(3)
    x = close_with_eou(torch.randint(EOU_ID + 1, len(vocab), (3, 14), generator=gen))
    x[0, 3] = UNK                                                   # <unk> may be searched into a trigger
    tgt = encode_sentences([["hate", "you"], ["r1"], ["r2", "r3", "r4"]], vocab, max_len=20)[:, :4]
    cand = torch.randint(EOU_ID + 1, len(vocab), (3, 5), generator=gen)   # never <eou> (NOT_SEARCHED)
    fast = _candidate_losses(s2s, lm, x, tgt, 1.0, pos, cand, chunk_size=4)
    for g in range(5):
        x2 = x.clone()
        x2[:, pos] = cand[:, g]
        full, _ = trigger_loss(s2s, lm, x2, tgt, 1.0)
        assert torch.allclose(fast[:, g], full, atol=1e-5)


def test_deterministic_under_seed(toy):
    vocab, s2s, lm, _, _ = toy
    tgt = encode_sentences([["r1", "r2"], ["hate"]], vocab, max_len=20)
    cfg = GibbsConfig(sweeps=1, candidates=4, restarts=1)
    a, b = gibbs_enum(s2s, tgt, cfg, lm=lm, io=True), gibbs_enum(s2s, tgt, cfg, lm=lm, io=True)
    assert torch.equal(a.triggers, b.triggers) and torch.equal(a.loss, b.loss)
    c = gibbs_enum(s2s, tgt, GibbsConfig(sweeps=1, candidates=4, restarts=1, seed=2), lm=lm, io=True)
    assert not torch.equal(a.triggers, c.triggers)


def test_warm_start_and_stop_when_hit(toy):
    vocab, s2s, lm, _, _ = toy
    tgt = encode_sentences([["hate", "you"]], vocab, max_len=20)
    init = torch.full((1, 15), vocab.stoi["a1"])
    init[0, -2] = vocab.stoi["p"]                                  # already a trigger
    init[0, -1] = EOU_ID
    calls = []

    def stop(x, y):
        calls.append(1)
        return hits(s2s, lm, x, y, "o_greedy", Thresholds(0, 0))
    res = gibbs_enum(s2s, tgt, GibbsConfig(stop_when_hit=True, restarts=3), init=init, stop_when=stop)
    assert torch.equal(res.triggers, init)                         # stopped before any change
    assert hits(s2s, lm, res.triggers, tgt, "o_greedy", Thresholds(0, 0)).item()


def test_projected_logprobs_are_bitwise_nn_linear_log_softmax():
    """The candidate scorer's mm + in-place bias equals nn.Linear + log_softmax bit for bit,
    so the batched search and the one-candidate loop still choose the same tokens."""
    torch.manual_seed(3)
    out = torch.nn.Linear(32, 500)
    h, tok = torch.randn(300, 32), torch.randint(0, 500, (300,))    # 300 rows: three blocks
    ref = torch.log_softmax(out(h), -1).gather(1, tok.unsqueeze(1)).squeeze(1)
    with torch.no_grad():
        assert torch.equal(_project_logprobs(out, h, tok), ref.detach())


@pytest.mark.parametrize("lambda_in", [0.0, 1.0])
def test_onehot_gradient_equals_autograd_through_the_onehot_input(toy, lambda_in):
    """eq. 10 through the embeddings = autograd of eq. 7 w.r.t. a (B, n, V) one-hot input."""
    vocab, s2s, lm, pairs, _ = toy
    x, tgt = pairs.src[:5], pairs.tgt[:5]
    onehot = torch.nn.functional.one_hot(x, len(vocab)).float().requires_grad_(True)
    lp = s2s.token_logprobs(None, tgt, src_onehot=onehot)
    # the LM scores the closing <eou> as <eos>: the same inputs, only the last scored token differs
    onehot_lm = torch.nn.functional.one_hot(lm_view(x), len(vocab)).float().requires_grad_(True)
    neg_loss = lp.sum(1) / (tgt != PAD).sum(1) + lambda_in * lm.onehot_logprobs(onehot_lm).mean(1)
    g_s2s, g_lm = torch.autograd.grad(neg_loss.sum(), [onehot, onehot_lm])
    full = g_s2s + g_lm
    for pos in (0, 7, 13):
        got = onehot_gradient(s2s, lm, x, tgt, lambda_in, pos)
        assert torch.allclose(got, full[:, pos], atol=1e-5), pos


@pytest.mark.parametrize("io", [False, True])
def test_trigger_ends_in_eou_which_the_search_never_moves(toy, io):
    """A trigger has the form of a training source: 14 searched tokens, <unk> allowed, then <eou>."""
    vocab = toy[0]
    torch.manual_seed(7)
    cfg_m = ModelConfig(emb=16, hidden=32, dropout=0.0)
    s2s, lm = Seq2Seq(len(vocab), cfg_m).eval(), LSTMLM(len(vocab), cfg_m).eval()
    assert vocab.itos[EOU_ID] == EOU
    tgt = encode_sentences([["hate", "you"], ["r1", "r2"], ["a3"]], vocab, max_len=20)
    res = gibbs_enum(s2s, tgt, GibbsConfig(sweeps=2, candidates=len(vocab), restarts=2), lm=lm, io=io)
    assert (res.triggers[:, -1] == EOU_ID).all()
    assert not torch.isin(res.triggers[:, :-1], torch.tensor([PAD, EOS, EOU_ID, 2])).any()
    # every token but <pad>, <bos>, <eos>, <eou> is a candidate: <unk> included
    cand = _top_candidates(s2s, lm, res.triggers, trim_t(tgt), 1.0 if io else 0.0, 3, len(vocab) - 4)
    assert (cand == UNK).any(1).all() and not torch.isin(cand, torch.tensor([PAD, 2, EOS, EOU_ID])).any()
    # a warm start must already have the trigger form
    bad = torch.full((3, 15), vocab.stoi["a1"])
    with pytest.raises(ValueError, match="closed by <eou>"):
        gibbs_enum(s2s, tgt, GibbsConfig(sweeps=1, candidates=2, restarts=1), lm=lm, io=io, init=bad)


def trim_t(t):
    from ntlib.data.dataset import trim
    return trim(t)


def test_start_points_drawn_once_and_searched_in_blocks_give_the_one_search(toy):
    """Issue 31's sharded Algorithm 1: a batch's start points drawn once (draw_starts), its rows searched in two
    blocks from their own, give the one search's triggers; starts of the wrong count or form are refused."""
    from ntlib.methods.triggers import draw_starts
    vocab, s2s = toy[0], toy[1]
    tgt = encode_sentences([["hate", "you"], ["r1", "r2"], ["a3"], ["r4", "r1"]], vocab, max_len=20)
    cfg = GibbsConfig(sweeps=2, candidates=6, restarts=2)
    one = gibbs_enum(s2s, tgt, cfg, generator=torch.Generator().manual_seed(3))
    starts = draw_starts(s2s, None, False, 4, cfg, torch.Generator().manual_seed(3))
    blocks = [gibbs_enum(s2s, tgt[b:b + 2], cfg, starts=[s[b:b + 2] for s in starts]).triggers for b in (0, 2)]
    assert torch.equal(torch.cat(blocks), one.triggers)
    with pytest.raises(ValueError, match="restarts = 2 start points, got 1"):
        gibbs_enum(s2s, tgt, cfg, starts=starts[:1])
    with pytest.raises(ValueError, match="each of starts must be"):
        gibbs_enum(s2s, tgt, cfg, starts=[s[:, :-1] for s in starts])
