"""gibbs-enum with all restarts in lock-step (issue 31) returns the triggers of the search before it.

``gibbs_enum_before`` and ``onehot_gradient_before`` are ntlib.methods.gibbs_enum's ``gibbs_enum`` and
``onehot_gradient`` as of commit f89a443 (restarts one after another, the gradient in eval mode
with cuDNN off), kept here verbatim but for names and comments; the candidate scorer
(``_candidate_losses``) is unchanged on the CPU. Exact equality throughout: on this CPU (AVX2
pinned by ``import ntlib``) a row's float result can depend on the other rows of its batch (the
LSTM backward by the row's position; matmuls by the row count below 4), so the comparisons are
of bits, not tolerances.
"""
import pytest
import torch
import torch.nn.functional as F
from toys import train_toy  # the planted toy model (tests/ is on sys.path)

from ntlib.data.dataset import BOS, encode_sentences, trim
from ntlib.machine.device import autocast, model_device
from ntlib.methods.gibbs_enum import (
    CUDA_CHUNK_ROWS,
    _candidate_losses,
    _passes,
    _target_mean,
    chunk_rows,
    gibbs_enum,
    lstms_in_train_mode,
    onehot_gradient,
    trigger_loss,
)
from ntlib.methods.hits import Thresholds, hits
from ntlib.methods.models import LSTMLM, Seq2Seq, eval_mode
from ntlib.methods.triggers import NOT_SEARCHED, draw_starts, lm_view, random_triggers
from ntlib.run.config import GibbsConfig, ModelConfig

torch.set_num_threads(1)


# -- the search as of f89a443 ------------------------------------------------------------
def onehot_gradient_before(seq2seq, lm, x, tgt, lambda_in, pos):
    def differentiable(t):
        return t if t.requires_grad else t.detach().requires_grad_(True)
    with torch.enable_grad(), torch.backends.cudnn.flags(enabled=False):
        e = differentiable(seq2seq.src_embedding(x))
        neg_loss = _target_mean(seq2seq.token_logprobs(None, tgt, src_emb=e), tgt)
        inputs = [e]
        if lambda_in:
            bos = lm.embedding.weight[BOS].expand(x.shape[0], 1, -1)
            e_lm = differentiable(torch.cat([bos, lm.embedding(x[:, :-1])], 1))
            lsm = F.log_softmax(lm(None, inp_emb=e_lm)[0], -1)
            lm_mean = lsm.gather(-1, lm_view(x).unsqueeze(-1)).squeeze(-1).mean(1)
            neg_loss = neg_loss + lambda_in * lm_mean
            inputs.append(e_lm)
        grads = torch.autograd.grad(neg_loss.sum(), inputs)
    g = grads[0][:, pos] @ seq2seq.src_embedding.weight.detach().t()
    if lambda_in:
        n = x.shape[1]
        g = g + lambda_in / n * lsm[:, pos].detach()
        if pos + 1 < n:
            g = g + grads[1][:, pos + 1] @ lm.embedding.weight.detach().t()
    return g


def top_candidates_before(seq2seq, lm, x, tgt, lambda_in, pos, G):
    g = onehot_gradient_before(seq2seq, lm, x, tgt, lambda_in, pos)
    g[:, list(NOT_SEARCHED)] = float("-inf")
    return g.topk(min(G, g.shape[1] - len(NOT_SEARCHED)), dim=1).indices


