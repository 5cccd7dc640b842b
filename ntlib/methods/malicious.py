"""Negative training for the malicious response problem (§3.2, Algorithm 1, §4.2) and its target lists.

``load_targets`` reads the authors' malicious target lists (``para_adv_lists/res_500``):
``train`` (0.5k), ``train_1k`` (+1 paraphrase copy), ``train_2.5k`` (+4 copies), ``test``
(0.5k held-out). ``negative_train`` runs Algorithm 1 as the authors ran it: every iteration a
new gibbs-enum search for each mini-batch of targets; while any target of the batch is hit, a
negative step on Σ w·log P(y_target | x_trigger) / (total tokens), w = 1 for hits and 0.01 for
misses, then a positive MLE step weighted λ_POS (eq. 4), two SGD optimisers with momentum 0.9
and weight decay 1e-5, frequent word avoiding (FWA, §4.2). The negative step's per-token term is
a registered negative loss (:mod:`ntlib.methods.negative_losses`, shared with Algorithm 2): the paper's
log-likelihood by default, token unlikelihood, CRINGE, NPO (against the frozen baseline) or SimNPO on
request (notebook 07).
Shown in notebooks/03_malicious.ipynb.
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from ntlib.data.dataset import PAD, PairTensors, Vocab, trim
from ntlib.machine.device import autocast, model_device
from ntlib.machine.sharding import gather, shard
from ntlib.methods.evaluate import seq2seq_nll
from ntlib.methods.gibbs_enum import gibbs_enum, lm_trigger_logprobs
from ntlib.methods.hits import Thresholds, criteria, hit_rate, hits
from ntlib.methods.models import eval_mode
from ntlib.methods.negative_losses import (
    frozen_reference,
    get_negative_loss,
    needs_reference,
    reduce,
    reference_logprobs,
    token_logprobs,
)
from ntlib.methods.train import negative_positive_optimisers, sgd_step
from ntlib.methods.triggers import check_triggers, draw_starts, is_io
from ntlib.run.config import GibbsConfig, MaliciousConfig, override


# -- losses -----------------------------------------------------------------------------
def fwa_ids(vocab: Vocab, words) -> torch.Tensor:
    """Ids of the frequent words whose negative gradient FWA removes (§4.2 footnote 9)."""
    return torch.tensor(sorted({vocab.stoi[w] for w in words if w in vocab.stoi}), dtype=torch.long)


def negative_loss(logits: torch.Tensor, tgt: torch.Tensor, avoid: torch.Tensor | None = None,
                  weights: torch.Tensor | None = None, loss: str = "nll", reference: torch.Tensor | None = None):
    """The authors' negative-step loss (``adv_train``): Σ_i w_i Σ_t m_it ℓ_it / Σ_i |y_i|.

    Minimised by the negative update (Alg. 1, eq. 3). logits (B, T, V), tgt (B, T); ``weights``
    (B,) is 1 for a hit target and ``miss_weight`` (0.01) for one no longer hit (None: all 1).
    m_it = 0 for tokens in ``avoid`` (FWA, §4.2) and PAD: they get no negative gradient; the divisor
    is the batch's total token count (<eos> included, FWA words too), as ``sum(adv_tgt_len)`` in the
    authors' code. ℓ is the per-token term of the registered negative loss ``loss``
    (:mod:`ntlib.methods.negative_losses`): "nll" — ℓ = log P(y_it | ·), the paper's and the authors' —,
    "unlikelihood", "cringe", "npo" (``reference``: the frozen baseline's log-probabilities of ``tgt``,
    (B, T)) or "simnpo"; Algorithm 2 uses the same functions with its own weights.
    """
    fn = get_negative_loss(loss, where="malicious negative loss")
    w, n_tokens, weights = _negative_weights(tgt, avoid, weights, logits.device)
    kw = {} if reference is None else {"reference": reference}
    return fn(logits, tgt, w, weights, **kw) / max(1, n_tokens)


def nll_negative_loss_from_logprobs(lp: torch.Tensor, tgt: torch.Tensor, avoid: torch.Tensor | None = None,
                                    weights: torch.Tensor | None = None) -> torch.Tensor:
    """:func:`negative_loss` with ``loss="nll"`` from the target tokens' log-probabilities ``lp``
    ``(B, T)`` (zero at PAD) instead of the logits: the same Σ_i w_i Σ_t m_it log P(y_it) / Σ_i |y_i|,
    so the negative step needs only the real target tokens projected (:func:`ntlib.methods.models.real_token_logprobs`)."""
    w, n_tokens, weights = _negative_weights(tgt, avoid, weights, lp.device)
    return reduce(lp, w, weights) / max(1, n_tokens)


def _negative_weights(tgt, avoid, weights, device):
    """Token mask m (PAD and FWA words 0), the batch's total token count, the row weights (None: 1)."""
    w = (tgt != PAD)
    n_tokens = int(w.sum())
    if avoid is not None and avoid.numel():
        w = w & ~torch.isin(tgt, avoid.to(tgt.device))
    if weights is None:
        weights = torch.ones(tgt.shape[0], device=device)
    return w, n_tokens, weights


