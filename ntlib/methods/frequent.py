"""Negative training for the frequent response problem (He & Glass 2020, §3.3 Algorithm 2, §4.3).

For every training mini-batch the model greedy-decodes the inputs; the responses of the
last ``window`` mini-batches are counted in a :class:`ResponseWindow`, and a response
whose share of that window exceeds ``r_thres`` becomes a negative example. One SGD step
per mini-batch then minimises ``L_NEG + lambda_POS * L_MLE`` (eq. 4): the negative loss on
the flagged samples ``log P(y_sample | x_pos)`` (eq. 3) and the MLE loss on the batch's
references. The negative gradient of ``<eos>`` is scaled by ``eos_scale`` (§4.3, "frequent
word avoiding" for <EOS> only; footnote 10: 0 gives extremely short responses).

Negative losses are registered by name in :mod:`ntlib.methods.negative_losses` (the one interface
Algorithms 1 and 2 share), so alternatives (token-level unlikelihood, Welleck et al. 2020; CRINGE,
Adolphs et al. 2022; NPO, Zhang et al. 2024, against a frozen copy of the starting model; SimNPO, Fan et
al. 2024) run on the same detection loop; ``FrequentConfig.negative_loss`` selects one.
Shown in notebooks/04_frequent.ipynb; the losses compared in notebooks/07_negative_losses.ipynb.
"""
from __future__ import annotations

import copy
import math
from collections import Counter, deque
from collections.abc import Hashable, Iterable
from pathlib import Path

import torch
from tqdm.auto import tqdm

from ntlib.data.dataset import EOS, PAD, PairTensors, Vocab, iterate_batches, trim
from ntlib.machine.device import autocast, model_device
from ntlib.machine.provenance import code_digest
from ntlib.methods.decode import greedy, respond
from ntlib.methods.evaluate import seq2seq_nll, take
from ntlib.methods.negative_losses import frozen_reference, get_negative_loss, needs_reference, reference_logprobs
from ntlib.methods.train import load_checkpoint, load_model, negative_positive_optimisers, save_model, sgd_step
from ntlib.results.metrics import ent_n, max_ratio
from ntlib.run.config import FrequentConfig, config_hash


# -- Algorithm 2's token weights for the negative loss (ntlib.methods.negative_losses, re-exported above) --
def negative_weights(samples: torch.Tensor, flagged: torch.Tensor, eos_scale: float) -> torch.Tensor:
    """Per-token weights ``(B, T)``: 1, ``eos_scale`` at <eos> (§4.3), 0 at PAD and unflagged rows."""
    w = torch.ones(samples.shape, dtype=torch.float, device=samples.device)
    w = w.masked_fill(samples == EOS, eos_scale).masked_fill(samples == PAD, 0.0)
    return w * flagged.float().unsqueeze(1)


# -- detection window -----------------------------------------------------------------
class ResponseWindow:
    """Counts of responses over the last ``window`` mini-batches, the newest included (§3.3).

    Adding a batch to a full window forgets the oldest one (the authors' code keeps 200
    batches, the current one among them). ``ratio(r)`` = count(r) / responses in window.
    """

    def __init__(self, window: int):
        if window < 1:
            raise ValueError(f"FrequentConfig.window must be >= 1, got {window}")
        self.window = window
        self.batches: deque[list[Hashable]] = deque()
        self.counts: Counter = Counter()
        self.total = 0

    def __len__(self) -> int:
        return len(self.batches)

    @property
    def full(self) -> bool:
        return len(self.batches) == self.window

    def add(self, batch_responses: Iterable[Hashable]) -> None:
        """Count one mini-batch of responses, dropping the oldest batch when full."""
        batch = list(batch_responses)
        if self.full:
            old = self.batches.popleft()
            self.counts.subtract(old)
            self.total -= len(old)
            for r in set(old):
                if self.counts[r] <= 0:
                    del self.counts[r]
        self.batches.append(batch)
        self.counts.update(batch)
        self.total += len(batch)

    def ratio(self, response: Hashable) -> float:
        return self.counts.get(response, 0) / self.total if self.total else 0.0

    def most_common(self) -> tuple[Hashable, float]:
        """The most frequent response in the window and its ratio."""
        if not self.total:
            return None, 0.0
        r, c = self.counts.most_common(1)[0]
        return r, c / self.total


