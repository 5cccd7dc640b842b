"""Trigger-input search (gibbs-enum, App. A, Algorithm 3).

``gibbs_enum`` finds, for a batch of targets ``y`` (``(B, T)``, ``y + <eos>``), trigger
inputs ``x`` of length n = 15 that minimise eq. 7. A trigger has the form of a training source:
n - 1 searched tokens (words or ``<unk>``) closed by ``<eou>``, which the search never moves
(the authors' code fixes the last of the 15 source tokens to ``<eou>``); the LM scores it as it saw
sentences, the closing ``<eou>`` as ``<eos>``. Eq. 7 is
``L(x; y) = -1/m Σ_t log P(y_t | y_<t, x) + λ_in R(x)``, ``R(x) = -1/n Σ_t log P_LM(x_t | x_<t)``.
Each position is updated from the G tokens with the largest gradient of -L w.r.t. the
one-hot input (eq. 10). The restarts of all targets run in lock-step, as rows of one batch: per
position one gradient pass and the G candidates of every row scored in passes of ``chunk_size``
rows that reuse the encoder / LM states of the unchanged prefix ``x_<t`` (on a GPU ~10⁵ rows, all
restarts together; on the CPU each restart's own passes, so the triggers are bit for bit those of
one restart at a time). The one-candidate-at-a-time loop of Algorithm 3 (``gibbs_enum_reference``)
returns the same triggers and is kept for the tests. The search asks the model and the LM only what
:mod:`ntlib.methods.adapter` names, so it runs on the LSTMs and on Hugging Face models alike (the LSTMs
score candidates with the prefix reuse above, other models by full forward passes). The hit criteria are
in ntlib.methods.hits.
Shown in notebooks/03_malicious.ipynb; timed in benchmarks/gibbs_enum.py.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable

import torch
from tqdm.auto import tqdm

from ntlib.data.dataset import PAD, trim
from ntlib.machine.device import autocast, model_device
from ntlib.methods.models import eval_mode
from ntlib.methods.models import project_logprobs as _project_logprobs  # noqa: F401 (tests)
from ntlib.methods.triggers import check_triggers, draw_starts, lm_view
from ntlib.run.config import GibbsConfig


@dataclass
class TriggerSearch:
    """Result of :func:`gibbs_enum` for B targets."""
    triggers: torch.Tensor      # (B, n) token ids, no padding
    loss: torch.Tensor          # (B,) L(x*; y), eq. 7
    logprobs: torch.Tensor      # (B, T) log P(y_t | y_<t, x*), 0 at PAD


# -- the objective, eq. 7 ---------------------------------------------------------------
def _target_mean(lp: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
    return lp.sum(1) / (tgt != PAD).sum(1).clamp(min=1)


def lm_trigger_logprobs(lm, x: torch.Tensor) -> torch.Tensor:
    """log P_LM(x_t | x_<t) ``(B, n)`` of a trigger (the terms of R(x), eq. 8); the closing <eou>
    is scored as the LM's <eos>, as the LM saw sentences (:meth:`ntlib.methods.adapter.SourceLM.trigger_logprobs`)."""
    return lm.trigger_logprobs(x)


@torch.no_grad()
def trigger_loss(seq2seq, lm, x: torch.Tensor, tgt: torch.Tensor, lambda_in: float):
    """L(x; y) ``(B,)`` (eq. 7) and log P(y_t | y_<t, x) ``(B, T)`` for id triggers."""
    lp = seq2seq.token_logprobs(x, tgt)
    loss = -_target_mean(lp, tgt)
    if lambda_in:
        loss = loss - lambda_in * lm_trigger_logprobs(lm, x).mean(1)
    return loss, lp