_negative_step_loss = negative_loss       # negative_train's ``negative_loss`` argument names the loss


def teacher_forced_hits(lp: torch.Tensor, logits: torch.Tensor, tgt: torch.Tensor, hit_type: str,
                        thr: Thresholds, trigger_ok: torch.Tensor | None) -> torch.Tensor:
    """c(x, y) ``(B,)`` from one teacher-forced forward (the one the negative step uses, as the
    authors' ``get_decay_co``): sample- types by :func:`criteria`; o-greedy as every target
    token being the arg-max (the authors' ``max`` mode); io- types also need ``trigger_ok``."""
    if hit_type == "o_greedy":
        return ((logits.argmax(-1) == tgt) | (tgt == PAD)).all(1)
    ok = criteria(lp, tgt, hit_type.replace("io_", "o_"), thr)
    return ok & trigger_ok if trigger_ok is not None else ok


@dataclass
class NegTrainResult:
    """The negatively trained copy and the per-iteration history of Algorithm 1."""
    model: torch.nn.Module
    history: list[dict]
    triggers: torch.Tensor      # (N, n) last trigger of every target


def negative_train(seq2seq, lm, targets: torch.Tensor, train: PairTensors, thr: Thresholds,
                   hit_type: str, vocab: Vocab, cfg: MaliciousConfig, gcfg: GibbsConfig,
                   progress: bool = True, device: str | torch.device | None = None,
                   bf16: bool = False, negative_loss: str | None = None,
                   first_triggers: torch.Tensor | None = None, block: int | None = None,
                   ranks=None) -> NegTrainResult:
    """Algorithm 1 on a copy of ``seq2seq`` for targets ``(N, T)``; the original is untouched.

    Every iteration, every mini-batch of ``cfg.target_batch`` targets gets a new gibbs-enum
    search ("the gibbs-enum algorithm is called again to find a new trigger", §3.2): fresh
    random / LM-sample starts and full sweeps unless ``cfg.warm_start`` / ``gcfg.stop_when_hit``
    (ablation settings). Then, as the authors' ``adv_train``: one teacher-forced forward (train
    mode) decides which targets are still hit; while any is, a negative step on
    :func:`negative_loss` (hit weight 1, miss ``cfg.miss_weight``, FWA, / total tokens) and a
    positive step on the per-token NLL of ``cfg.pos_batch`` random training pairs weighted
    λ_POS (eq. 4), with two SGD optimisers (momentum, weight decay) made anew each iteration; at
    most ``cfg.max_neg_updates`` rounds. Unlike the authors' loop, a batch none of whose targets
    is hit gets no update (Algorithm 1: "while c(x, y) = 1"). With the paper's "nll" and a
    sample- hit type that forward projects only the real target tokens through W_o
    (:func:`nll_negative_loss_from_logprobs`; same loss and gradients as from the full logits).
    History entry per iteration: hit rate (Wilson interval) of that iteration's searches, in
    eval mode, before its updates, the per-target hits, the negative target updates and seconds.
    ``device``: where the copy trains (``None``: the seq2seq's device; the LM must be there);
    ``bf16``: gibbs-enum and the updates' forward passes under bf16 autocast.
    ``negative_loss``: the registered negative loss of the negative step (:mod:`ntlib.methods.negative_losses`;
    None: ``cfg.negative_loss``, by default "nll", the paper's).
    ``first_triggers`` ``(N, n)``: what gibbs-enum found for these targets on ``seq2seq`` with ``gcfg``
    and seed ``cfg.seed`` — the baseline's search of :func:`evaluate_hits` (notebook 03). Iteration 1
    searches the untouched copy with those settings, so for one mini-batch (N ≤ ``cfg.target_batch``)
    and full sweeps it would find exactly these triggers; they are taken instead of searching again,
    and the search's start points are still drawn, so all that follows is as without them (tested).
    ``block``: each mini-batch's search in blocks of ``block`` targets, its start points drawn once for the
    batch (:func:`search_batch`); None or ≥ ``cfg.target_batch``: one search per batch, as without it.
    ``ranks`` (a :class:`ntlib.machine.distributed.Ranks`): the blocks split across the ranks and their
    triggers gathered; every rank takes the same updates, then rank 0's weights, generator and counts are
    broadcast (:meth:`~ntlib.machine.distributed.Ranks.broadcast_state`), so a rank's float noise never
    carries over and the result does not depend on the number of ranks (tested on 2 CPU ranks).
    """
    loss_name = negative_loss if negative_loss is not None else cfg.negative_loss
    get_negative_loss(loss_name, where="malicious.negative_train(negative_loss=...)")   # fail before any work
    model = copy.deepcopy(seq2seq)
    if device is not None:
        model.to(device)
    dev = model_device(model)
    ref = frozen_reference(model) if needs_reference(loss_name) else None   # NPO's: the baseline, frozen
    torch.manual_seed(cfg.seed)         # dropout masks: a run does not depend on the runs before it
    gen = torch.Generator().manual_seed(cfg.seed)
    io = is_io(hit_type)
    gcfg = override(gcfg, lambda_in=gcfg.lambda_in if io else 0.0)
    avoid = fwa_ids(vocab, cfg.fwa_words).to(dev) if cfg.fwa else None
    targets = targets.to(dev)
    N = targets.shape[0]
    if first_triggers is not None:
        _check_first_triggers(first_triggers, N, cfg, gcfg)
        first_triggers = first_triggers.to(dev)
    prev = None
    history = []
    # the paper's nll with a sample- hit type needs only the target tokens' log-probabilities: project
    # the real tokens alone (same values; o_greedy's arg-max and the other losses need all the logits)
    real_only = loss_name == "nll" and hit_type != "o_greedy"

    def crit(x, y):
        return hits(model, lm, x, y, hit_type, thr)

    for it in tqdm(range(cfg.iterations), desc=f"neg-train {hit_type}", disable=not progress):
        t0, found, n_neg, rounds = time.time(), torch.zeros(N, dtype=torch.bool, device=dev), 0, 0
        opt_neg, opt_pos = negative_positive_optimisers(model, cfg)
        triggers = torch.empty(N, gcfg.input_len, dtype=torch.long, device=dev)
        for i in tqdm(range(0, N, cfg.target_batch), desc=f"iteration {it + 1}", leave=False,
                      disable=not progress):
            idx = torch.arange(i, min(N, i + cfg.target_batch), device=dev)
            y = targets[idx]
            if it == 0 and first_triggers is not None:      # this search was run already: draw its starts only
                with autocast(dev, bf16):
                    draw_starts(model, lm, io, len(idx), gcfg, gen)
                x = first_triggers[idx]
            else:
                x = search_batch(model, lm, y, gcfg, io, gen, crit if gcfg.stop_when_hit else None,
                                 prev[idx] if (cfg.warm_start and prev is not None) else None, bf16, block, ranks)
            yt = trim(y)
            triggers[idx], found[idx] = x, crit(x, y)
            trigger_ok, ref_lp = None, None
            if ref is not None:                           # the frozen baseline's log P(y | x): fixed in the loop
                with autocast(dev, bf16):
                    ref_lp = reference_logprobs(ref, x, yt)
            if io:
                with torch.no_grad(), eval_mode(lm):
                    trigger_ok = lm_trigger_logprobs(lm, x).mean(1) > thr.t_in     # fixed in the loop
            for _ in range(cfg.max_neg_updates):          # Alg. 1: while c(x, y) = 1
                model.train()
                with autocast(dev, bf16):
                    if real_only:                         # the log-probs are all the step needs
                        lp, logits = model.token_logprobs(x, yt).float(), None
                    else:
                        logits = model(x, yt)
                        lp = token_logprobs(logits.float(), yt)
                hit = teacher_forced_hits(lp.detach(), logits, yt, hit_type, thr, trigger_ok)
                if not hit.any():
                    break
                w = torch.where(hit, 1.0, cfg.miss_weight)
                loss = (nll_negative_loss_from_logprobs(lp, yt, avoid, w) if real_only
                        else _negative_step_loss(logits, yt, avoid, w, loss_name, ref_lp))
                sgd_step(model, opt_neg, loss, cfg.clip_norm)
                pos = torch.randint(len(train), (cfg.pos_batch,), generator=gen)
                with autocast(dev, bf16):
                    nll, n_tok = seq2seq_nll(model, train.src[pos], train.tgt[pos])   # Σ over the batch
                sgd_step(model, opt_pos, cfg.lambda_pos * nll / max(1, n_tok), cfg.clip_norm)
                n_neg += int(hit.sum())
                rounds += 1
            if ranks is not None:
                n_neg, rounds = ranks.broadcast_state(model, gen, (n_neg, rounds))
        model.eval()
        prev = triggers
        history.append({"iteration": it + 1, **hit_rate(found), "hits": found.int().tolist(),
                        "neg_updates": n_neg, "rounds": rounds, "seconds": time.time() - t0})
    model.eval()
    return NegTrainResult(model, history, triggers)


