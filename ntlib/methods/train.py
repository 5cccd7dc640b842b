"""The one training loop (§4.1) and checkpoints.

MLE baseline training (on the NLL of ``ntlib.methods.evaluate``), malicious / frequent negative
training and GAN updates differ only in the loss they pass to :func:`sgd_step`. Checkpoints hold ``state_dict`` + config,
are written atomically and loaded with ``weights_only=True``.
Shown in notebooks/02_baselines.ipynb.
"""
from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path

import torch
from torch import nn
from tqdm.auto import tqdm

from ntlib.machine.device import autocast, model_device, to_cpu, to_device
from ntlib.methods.evaluate import LOSSES, check_data, evaluate_nll, sort_lengths, take
from ntlib.methods.models import build_model
from ntlib.results.reports import atomic_path
from ntlib.run.config import ModelConfig, TrainConfig

CHECKPOINT_FORMAT = "ntlib-checkpoint-v1"


# -- the SGD step --------------------------------------------------------------------
def sgd_step(model: nn.Module, optimizer: torch.optim.Optimizer, loss: torch.Tensor,
             clip_norm: float | None) -> float:
    """Backward, clip the gradient norm, step. Returns the loss value."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if clip_norm:
        nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
    optimizer.step()
    return float(loss.detach())


# -- checkpoints ----------------------------------------------------------------------
def atomic_save(obj, path: str | Path) -> None:
    """torch.save to a temporary file in the same folder, then rename over ``path``."""
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def save_model(model: nn.Module, kind: str, path: str | Path, **extra) -> None:
    """Checkpoint = format tag, model kind, vocab size, config dict, state_dict (+ extra), every
    tensor on the CPU (device-free: a GPU run's checkpoint loads anywhere)."""
    atomic_save(to_cpu({"format": CHECKPOINT_FORMAT, "kind": kind, "vocab_size": model.vocab_size,
                        "config": dataclasses.asdict(model.cfg), "state_dict": model.state_dict(),
                        **extra}), path)


def load_checkpoint(path: str | Path, map_location="cpu") -> dict:
    """Load a checkpoint dict with ``weights_only=True`` onto ``map_location``; a clear error if
    corrupt or foreign."""
    path = Path(path)
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as e:  # truncated, not a torch file, or unpickling refused
        raise ValueError(f"{path}: not a readable ntlib checkpoint ({type(e).__name__}: {e})") from e
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path}: not an ntlib checkpoint (expected format "
                         f"{CHECKPOINT_FORMAT!r}; foreign or from another tool)")
    return ckpt


def load_model(path: str | Path, device: str | torch.device | None = "cpu") -> nn.Module:
    """Rebuild the model a checkpoint describes, load its weights, place it on ``device``."""
    ckpt = load_checkpoint(path)
    missing = [k for k in ("kind", "vocab_size", "config", "state_dict") if k not in ckpt]
    if missing:
        raise ValueError(f"{path}: checkpoint has no {', '.join(missing)} (an ntlib checkpoint holds kind, "
                         "vocab_size, config and state_dict); written by another tool or edited")
    known = {f.name for f in dataclasses.fields(ModelConfig)}
    unknown = sorted(set(ckpt.get("config") or {}) - known)
    if unknown or not isinstance(ckpt.get("config"), dict):
        raise ValueError(f"{path}: checkpoint config has unknown key(s) {unknown} (ModelConfig fields: "
                         f"{sorted(known)}); written by another ntlib version or edited")
    absent = sorted(known - set(ckpt["config"]))
    if absent:                         # a default would silently build another model (hidden 600)
        raise ValueError(f"{path}: checkpoint config has no {', '.join(absent)} (ModelConfig fields: "
                         f"{sorted(known)}); written by another ntlib version or edited")
    try:
        cfg = ModelConfig(**ckpt["config"])
    except ValueError as e:            # a field out of range (ConfigError)
        raise ValueError(f"{path}: checkpoint config: {e}") from e
    try:
        model = build_model(ckpt["kind"], ckpt["vocab_size"], cfg)
        model.load_state_dict(ckpt["state_dict"])
    except (RuntimeError, ValueError, TypeError, KeyError) as e:   # size mismatch, unknown kind, bad vocab
        raise ValueError(f"{path}: the weights do not fit the model the checkpoint describes ({ckpt['kind']!r}, "
                         f"vocab_size {ckpt['vocab_size']!r}, {cfg}): {type(e).__name__}: "
                         f"{' '.join(str(e).split())[:400]}") from e
    return model.to(device) if device is not None else model


# -- the training loop (§4.1) -----------------------------------------------------------
HISTORY_KEYS = ("epoch", "lr", "train_loss", "valid_nll", "valid_ppl", "tokens_per_s", "seconds")


def epoch_lr(cfg: TrainConfig, epoch: int) -> float:
    """§4.1: ``cfg.lr`` for ``epochs_fixed`` epochs, then halved at every following epoch."""
    return cfg.lr if epoch < cfg.epochs_fixed else cfg.lr * 0.5 ** (epoch - cfg.epochs_fixed + 1)