@contextlib.contextmanager
def lstms_in_train_mode(*models):
    """The ``nn.LSTM`` modules of ``models`` in train mode inside the block, every other module as it is.

    cuDNN differentiates an LSTM only in train mode (App. A's eq. 10 gradient on a GPU). Train mode
    changes an LSTM's result only through its dropout between layers, so one-layer LSTMs (ntlib's;
    their dropout is the separate ``drop`` module, left in eval mode) or dropout 0 are required.
    The modes are restored after the block.
    """
    lstms = [m for model in models if model is not None for m in model.modules() if isinstance(m, torch.nn.LSTM)]
    for m in lstms:
        if m.num_layers > 1 and m.dropout > 0:
            raise ValueError(f"lstms_in_train_mode: {m} would apply dropout between its layers in train mode")
    modes = [m.training for m in lstms]
    for m in lstms:
        m.training = True           # the module itself: an LSTM has no submodules
    try:
        yield
    finally:
        for m, mode in zip(lstms, modes):
            m.training = mode


def onehot_gradient(seq2seq, lm, x, tgt, lambda_in, pos) -> torch.Tensor:
    """∂(-L)/∂x_pos ``(B, V)``: gradient of eq. 7's -L w.r.t. the one-hot input at ``pos`` (eq. 10).

    Computed through the embeddings instead of a (B, n, V) one-hot tensor: the one-hot row
    enters the model only as ``onehot @ W_src`` (``embedding_matrix()``, :mod:`ntlib.methods.adapter`),
    so its gradient is ``W_src ∂(-L)/∂e_pos``;
    in the LM it is both the input of step pos+1 (``W_lm ∂/∂e``) and the scored token of
    step pos (``log P_LM(· | x_<pos) / n``). Equal to autograd through the one-hot input (tested)
    at a fraction of the cost — it skips two (B·n × V × E) matmuls.
    """
    def differentiable(t):
        # keep the embedding a graph node when the weights require grad: module hooks (torch's
        # FlopCounterMode, used by the benchmark) reject leaf inputs under autograd.grad
        return t if t.requires_grad else t.detach().requires_grad_(True)

    # cuDNN's LSTM backward refuses eval mode ("can only be called in training mode"): the LSTM
    # modules alone go to train mode, which for one-layer LSTMs changes only the kernel (the same
    # bits on the CPU, tested); the dropout modules stay in eval mode
    with torch.enable_grad(), lstms_in_train_mode(seq2seq, lm):
        e = differentiable(seq2seq.source_embeddings(x))                         # (B, n, E)
        neg_loss = _target_mean(seq2seq.token_logprobs(None, tgt, src_emb=e), tgt)
        inputs = [e]
        if lambda_in:
            e_lm = differentiable(lm.trigger_input_embeddings(x))                 # (B, n, E)
            lsm = lm.logprobs_from_input_embeddings(e_lm)                        # (B, n, V)
            lm_mean = lsm.gather(-1, lm_view(x).unsqueeze(-1)).squeeze(-1).mean(1)
            neg_loss = neg_loss + lambda_in * lm_mean
            inputs.append(e_lm)
        grads = torch.autograd.grad(neg_loss.sum(), inputs)
    g = grads[0][:, pos] @ seq2seq.embedding_matrix().detach().t()              # (B, V)
    if lambda_in:
        n = x.shape[1]
        g = g + lambda_in / n * lsm[:, pos].detach()                             # scored token
        if pos + 1 < n:                                                          # next step's input
            g = g + grads[1][:, pos + 1] @ lm.embedding_matrix().detach().t()
    return g


def _top_candidates(seq2seq, lm, x, tgt, lambda_in, pos, G) -> torch.Tensor:
    """The G searchable tokens (``seq2seq.searchable()``) with the largest ∂(-L)/∂x_pos (eq. 10), ``(B, G)``."""
    g = onehot_gradient(seq2seq, lm, x, tgt, lambda_in, pos)
    ok = seq2seq.searchable()                                                    # (V,)
    g = g.masked_fill(~ok, float("-inf"))
    return g.topk(min(G, int(ok.sum())), dim=1).indices      # G ≥ V: every searchable token