# -- Algorithm 2 ----------------------------------------------------------------------
def as_targets(ids: torch.Tensor) -> torch.Tensor:
    """Greedy outputs ``(B, L)`` as targets ``y + <eos>``: everything after the first <eos> → PAD."""
    after_eos = (ids == EOS).long().cumsum(1) - (ids == EOS).long() > 0   # (B, L) strictly after
    return trim(ids.masked_fill(after_eos, PAD))


def _index_stream(n: int, batch_size: int, generator: torch.Generator):
    """Mini-batch indices over ``range(n)``, reshuffled at every pass, without end."""
    while True:
        yield from iterate_batches(n, batch_size, generator=generator)


def negative_train(model, train: PairTensors, valid: PairTensors, vocab: Vocab,
                   cfg: FrequentConfig, max_len: int, progress: bool = True,
                   device: str | torch.device | None = None, bf16: bool = False):
    """Algorithm 2 on a copy of ``model``; returns ``(model, history)`` (baseline untouched).

    Each mini-batch, as the authors' ``neg_d_train``: greedy responses → window; once the window
    is full, responses with ratio > r_thres are negatives and a negative step is taken on
    ``L_NEG / n_sample_tokens``; then a positive step on ``λ_POS · L_MLE / n_ref_tokens`` of the
    next batch of a second data stream — on every batch, also while the window fills (eq. 4,
    two steps). Two SGD optimisers (:func:`ntlib.methods.train.negative_positive_optimisers`: momentum, weight decay). While nothing is
    flagged the negative optimiser still steps (zero gradient: momentum and weight decay act), as
    the authors' ``opt_neg.step()`` after a zero-weight loss. ``history`` logs max-ratio /
    Ent-3 of greedy responses to ``valid.src[:log_inputs]`` every ``log_every`` batches.
    ``device``: where the copy trains (``None``: the model's device); ``bf16``: forward passes
    of the updates under bf16 autocast.
    """
    neg_loss_fn = get_negative_loss(cfg.negative_loss)         # FrequentConfig checked r_thres ∈ (0, 1)
    torch.manual_seed(cfg.seed)                    # dropout masks
    stream = _index_stream(len(train), cfg.batch_size, torch.Generator().manual_seed(cfg.seed))
    model = copy.deepcopy(model)
    if device is not None:
        model.to(device)
    dev = model_device(model)
    # NPO's reference: the model Algorithm 2 starts from, frozen (None for the losses without one)
    ref = frozen_reference(model) if needs_reference(cfg.negative_loss) else None
    opt_neg, opt_pos = negative_positive_optimisers(model, cfg)
    pos_stream = _index_stream(len(train), cfg.batch_size, torch.Generator().manual_seed(cfg.seed + 1))
    n_batches = max(1, math.ceil(cfg.passes * len(train) / cfg.batch_size))
    window = ResponseWindow(cfg.window)
    history = {"step": [], "max_ratio": [], "ent3": [], "top_response": [],
               "window_max_ratio": [], "neg_fraction": [], "loss": []}
    tally = {"flagged": 0, "rows": 0}
    bar = tqdm(total=n_batches, desc=f"neg-train r_thres={cfg.r_thres:g}", disable=not progress,
               mininterval=1.0)

    def observe(src):
        """Greedy responses to ``src`` (eval mode, no grad) → window; targets and keys."""
        samples = as_targets(greedy(model, src, max_len))                 # (B, T')
        keys = [tuple(row[row != PAD].tolist()) for row in samples.cpu()]
        window.add(keys)
        bar.update(1)
        bar.set_postfix(window_max=f"{window.most_common()[1]:.3f}", refresh=False)
        return samples, keys

    def step_on(idx):
        """One negative and one positive step (Algorithm 2's loop body); the summed loss."""
        model.train()
        src = train.src[idx].to(dev)
        samples, keys = observe(src)
        flagged = torch.tensor([window.full and window.ratio(k) > cfg.r_thres for k in keys],
                               device=dev)                                          # (B,)
        tally["flagged"] += int(flagged.sum())
        tally["rows"] += len(keys)
        neg_value = 0.0
        if flagged.any():   # forward only the flagged rows: the others weigh 0
            rows = flagged.nonzero().squeeze(1)
            s_y = trim(samples[rows])
            w = negative_weights(s_y, flagged[rows], cfg.eos_scale)              # (F, T')
            with autocast(dev, bf16):
                kw = {} if ref is None else {"reference": reference_logprobs(ref, src[rows], s_y)}
                neg = neg_loss_fn(model(src[rows], s_y), s_y, w, **kw)           # logits (F, T', V)
            neg_value = sgd_step(model, opt_neg, neg / max(1, int((samples != PAD).sum())), cfg.clip_norm)
        else:               # nothing flagged: a zero-gradient step (momentum, weight decay), as the authors
            opt_neg.zero_grad(set_to_none=False)
            opt_neg.step()
        pos = take(train, next(pos_stream)) if cfg.separate_positive else take(train, idx)
        with autocast(dev, bf16):
            nll, n_tok = seq2seq_nll(model, pos.src, trim(pos.tgt))
        return neg_value + sgd_step(model, opt_pos, cfg.lambda_pos * nll / n_tok, cfg.clip_norm)

    def log(step, loss):
        responses = respond(model, valid.src[:cfg.log_inputs], vocab, max_len=max_len)
        for key, value in (("step", step), ("max_ratio", max_ratio(responses)),
                           ("ent3", ent_n(responses, 3)),
                           ("top_response", Counter(responses).most_common(1)[0][0]),
                           ("window_max_ratio", window.most_common()[1]),
                           ("neg_fraction", tally["flagged"] / max(1, tally["rows"])),
                           ("loss", loss)):   # the last two: averages since the previous log
            history[key].append(value)
        tally.update(flagged=0, rows=0)

    log(0, None)
    step, losses = 0, []
    while step < n_batches:
        losses.append(step_on(next(stream)))
        step += 1
        if step % cfg.log_every == 0 or step == n_batches:
            log(step, sum(losses) / len(losses))
            losses = []
    bar.close()
    if history["step"][-1] != step:
        log(step, None)
    return model.eval(), history