def search_batch(model, lm, y: torch.Tensor, gcfg: GibbsConfig, io: bool, gen: torch.Generator, stop_when=None,
                 init: torch.Tensor | None = None, bf16: bool = False, block: int | None = None,
                 ranks=None) -> torch.Tensor:
    """gibbs-enum's triggers ``(B, n)`` for one mini-batch of targets ``y`` ``(B, T)`` of Algorithm 1.

    Without ``block`` and ``ranks``: one search (:func:`gibbs_enum` drawing from ``gen``). Else the batch's
    start points are drawn from ``gen`` as that search draws them, and rows ``[b, b + block)`` are searched
    from their own — block ``b`` by rank ``(b / block) mod world`` — and gathered on every rank: the same
    triggers for any number of ranks, and for one block the one search's exactly."""
    if block is None and ranks is None:
        return gibbs_enum(model, y, gcfg, lm=lm, io=io, generator=gen, stop_when=stop_when, init=init,
                          bf16=bf16).triggers
    block = block or len(y)
    if block < 1:
        raise ValueError(f"negative_train: block must be ≥ 1 target, not {block}")
    dev = model_device(model)
    with autocast(dev, bf16):
        starts = draw_starts(model, lm, io, len(y), gcfg, gen, init)
    firsts = range(0, len(y), block)
    local = {i: gibbs_enum(model, y[firsts[i]:firsts[i] + block], gcfg, lm=lm, io=io, stop_when=stop_when, bf16=bf16,
                           starts=[s[firsts[i]:firsts[i] + block] for s in starts]).triggers.cpu()
             for i in shard(len(firsts), ranks)}
    return torch.cat(gather(local, ranks, len(firsts))).to(dev)