CUDA_CHUNK_ROWS = 65_536   # candidate rows per pass on a GPU (issue 31: ~10⁵; GibbsConfig.chunk_size is the CPU's)


def chunk_rows(cfg: GibbsConfig, device: torch.device) -> int:
    """Candidate rows per pass of :func:`gibbs_enum` on ``device``: ``cfg.chunk_size`` on the CPU,
    :data:`CUDA_CHUNK_ROWS` on a GPU."""
    return CUDA_CHUNK_ROWS if torch.device(device).type == "cuda" else cfg.chunk_size


@torch.no_grad()
def _candidate_losses(seq2seq, lm, x, tgt, lambda_in, pos, cand, chunk_size) -> torch.Tensor:
    """L(concat(x_<pos, c, x_>pos); y) (eq. 7) for every candidate c ``(B, G)``, in passes of ``chunk_size``
    rows: the model's :meth:`~ntlib.methods.adapter.DialogueModel.candidate_losses` (the LSTMs reuse the
    states of the shared prefix x_<pos) and, for io- searches, the LM's ``candidate_logprob_sums``."""
    B, n = x.shape
    loss = seq2seq.candidate_losses(x, tgt, pos, cand, chunk_size)          # (B·G,)
    if lambda_in:
        loss = loss - lambda_in * lm.candidate_logprob_sums(x, pos, cand, chunk_size) / n
    return loss.view(B, cand.shape[1])


# -- Algorithm 3 ------------------------------------------------------------------------
def _fp32_loss(seq2seq, lm, x, tgt, lam) -> torch.Tensor:
    """L(x; y) ``(rows,)`` (eq. 7) in fp32, also inside bf16 autocast: the loss a search compares."""
    with torch.autocast(model_device(seq2seq).type, enabled=False):
        return trigger_loss(seq2seq, lm, x, tgt, lam)[0].float()