def cached_model_path(cfg: FrequentConfig, run_dir: str | Path, max_len: int) -> Path:
    """Where :func:`negative_train_cached` keeps the model of ``cfg``: the baselines' run folder, under the
    hash of the config, ``max_len`` and the code of Algorithm 2 (a changed algorithm never reuses a model)."""
    return Path(run_dir) / f"frequent-{config_hash(cfg, max_len, code_digest('ntlib.methods.frequent'))}.pt"


def negative_train_cached(model, data, cfg: FrequentConfig, run_dir: str | Path,
                          max_len: int, progress: bool = True,
                          device: str | torch.device | None = None):
    """:func:`negative_train` on ``data`` (a pipeline Dataset), cached in ``run_dir`` by config hash.

    ``run_dir`` should be the baselines' run folder (its name already hashes the data and
    baseline configs); the file name adds the hash of ``cfg``, ``max_len`` and the code (:func:`cached_model_path`).
    """
    path = cached_model_path(cfg, run_dir, max_len)
    device = model_device(model) if device is None else device
    if path.exists():
        return load_model(path, device).eval(), load_checkpoint(path)["history"]
    tuned, history = negative_train(model, data.train, data.valid, data.vocab, cfg, max_len,
                                    progress, device)
    save_model(tuned, "seq2seq", path, history=history)
    return tuned, history