def epoch_batches(lengths: torch.Tensor, batch_size: int, max_rows: int | None,
                  generator: torch.Generator, bucket: int = 50) -> list[torch.Tensor]:
    """Index tensors of one epoch: a random subsample of ``max_rows`` rows, cut into
    mini-batches of similar length (within chunks of ``bucket`` batches, so less padding
    is computed), in random order. Deterministic given the generator's state."""
    order = torch.randperm(len(lengths), generator=generator)
    if max_rows is not None:
        order = order[:max_rows]
    batches = []
    for part in order.split(batch_size * bucket):
        part = part[torch.argsort(lengths[part], stable=True)]
        batches.extend(part.split(batch_size))
    return [batches[i] for i in torch.randperm(len(batches), generator=generator)]


def train_epoch(model: nn.Module, optimizer: torch.optim.Optimizer, batches, loss_fn,
                clip_norm: float | None, progress: bool = True, desc: str = "train",
                total: int | None = None, bf16: bool = False) -> dict:
    """One pass of SGD steps on the per-token mean of ``loss_fn(model, batch)``; the one loop
    that MLE and negative training share (they differ in ``loss_fn``). ``bf16``: forward passes
    under bf16 autocast on the model's device (``device.autocast``); off by default."""
    model.train()
    dev = model_device(model)
    summed, tokens, start = 0.0, 0, time.perf_counter()
    bar = tqdm(batches, desc=desc, total=total, disable=not progress, leave=False, mininterval=1.0)
    for i, batch in enumerate(bar):
        with autocast(dev, bf16):
            nll, n = loss_fn(model, batch)
        summed += sgd_step(model, optimizer, nll / max(n, 1), clip_norm) * n
        tokens += n
        if progress and i % 20 == 0:
            bar.set_postfix(loss=f"{summed / max(tokens, 1):.3f}",
                            tok_s=f"{tokens / (time.perf_counter() - start):.0f}")
    seconds = time.perf_counter() - start
    return {"loss": summed / max(tokens, 1), "tokens": tokens, "seconds": seconds}


def resume_path(ckpt_path: str | Path) -> Path:
    """Where :func:`fit` keeps its per-epoch resume checkpoint beside ``ckpt_path``."""
    return Path(ckpt_path).with_suffix(".resume.pt")


def _load_resume(path: Path, kind: str, model: nn.Module, cfg: TrainConfig) -> dict:
    state = load_checkpoint(path)
    if not state.get("resume"):
        raise ValueError(f"{path}: an ntlib model checkpoint, not a resume checkpoint of fit()")
    expected = {"kind": kind, "vocab_size": model.vocab_size,
                "config": dataclasses.asdict(model.cfg), "train_config": dataclasses.asdict(cfg)}
    for key, value in expected.items():
        if state.get(key) != value:
            raise ValueError(f"{path}: resume checkpoint has {key}={state.get(key)!r} but this "
                             f"run has {key}={value!r}; delete it to start afresh")
    return state


def negative_positive_optimisers(model: nn.Module, cfg) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
    """The authors' two SGD optimisers of negative training (negative step, positive step), with
    ``cfg.lr``, ``cfg.momentum`` and ``cfg.weight_decay`` (paper profile: 0.9 and 1e-5, as their
    ``adv_train`` / ``neg_d_train``); Algorithms 1 and 2 both use them."""
    def sgd():
        return torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum,
                               weight_decay=cfg.weight_decay)
    return sgd(), sgd()


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """§4.1's SGD (``cfg.optimizer == "sgd"``), or Adam for the budget-bound ``small`` profile."""
    if cfg.optimizer == "sgd":      # fused: one kernel for all parameters, ~8 % faster
        return torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, fused=True)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=cfg.lr)
    raise ValueError(f"TrainConfig.optimizer must be 'sgd' or 'adam', not {cfg.optimizer!r}")