def _passes(rows: torch.Tensor, B: int, per_restart: bool) -> list[slice]:
    """The gradient / scoring passes over the active ``rows`` (ascending, row k = restart k // B):
    one per restart that has active rows, or all of them in one."""
    if not per_restart:
        return [slice(None)]
    counts = torch.unique_consecutive(rows // B, return_counts=True)[1].tolist()
    ends = [sum(counts[:i + 1]) for i in range(len(counts))]
    return [slice(e - c, e) for c, e in zip(counts, ends)]


def _sweeps(seq2seq, lm, tgt, x, cur, active, lam, cfg, chunk, per_restart, bf16, bar, stop=None):
    """Algorithm 3's sweeps for the rows ``x`` ``(K, n)`` in lock-step; row k searches target k mod B.

    Updates ``x`` and their losses ``cur`` ``(K,)`` in place. Each position step takes the G
    candidates of every active row from the eq. 10 gradient and accepts a row's best candidate if it
    lowers eq. 7 strictly (the first of equal minima, as the sequential loop); a row leaves after a
    sweep without improvement, or when ``stop(x)`` says it is hit. ``bf16``: gradients and candidate
    scores under bf16 autocast, and the winner of each row re-scored in fp32 before it is compared.
    """
    B, n, dev = tgt.shape[0], x.shape[1], x.device
    target = torch.arange(len(x), device=dev) % B
    for _ in range(cfg.sweeps):
        improved = torch.zeros_like(active)
        for pos in range(n - 1):                    # the closing <eou> is never moved
            bar.update(1)
            rows = active.nonzero().squeeze(1)
            if len(rows) == 0:
                continue
            xs, ts = x[rows], tgt[target[rows]]
            parts = _passes(rows, B, per_restart)
            with autocast(dev, bf16):
                cand = torch.cat([_top_candidates(seq2seq, lm, xs[p], ts[p], lam, pos, cfg.candidates)
                                  for p in parts])                                    # (rows, G)
                losses = torch.cat([_candidate_losses(seq2seq, lm, xs[p], ts[p], lam, pos, cand[p], chunk)
                                    for p in parts])
            low, j = losses.min(1)                  # first minimum = the sequential choice
            if bf16:
                xs[:, pos] = cand.gather(1, j.unsqueeze(1)).squeeze(1)
                low = _fp32_loss(seq2seq, lm, xs, ts, lam)
            better = low < cur[rows]
            acc = rows[better]
            x[acc, pos] = cand[better, j[better]]
            cur[acc] = low[better]
            improved[acc] = True
        active &= improved                          # a sweep without improvement ends it
        if stop is not None:
            active &= ~stop(x)
        if not active.any():
            break


def gibbs_enum(seq2seq, targets: torch.Tensor, cfg: GibbsConfig, lm=None, io: bool = False,
               init: torch.Tensor | None = None, generator: torch.Generator | None = None,
               stop_when: Callable | None = None, progress: bool = False,
               bf16: bool = False, chunk_size: int | None = None,
               per_restart: bool | None = None, starts: list[torch.Tensor] | None = None) -> TriggerSearch:
    """Batched gibbs-enum (App. A, Algorithm 3) for targets ``(B, T)``, all restarts in lock-step.

    io=True searches for io- hits (λ_in = cfg.lambda_in, LM-sample start), else o- hits
    (λ_in = 0, random start). ``init`` ``(B, n)`` warm-starts the first restart (Alg. 1). The
    ``cfg.restarts`` start points of every target (:func:`draw_starts`) are searched as B·restarts
    rows at once and each target keeps the first restart with the lowest loss. With
    ``cfg.stop_when_hit``, a target stops as soon as ``stop_when(x, targets)`` is True, and runs no
    later restart once hit — so there the restarts run one after another (Alg. 1 ablation).
    Runs on the seq2seq's device (targets and ``init`` are moved there; start points are drawn
    from the CPU ``generator``); the result lives there too. ``bf16``: gradients and candidate
    scores under bf16 autocast, each position's winner re-scored in fp32 (the returned loss and
    log-probs are fp32). ``chunk_size``: candidate rows per pass (None: :func:`chunk_rows`).
    ``per_restart``: a pass holds one restart's rows (None: on the CPU, where a row's float result
    depends on the rows batched with it, so the triggers are bit for bit those of restarts searched
    one after another; on a GPU all restarts share each pass).
    ``starts``: the ``cfg.restarts`` start points ``(B, n)``, drawn already by :func:`draw_starts` (then
    ``generator`` and ``init`` are not used): a batch's starts drawn once and its rows searched in blocks
    give each block the triggers that block would get inside the whole batch's search, up to float batching
    (Algorithm 1 sharded over ranks, :mod:`ntlib.machine.distributed`).
    """
    if io and lm is None:
        raise ValueError("io- hit types need the LM (lambda_in > 0, eq. 8)")
    generator = generator or torch.Generator().manual_seed(cfg.seed)
    lam = cfg.lambda_in if io else 0.0
    dev = model_device(seq2seq)
    targets = targets.to(dev)
    tgt, B, n, R = trim(targets), targets.shape[0], cfg.input_len, cfg.restarts
    if init is not None:
        check_triggers(init, B, n, "gibbs_enum: init")
    if starts is not None:
        if len(starts) != R:
            raise ValueError(f"gibbs_enum: starts must hold GibbsConfig.restarts = {R} start points, got {len(starts)}")
        for s in starts:
            check_triggers(s, B, n, "gibbs_enum: each of starts")
    if B == 0:
        return TriggerSearch(torch.zeros(0, n, dtype=torch.long, device=dev), torch.zeros(0, device=dev),
                             torch.zeros(0, 1, device=dev))
    chunk = chunk_size or chunk_rows(cfg, dev)
    per_restart = dev.type != "cuda" if per_restart is None else per_restart
    stop = stop_when if cfg.stop_when_hit else None
    steps = (R if stop is not None else 1) * cfg.sweeps * (n - 1)
    best_x, best_loss = None, torch.full((B,), float("inf"), device=dev)
    with eval_mode(seq2seq, lm), tqdm(total=steps, desc="gibbs-enum", leave=False, disable=not progress) as bar:
        if starts is None:
            with autocast(dev, bf16):
                starts = draw_starts(seq2seq, lm, io, B, cfg, generator, init)
        else:
            starts = [s.to(dev, copy=True) for s in starts]
        if stop is None:                            # B·R rows, restart-major: row k is restart k // B
            x = torch.cat(starts)
            cur = torch.cat([_fp32_loss(seq2seq, lm, s, tgt, lam) for s in starts])
            _sweeps(seq2seq, lm, tgt, x, cur, torch.ones(B * R, dtype=torch.bool, device=dev), lam, cfg, chunk,
                    per_restart, bf16, bar)
            best_x = starts[0].clone()
            for r in range(R):                      # the first restart with the lowest loss
                keep = cur[r * B:(r + 1) * B] < best_loss
                best_x[keep], best_loss[keep] = x[r * B:(r + 1) * B][keep], cur[r * B:(r + 1) * B][keep]
        else:
            done = torch.zeros(B, dtype=torch.bool, device=dev)
            for r in range(R):
                x = starts[r]
                cur = _fp32_loss(seq2seq, lm, x, tgt, lam)
                if best_x is None:
                    best_x = x.clone()
                skip = done.clone()                 # already hit in an earlier restart
                _sweeps(seq2seq, lm, tgt, x, cur, ~skip & ~stop(x, targets), lam, cfg, chunk, per_restart, bf16,
                        bar, stop=lambda x: stop(x, targets))
                keep = (cur < best_loss) & ~skip
                best_x[keep], best_loss[keep] = x[keep], cur[keep]
                done |= stop(best_x, targets)
    with eval_mode(seq2seq, lm):
        loss, lp = trigger_loss(seq2seq, lm, best_x, tgt, lam)
    return TriggerSearch(best_x, loss, lp)


def gibbs_enum_reference(seq2seq, targets: torch.Tensor, cfg: GibbsConfig, lm=None,
                         io: bool = False, init: torch.Tensor | None = None,
                         generator: torch.Generator | None = None) -> TriggerSearch:
    """Algorithm 3 as written: one target and one candidate forward pass at a time.

    Same start points, candidate order and strict-improvement rule as :func:`gibbs_enum`,
    so it accepts the same sequence of candidates (benchmark and test reference).
    """
    generator = generator or torch.Generator().manual_seed(cfg.seed)
    lam = cfg.lambda_in if io else 0.0
    targets = targets.to(model_device(seq2seq))
    B, n = targets.shape[0], cfg.input_len
    starts = draw_starts(seq2seq, lm, io, B, cfg, generator, init)
    with eval_mode(seq2seq, lm):
        out_x = []
        for b in range(B):
            y = trim(targets[b:b + 1])
            best_x, best = None, float("inf")
            for r in range(cfg.restarts):
                x = starts[r][b:b + 1].clone()
                cur = float(trigger_loss(seq2seq, lm, x, y, lam)[0])
                for _ in range(cfg.sweeps):
                    improved = False
                    for pos in range(n - 1):
                        cand = _top_candidates(seq2seq, lm, x, y, lam, pos, cfg.candidates)[0]
                        for c in cand.tolist():
                            x2 = x.clone()
                            x2[0, pos] = c
                            loss = float(trigger_loss(seq2seq, lm, x2, y, lam)[0])
                            if loss < cur:
                                x, cur, improved = x2, loss, True
                    if not improved:
                        break
                if best_x is None or cur < best:
                    best_x, best = x, cur
            out_x.append(best_x)
        x = torch.cat(out_x)
        loss, lp = trigger_loss(seq2seq, lm, x, trim(targets), lam)
    return TriggerSearch(x, loss, lp)
