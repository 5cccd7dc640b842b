"""Where the tensors live: one ``device`` setting for every stage, and bf16 autocast.

The setting is ``auto`` (CUDA when present, else the CPU), ``cpu``, ``cuda`` or ``cuda:N``;
it comes from the caller (a notebook's ``device`` parameter, ``python -m ntlib.run.reproduce
--device``), else the ``NTLIB_DEVICE`` environment variable, else ``auto``
(:func:`resolve_device`). Stages that build or load a model take ``device``; stages that
receive a model run on the model's device (:func:`model_device`) and move their batches
there, so data tensors stay on the CPU and only mini-batches travel. Random numbers are
always drawn from CPU generators, so a run draws the same mini-batches, samples and
trigger starts on every device (:func:`multinomial`). Checkpoints are written with every
tensor on the CPU (:func:`to_cpu`) and loaded with ``map_location``.

bf16 autocast (:func:`autocast`) is off unless asked for (``train.fit(bf16=True)``,
``gibbs_enum(bf16=True)``, Algorithms 1 and 2): the default run is fp32 everywhere, bitwise the same
as before. On a GPU, torch's default runs cuDNN's LSTMs in TF32 (``torch.backends.cudnn.allow_tf32``),
which ntlib leaves as it is: measured on an H200, 1e-4 to 2e-3 relative on losses and PPLs, and
gibbs-enum may then choose another of candidates scored within 1e-7 nats (tests/test_device.py).
"""
from __future__ import annotations

import contextlib
import os
import warnings

import torch

ENV = "NTLIB_DEVICE"


def resolve_device(setting: str | torch.device | None = None) -> torch.device:
    """The ``torch.device`` of a device setting; ``None`` reads ``$NTLIB_DEVICE`` (default ``auto``).

    ``auto`` picks CUDA when ``torch.cuda.is_available()``, else the CPU. A setting torch does not
    parse, or a CUDA device this machine lacks, is a ``ValueError`` naming the setting.
    """
    source = "device setting"
    if setting is None:
        setting, source = os.environ.get(ENV, "auto"), f"${ENV}"
    if isinstance(setting, torch.device):
        device = setting
    else:
        text = str(setting).strip().lower()
        if text in ("", "auto"):
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        try:
            device = torch.device(text)
        except (RuntimeError, ValueError) as e:
            raise ValueError(f"{source} {setting!r} is not a device: use 'auto', 'cpu', 'cuda' "
                             f"or 'cuda:N' (torch: {e})") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"{source} {setting!r}: CUDA is not available on this machine "
                             f"(torch {torch.__version__}); use 'auto' or 'cpu'")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"{source} {setting!r}: this machine has "
                             f"{torch.cuda.device_count()} CUDA device(s)")
    elif device.type != "cpu":
        raise ValueError(f"{source} {setting!r}: ntlib runs on 'cpu' or 'cuda', not {device.type!r}")
    return device


def model_device(model: torch.nn.Module) -> torch.device:
    """The device of a model's parameters (the CPU for a model without any)."""
    p = next(iter(model.parameters()), None)
    return p.device if p is not None else torch.device("cpu")


def to_device(batch, device: torch.device):
    """A tensor or :class:`ntlib.data.dataset.PairTensors` on ``device`` (no copy when already there)."""
    if torch.is_tensor(batch):
        return batch.to(device)
    if hasattr(batch, "src") and hasattr(batch, "tgt"):
        return type(batch)(batch.src.to(device), batch.tgt.to(device))
    raise TypeError(f"to_device: expected a tensor or PairTensors, got {type(batch).__name__}")


def to_cpu(obj):
    """``obj`` (tensors, dicts, lists, tuples of them) with every tensor on the CPU: a checkpoint
    written from a GPU run loads on a machine without one."""
    if torch.is_tensor(obj):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_cpu(v) for v in obj)
    return obj


def multinomial(probs: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """``torch.multinomial(probs, 1)`` ``(B,)`` drawn from ``generator`` on its own device: a CPU
    generator gives the same draws for CUDA probabilities (they are copied to the CPU first)."""
    if generator is not None and generator.device != probs.device:
        return torch.multinomial(probs.to(generator.device), 1, generator=generator).squeeze(1).to(probs.device)
    return torch.multinomial(probs, 1, generator=generator).squeeze(1)


@contextlib.contextmanager
def autocast(device: torch.device | str, enabled: bool):
    """bf16 autocast on ``device`` when ``enabled`` (matmuls and, on CUDA, LSTMs in bf16; softmax
    and losses in fp32), else a no-op context: the fp32 default path is untouched. On the CPU
    oneDNN is switched off inside the block: its LSTM has no bf16 primitive on CPUs without
    bf16 instructions ("could not create a primitive descriptor"), so CPU LSTMs stay fp32."""
    if not enabled:
        yield
        return
    device = torch.device(device)
    with contextlib.ExitStack() as stack:
        if device.type == "cpu":
            with warnings.catch_warnings():      # a notice about Intel GPUs' TF32, not about us
                warnings.simplefilter("ignore", UserWarning)
                stack.enter_context(torch.backends.mkldnn.flags(enabled=False))
        stack.enter_context(torch.autocast(device_type=device.type, dtype=torch.bfloat16))
        yield


def synchronize(device: torch.device | str) -> None:
    """Wait for queued CUDA work (timings); nothing on the CPU."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)