def fit(model: nn.Module, kind: str, train, valid, cfg: TrainConfig, ckpt_path: str | Path,
        progress: bool = True, on_epoch_end=None, device: str | torch.device | None = None,
        bf16: bool = False, ranks=None) -> dict:
    """MLE training of §4.1 (eq. 1): SGD (momentum ``cfg.momentum``, as the authors' code) on
    the per-token mean NLL of mini-batches of ``cfg.batch_size``, LR ``cfg.lr`` for
    ``cfg.epochs_fixed`` epochs then halved each epoch for ``cfg.epochs_halving``, gradient
    norm clipped to ``cfg.clip_norm``; validation PPL after each epoch.

    ``train``/``valid`` are LM sentences ``(N, T)`` (kind ``"lm"``) or :class:`PairTensors`
    (``"seq2seq"``). The best epoch's weights (by valid PPL) end in ``model`` and, once all
    epochs are done, in ``ckpt_path`` (``save_model``, with the history). After every epoch a
    resume checkpoint (model, optimizer, best weights, RNG states, history) is written
    atomically, so an interrupted call, repeated, continues from its last completed epoch and
    ends with the same weights. ``on_epoch_end(epoch, history)`` is called after each epoch.
    Returns the history: per-epoch lists under :data:`HISTORY_KEYS`.

    ``device``: where the model trains (``None``: where it is); ``train``/``valid`` stay where
    they are and each mini-batch is moved there. ``bf16``: forward passes under bf16 autocast.

    ``ranks``: a :class:`ntlib.machine.distributed.Ranks` when torchrun started this process (``None``:
    one process, the path above, unchanged): each rank trains on its share of every global
    mini-batch through DistributedDataParallel, validation is sharded and summed, and rank 0
    alone writes the checkpoints (see ``ntlib.machine.distributed``).
    """
    if device is not None:
        model.to(device)
    dev = model_device(model)
    check_data(kind, train, "train")
    check_data(kind, valid, "valid")
    loss_fn, lengths = LOSSES[kind], sort_lengths(train)
    if ranks is not None:
        loss_fn = ranks.loss_fn(model, loss_fn)      # DDP: per-token mean of the global batch
    optimizer = make_optimizer(model, cfg)
    generator = torch.Generator().manual_seed(cfg.seed)
    history = {k: [] for k in HISTORY_KEYS}
    best = {"ppl": math.inf, "epoch": -1, "state_dict": None}
    start, rpath = 0, resume_path(ckpt_path)
    if rpath.exists():
        state = _load_resume(rpath, kind, model, cfg)
        model.load_state_dict(state["state_dict"])
        optimizer.load_state_dict(state["optimizer"])
        generator.set_state(state["generator_state"])
        torch.set_rng_state(state["torch_rng_state"])     # dropout masks continue as if unbroken
        if dev.type == "cuda" and "cuda_rng_state" in state:
            torch.cuda.set_rng_state(state["cuda_rng_state"], dev)
        history, best, start = state["history"], state["best"], state["epoch"] + 1
        if ranks is not None:
            ranks.set_rng_states(state, rpath)           # each rank's own dropout stream
    for epoch in range(start, cfg.epochs_fixed + cfg.epochs_halving):
        lr = epoch_lr(cfg, epoch)
        for group in optimizer.param_groups:
            group["lr"] = lr
        index = epoch_batches(lengths, cfg.batch_size, cfg.max_pairs_per_epoch, generator)
        batches = ((to_device(take(train, idx), dev) for idx in index) if ranks is None
                   else ranks.batches(train, index, dev))
        stats = train_epoch(model, optimizer, batches,
                            loss_fn, cfg.clip_norm, progress, f"{kind} epoch {epoch + 1} lr={lr:g}",
                            total=len(index), bf16=bf16)
        if ranks is not None:
            stats = ranks.epoch_stats(stats)
        nll, n = evaluate_nll(model, kind, valid) if ranks is None else ranks.evaluate_nll(model, kind, valid)
        row = {"epoch": epoch + 1, "lr": lr, "train_loss": stats["loss"], "valid_nll": nll / n,
               "valid_ppl": math.exp(nll / n), "seconds": stats["seconds"],
               "tokens_per_s": stats["tokens"] / stats["seconds"]}
        for key in HISTORY_KEYS:
            history[key].append(row[key])
        if progress:
            print(f"{kind} epoch {epoch + 1}: lr {lr:g}  train loss {row['train_loss']:.3f}  "
                  f"valid ppl {row['valid_ppl']:.2f}  {row['tokens_per_s']:.0f} tok/s  "
                  f"{row['seconds']:.0f} s", flush=True)
        if row["valid_ppl"] < best["ppl"]:
            best = {"ppl": row["valid_ppl"], "epoch": epoch + 1,
                    "state_dict": {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}}
        extra = {"cuda_rng_state": torch.cuda.get_rng_state(dev)} if dev.type == "cuda" else {}
        if ranks is not None:
            extra["rank_rng_states"] = ranks.rng_states()  # a collective: every rank calls it
        if ranks is None or ranks.writer:
            atomic_save(to_cpu({"format": CHECKPOINT_FORMAT, "resume": True, "kind": kind,
                         "vocab_size": model.vocab_size, "config": dataclasses.asdict(model.cfg),
                         "train_config": dataclasses.asdict(cfg), "epoch": epoch,
                         "state_dict": model.state_dict(), "optimizer": optimizer.state_dict(),
                         "generator_state": generator.get_state(),
                         "torch_rng_state": torch.get_rng_state(), "history": history, "best": best,
                         **extra}), rpath)
        if on_epoch_end is not None:
            on_epoch_end(epoch, history)
    if best["state_dict"] is not None:
        model.load_state_dict(best["state_dict"])
    if ranks is None or ranks.writer:
        save_model(model, kind, ckpt_path, history=history, best_epoch=best["epoch"],
                   train_config=dataclasses.asdict(cfg))
        rpath.unlink(missing_ok=True)
    if ranks is not None:
        ranks.barrier()                                  # the checkpoint exists for every rank
    return history