def _check_first_triggers(first: torch.Tensor, N: int, cfg: MaliciousConfig, gcfg: GibbsConfig) -> None:
    """``negative_train(first_triggers=...)`` stands in for iteration 1's one full search: refuse what it cannot be."""
    check_triggers(first, N, gcfg.input_len, "negative_train: first_triggers (one per target)")
    if N > cfg.target_batch:
        raise ValueError(f"negative_train: first_triggers stand for one search of all {N} targets, but iteration 1 "
                         f"searches mini-batches of MaliciousConfig.target_batch = {cfg.target_batch}")
    if gcfg.stop_when_hit:
        raise ValueError("negative_train: first_triggers are a full search's; GibbsConfig.stop_when_hit stops "
                         "iteration 1's search at the first hit instead")


EVALUATION_SEED_OFFSET = 1000     # the attacks that measure hit rates start from seed 1000 + the baseline's seed


def evaluation_seed(seed: int) -> int:
    """The gibbs-enum seed of the searches that *measure* hit rates — before and after Algorithm 1, the same
    for every model of one baseline — given the seed its training searches use: another seed, so an attack
    after training does not replay the random starts of the searches it was trained on (the authors draw
    fresh starts)."""
    return EVALUATION_SEED_OFFSET + seed


def evaluate_hits(seq2seq, lm, targets: torch.Tensor, thr: Thresholds, hit_types,
                  gcfg: GibbsConfig, progress: bool = False, bf16: bool = False) -> dict:
    """Hit rates (Wilson 95 %) of a model on a target list, one fresh gibbs-enum per search kind.

    o- types share one search (λ_in = 0, random start; o_greedy is checked on its
    triggers), io- types one with λ_in = 1 from LM samples (App. A). Same seed for every
    model, so baseline and negatively trained models face the same search.
    """
    out, searches = {}, {}
    for ht in hit_types:
        io = is_io(ht)
        if io not in searches:
            g = override(gcfg, lambda_in=gcfg.lambda_in if io else 0.0, stop_when_hit=False)
            searches[io] = gibbs_enum(seq2seq, targets, g, lm=lm, io=io, progress=progress, bf16=bf16)
        h = hits(seq2seq, lm, searches[io].triggers, targets, ht, thr)
        out[ht] = {**hit_rate(h), "hits": h, "triggers": searches[io].triggers}
    return out


def hit_record(r: dict) -> dict:
    """A hit-rate result of :func:`evaluate_hits` for a results JSON: per-target hits as 0/1, no triggers."""
    return {k: (v.int().tolist() if k == "hits" else v) for k, v in r.items() if k != "triggers"}


@torch.no_grad()
def per_word_nll(seq2seq, src: torch.Tensor, tgt: torch.Tensor, vocab: Vocab) -> list[tuple[str, float]]:
    """(word, -log P(word | ·)) along the rows of ``tgt`` given ``src``, <eos> included (App. D, Fig. 1)."""
    seq2seq.eval()
    dev = model_device(seq2seq)
    lp = seq2seq.token_logprobs(src.to(dev), trim(tgt).to(dev))
    out = []
    for row, l in zip(trim(tgt).tolist(), lp.tolist()):
        out += [(vocab.itos[i], -v) for i, v in zip(row, l) if i != PAD]
    return out
