"""The one training loop (§4.1), its losses, and checkpoints.

MLE baseline training, malicious / frequent negative training and GAN updates differ only
in the loss they pass to :func:`sgd_step`. Checkpoints hold ``state_dict`` + config,
are written atomically and loaded with ``weights_only=True``.
Shown in notebooks/02_baselines.ipynb.
"""
from __future__ import annotations

import dataclasses
import os
import tempfile
from pathlib import Path

import torch
from torch import nn

from .config import ModelConfig
from .data import trim
from .models import PAD, build_model

CHECKPOINT_FORMAT = "ntlib-checkpoint-v1"


# -- losses ---------------------------------------------------------------------------
def seq2seq_nll(model, src: torch.Tensor, tgt: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Summed NLL of ``tgt`` given ``src`` (eq. 1) and the number of scored tokens (incl. <eos>)."""
    src, tgt = trim(src, left=True), trim(tgt)
    lp = model.token_logprobs(src, tgt)                                   # (B, T)
    return -lp.sum(), int((tgt != PAD).sum())


def lm_nll(model, tgt: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Summed NLL of LM sentences ``tgt`` (B, T) and the number of scored tokens."""
    tgt = trim(tgt)
    return -model.token_logprobs(tgt).sum(), int((tgt != PAD).sum())


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
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def save_model(model: nn.Module, kind: str, path: str | Path, **extra) -> None:
    """Checkpoint = format tag, model kind, vocab size, config dict, state_dict (+ extra)."""
    atomic_save({"format": CHECKPOINT_FORMAT, "kind": kind, "vocab_size": model.vocab_size,
                 "config": dataclasses.asdict(model.cfg), "state_dict": model.state_dict(),
                 **extra}, path)


def load_checkpoint(path: str | Path) -> dict:
    """Load a checkpoint dict with ``weights_only=True``; a clear error if corrupt or foreign."""
    path = Path(path)
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as e:  # truncated, not a torch file, or unpickling refused
        raise ValueError(f"{path}: not a readable ntlib checkpoint ({type(e).__name__}: {e})") from e
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path}: not an ntlib checkpoint (expected format "
                         f"{CHECKPOINT_FORMAT!r}; foreign or from another tool)")
    return ckpt


def load_model(path: str | Path) -> nn.Module:
    """Rebuild the model a checkpoint describes and load its weights."""
    ckpt = load_checkpoint(path)
    model = build_model(ckpt["kind"], ckpt["vocab_size"], ModelConfig(**ckpt["config"]))
    model.load_state_dict(ckpt["state_dict"])
    return model