def gibbs_enum_before(seq2seq, targets, cfg, lm=None, io=False, init=None, generator=None, stop_when=None,
                      bf16=False):
    generator = generator or torch.Generator().manual_seed(cfg.seed)
    lam = cfg.lambda_in if io else 0.0
    dev = model_device(seq2seq)
    targets = targets.to(dev)
    tgt, B, n = trim(targets), targets.shape[0], cfg.input_len
    best_x, best_loss = None, torch.full((B,), float("inf"), device=dev)
    done = torch.zeros(B, dtype=torch.bool, device=dev)
    with eval_mode(seq2seq, lm), autocast(dev, bf16):
        starts = draw_starts(seq2seq, lm, io, B, cfg, generator, init)
        for r in range(cfg.restarts):
            x = starts[r]
            cur = trigger_loss(seq2seq, lm, x, tgt, lam)[0].float()
            if best_x is None:
                best_x = x.clone()
            skip = done.clone()
            active = ~skip
            if cfg.stop_when_hit and stop_when is not None:
                active &= ~stop_when(x, targets)
            for _ in range(cfg.sweeps):
                improved = torch.zeros(B, dtype=torch.bool, device=dev)
                for pos in range(n - 1):
                    rows = active.nonzero().squeeze(1)
                    if len(rows) == 0:
                        continue
                    xs, ts = x[rows], tgt[rows]
                    cand = top_candidates_before(seq2seq, lm, xs, ts, lam, pos, cfg.candidates)
                    losses = _candidate_losses(seq2seq, lm, xs, ts, lam, pos, cand, cfg.chunk_size)
                    low, j = losses.min(1)
                    better = low < cur[rows]
                    acc = rows[better]
                    x[acc, pos] = cand[better, j[better]]
                    cur[acc] = low[better]
                    improved[acc] = True
                active &= improved
                if cfg.stop_when_hit and stop_when is not None:
                    active &= ~stop_when(x, targets)
                if not active.any():
                    break
            keep = (cur < best_loss) & ~skip
            best_x[keep], best_loss[keep] = x[keep], cur[keep]
            if cfg.stop_when_hit and stop_when is not None:
                done |= stop_when(best_x, targets)
    with eval_mode(seq2seq, lm):
        loss, lp = trigger_loss(seq2seq, lm, best_x, tgt, lam)
    return best_x, loss, lp


# -- models ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def toy():
    return train_toy()


def random_models(vocab_size, seed=5, dropout=0.0):
    torch.manual_seed(seed)
    cfg = ModelConfig(emb=16, hidden=32, dropout=dropout)
    return Seq2Seq(vocab_size, cfg).eval(), LSTMLM(vocab_size, cfg).eval()


TARGETS = [["hate", "you"], ["r1", "r2"], ["r7"], ["a1", "you", "r0"], ["p", "r3", "a2", "r5", "you"]]


def same_search(new, old, gen_new, gen_old):
    x, loss, lp = old
    assert torch.equal(new.triggers, x)
    assert torch.equal(new.loss, loss) and torch.equal(new.logprobs, lp)
    assert torch.equal(gen_new.get_state(), gen_old.get_state())     # Algorithm 1 draws from it next


@pytest.mark.parametrize("io", [False, True])
@pytest.mark.parametrize("restarts", [1, 3])
@pytest.mark.parametrize("per_restart", [True, False])
@pytest.mark.parametrize("warm", [False, True])
def test_lockstep_restarts_return_the_triggers_of_restarts_one_after_another(toy, io, restarts, per_restart, warm):
    """Random weights (few ties) and the trained toy model (candidates tied to the last bits)."""
    vocab = toy[0]
    tgt = encode_sentences(TARGETS, vocab, max_len=20)
    # 7-row chunks split targets and, with per_restart=False, restarts
    cfg = GibbsConfig(sweeps=2, candidates=6, restarts=restarts, chunk_size=7, seed=3)
    for s2s, lm in (random_models(len(vocab)), toy[1:3]):
        init = random_triggers(len(tgt), 15, len(vocab), torch.Generator().manual_seed(9)) if warm else None
        g_new, g_old = torch.Generator().manual_seed(4), torch.Generator().manual_seed(4)
        new = gibbs_enum(s2s, tgt, cfg, lm=lm, io=io, init=init, generator=g_new, per_restart=per_restart)
        same_search(new, gibbs_enum_before(s2s, tgt, cfg, lm=lm, io=io, init=init, generator=g_old), g_new, g_old)


@pytest.mark.parametrize("io", [False, True])
def test_one_pass_for_all_restarts_and_targets(toy, io):
    """The GPU layout on the CPU: every active row of every restart in one gradient pass and one scoring
    pass (G = 10 candidates × 5 targets × 4 restarts = 200 rows ≤ the chunk)."""
    vocab = toy[0]
    s2s, lm = random_models(len(vocab), seed=11)
    tgt = encode_sentences(TARGETS, vocab, max_len=20)
    cfg = GibbsConfig(sweeps=3, candidates=10, restarts=4, seed=2)
    g_new, g_old = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    new = gibbs_enum(s2s, tgt, cfg, lm=lm, io=io, generator=g_new, per_restart=False, chunk_size=1000)
    same_search(new, gibbs_enum_before(s2s, tgt, cfg, lm=lm, io=io, generator=g_old), g_new, g_old)


@pytest.mark.parametrize("per_restart", [True, False])
def test_stop_when_hit_runs_no_restart_after_a_hit(toy, per_restart):
    """Algorithm 1's ablation: a target hit by an earlier restart runs no later one, as before; the
    hit check is called as often and on the same triggers."""
    vocab, s2s, lm, _, _ = toy
    tgt = encode_sentences([["hate", "you"], ["r3", "r5"], ["r1"], ["hate"], ["a1", "you"]], vocab, max_len=20)
    cfg = GibbsConfig(sweeps=2, candidates=5, restarts=3, stop_when_hit=True, chunk_size=9)
    calls = {"new": [], "old": []}

    def stop(key):
        def check(x, y):
            calls[key].append(x.clone())
            return hits(s2s, lm, x, y, "o_greedy", Thresholds(0, 0))
        return check
    g_new, g_old = torch.Generator().manual_seed(6), torch.Generator().manual_seed(6)
    new = gibbs_enum(s2s, tgt, cfg, lm=lm, generator=g_new, stop_when=stop("new"), per_restart=per_restart)
    old = gibbs_enum_before(s2s, tgt, cfg, lm=lm, generator=g_old, stop_when=stop("old"))
    same_search(new, old, g_new, g_old)
    assert len(calls["new"]) == len(calls["old"]) > 3
    assert all(torch.equal(a, b) for a, b in zip(calls["new"], calls["old"]))
    found = hits(s2s, lm, new.triggers, tgt, "o_greedy", Thresholds(0, 0))
    assert 0 < int(found.sum()) < len(tgt)          # some targets hit, some not: both branches ran


@pytest.mark.parametrize("lambda_in", [0.0, 1.0])
def test_gradient_with_the_lstms_in_train_mode_is_the_eval_mode_gradient(toy, lambda_in):
    """cuDNN's path (LSTMs in train mode) gives the bits of the eval-mode gradient on the CPU; dropout
    0.3 shows the dropout modules stay in eval mode, and every module's mode is restored."""
    vocab = toy[0]
    s2s, lm = random_models(len(vocab), seed=2, dropout=0.3)
    x = random_triggers(6, 15, len(vocab), torch.Generator().manual_seed(0))
    tgt = trim(encode_sentences(TARGETS + [["you"]], vocab, max_len=20))
    for pos in (0, 6, 13):
        assert torch.equal(onehot_gradient(s2s, lm, x, tgt, lambda_in, pos),
                           onehot_gradient_before(s2s, lm, x, tgt, lambda_in, pos))
    assert not any(m.training for m in list(s2s.modules()) + list(lm.modules()))
    s2s.train()
    with lstms_in_train_mode(s2s, lm):
        assert s2s.encoder.training and lm.lstm.training and not lm.drop.training and s2s.drop.training
    assert s2s.encoder.training and not lm.lstm.training      # restored: s2s was in train mode
    with pytest.raises(ValueError, match="dropout between its layers"):
        with lstms_in_train_mode(torch.nn.LSTM(4, 4, num_layers=2, dropout=0.1)):
            pass


def test_bf16_search_accepts_only_fp32_improvements(toy):
    """bf16 ranks the candidates; each position's winner is re-scored in fp32 and taken only if it lowers
    the fp32 loss: the returned (fp32) loss never exceeds the start's."""
    vocab = toy[0]
    s2s, lm = random_models(len(vocab), seed=8)
    tgt = encode_sentences(TARGETS, vocab, max_len=20)
    init = random_triggers(len(tgt), 15, len(vocab), torch.Generator().manual_seed(3))
    for io in (False, True):
        res = gibbs_enum(s2s, tgt, GibbsConfig(sweeps=2, candidates=8, restarts=1), lm=lm, io=io, init=init,
                         bf16=True)
        start, _ = trigger_loss(s2s, lm, init, trim(tgt), 1.0 if io else 0.0)
        assert (res.loss <= start).all() and (res.loss < start).any()
        assert res.loss.dtype == torch.float32


def test_passes_and_chunk_rows():
    rows = torch.tensor([0, 3, 4, 5, 9, 13])                          # B = 5: restarts 0, 0, 0, 1, 1, 2
    assert _passes(rows, 5, True) == [slice(0, 3), slice(3, 5), slice(5, 6)]
    assert _passes(rows, 5, False) == [slice(None)]
    cfg = GibbsConfig(chunk_size=96)
    assert chunk_rows(cfg, torch.device("cpu")) == 96
    assert chunk_rows(cfg, torch.device("cuda")) == CUDA_CHUNK_ROWS
