"""Training throughput of the seq2seq (§4.1) at each preset, against the machine's matmul peak.

For the smoke / small / paper model sizes (V = 10k, Switchboard-like lengths: sources padded
to 15, responses of mean ≈ 7.4 tokens incl. <eos>) it times a few dozen SGD steps of
``ntlib.methods.train.train_epoch`` (the loop ``fit`` uses, length-bucketed batches of 64) and reports
real target tokens/s and pairs/s. In the same run it measures fp32 ``torch.mm`` GFLOP/s at the
output layer's shape, estimates a step's FLOPs as 3 × the forward matmul FLOPs (LSTMs,
attention, output layer; embeddings free; padded positions counted, as they are computed) and
prints the fraction of that peak reached. Run: ``.venv/bin/python benchmarks/train_throughput.py``
(≈ 2 min). The CPU may be shared with other processes: numbers are noisy, rerun to compare.

When CUDA is present (``--device auto|cuda``) the small and paper presets are also timed on the
GPU, in fp32 and under bf16 autocast, against the card's measured fp32 and bf16 matmul peaks
(8192² GEMMs; fp32 without TF32, torch's default). ``--no-cpu`` skips the CPU rows,
``--quick`` is a short rehearsal (one thread, 8 steps). ``--compile MODE`` adds, beside each eager row, the
same steps with the loss (model forward + NLL) under ``torch.compile(dynamic=True, mode=MODE)`` —
``default`` (inductor's fused kernels) or ``reduce-overhead`` (CUDA graphs as well, on a GPU) — and prints the
ratio compiled / eager (issue 31: do they pay for the launch-bound training steps?). Compilation happens in the
warm-up steps, which are not timed. On this 2-core CPU (``--quick --compile default``, 1 thread, 8 steps,
2026-12-05): smoke 1.25×, small 0.90× — it does not pay at the small size, and ntlib's training does not use it.
Not yet measured on a GPU (``benchmarks/gpu_check.py`` runs it there).
"""
from __future__ import annotations

import argparse
import time

import torch

import ntlib  # noqa: F401  (pins the float path before torch computes: ntlib.machine.floatpath)
from ntlib.data.dataset import EOS, PAD, PairTensors
from ntlib.machine.device import resolve_device, synchronize, to_device
from ntlib.methods import evaluate, train
from ntlib.methods.models import build_model
from ntlib.run.profiles import PROFILES

V, BATCH, SRC_LEN, STEPS, WARMUP = 10_000, 64, 15, 30, 3
THREADS = (1, 2)


def switchboard_like(n: int, seed: int = 0) -> PairTensors:
    """Random ids with Switchboard's length profile (source ≈ 6.9 tokens, response ≈ 6.4 + <eos>)."""
    g = torch.Generator().manual_seed(seed)
    src_len = (torch.empty(n).exponential_(1 / 6.0, generator=g) + 1).long().clamp(1, SRC_LEN)
    tgt_len = (torch.empty(n).exponential_(1 / 6.0, generator=g) + 1).long().clamp(1, 20)
    src = torch.full((n, SRC_LEN), PAD)
    tgt = torch.full((n, 21), PAD)
    for i in range(n):
        s, t = int(src_len[i]), int(tgt_len[i])
        src[i, SRC_LEN - s:] = torch.randint(4, V, (s,), generator=g)
        tgt[i, :t] = torch.randint(4, V, (t,), generator=g)
        tgt[i, t] = EOS
    return PairTensors(src, tgt)


def step_flops(batch: PairTensors, E: int, H: int) -> float:
    """3 × forward matmul FLOPs of one seq2seq training step on ``batch`` (as computed, padded)."""
    B, S = batch.src.shape
    T = int((batch.tgt != PAD).any(0).nonzero().max()) + 1            # trimmed target width
    lstm = 2 * 4 * H * (E + H)                                        # per position
    fwd = B * S * lstm + B * T * (lstm + 2 * H * H + 2 * 2 * S * H + 2 * 2 * H * H + 2 * H * V)
    return 3.0 * fwd


def mm_gflops(H: int, rows: int = BATCH * 8, reps: int = 20) -> float:
    """fp32 torch.mm GFLOP/s at the output layer's shape (rows × H) @ (H × V), best of reps."""
    a, w = torch.randn(rows, H), torch.randn(H, V)
    torch.mm(a, w)
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        torch.mm(a, w)
        best = min(best, time.perf_counter() - t)
    return 2 * rows * H * V / best / 1e9


def cuda_mm_peak(device, dtype: torch.dtype, n: int = 8192, reps: int = 10) -> float:
    """The card's measured matmul GFLOP/s: best of ``reps`` n×n×n GEMMs in ``dtype``."""
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    a @ b
    synchronize(device)
    best = float("inf")
    for _ in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        a @ b
        end.record()
        end.synchronize()
        best = min(best, start.elapsed_time(end) / 1e3)
    return 2 * n ** 3 / best / 1e9


def measure(name: str, data: PairTensors, device=torch.device("cpu"), bf16: bool = False,
            peak: float | None = None, steps: int = STEPS, compile_mode: str | None = None) -> dict:
    cfg = PROFILES[name].seq2seq
    loss = evaluate.LOSSES["seq2seq"]
    if compile_mode:
        loss = torch.compile(loss, dynamic=True, mode=compile_mode)
    torch.manual_seed(0)
    model = build_model("seq2seq", V, cfg).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, fused=True)   # as fit
    index = train.epoch_batches(evaluate.sort_lengths(data), BATCH, None, torch.Generator().manual_seed(0))
    batches = [to_device(data.subset(i), device) for i in index[:WARMUP + steps]]
    train.train_epoch(model, opt, batches[:WARMUP], loss, 5.0, progress=False, bf16=bf16)
    synchronize(device)
    stats = train.train_epoch(model, opt, batches[WARMUP:], loss, 5.0,
                              progress=False, bf16=bf16)    # each step reads the loss: synchronised
    flops = sum(step_flops(b, cfg.emb, cfg.hidden) for b in batches[WARMUP:])
    peak = mm_gflops(cfg.hidden) if peak is None else peak
    achieved = flops / stats["seconds"] / 1e9
    where = f"{torch.get_num_threads()} thread(s)" if device.type == "cpu" else torch.cuda.get_device_name(device)
    return {"preset": name, "emb/hidden": f"{cfg.emb}/{cfg.hidden}", "device": where,
            "dtype": "bf16 autocast" if bf16 else "fp32", "compiled": compile_mode or "eager",
            "tokens/s": stats["tokens"] / stats["seconds"],
            "pairs/s": steps * BATCH / stats["seconds"], "GFLOP/s": achieved,
            "mm GFLOP/s": peak, "% of mm peak": 100 * achieved / peak}


def main(argv=None) -> None:
    import pandas as pd
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="auto", help="auto: the CPU rows, plus CUDA rows when present")
    ap.add_argument("--no-cpu", action="store_true", help="skip the CPU rows")
    ap.add_argument("--quick", action="store_true", help="one thread, 8 steps, smoke/small presets")
    ap.add_argument("--compile", choices=("default", "reduce-overhead"), default=None,
                    help="also time each row with the loss under torch.compile(mode=...); print compiled / eager")
    a = ap.parse_args(argv)
    dev = resolve_device(a.device)
    steps = 8 if a.quick else STEPS
    data = switchboard_like(BATCH * 50 * 2)          # enough for two length buckets
    rows = []
    if not a.no_cpu:
        for threads in ((1,) if a.quick else THREADS):
            torch.set_num_threads(threads)
            for name in (("smoke", "small") if a.quick else ("smoke", "small", "paper")):
                for mode in (None, a.compile) if a.compile else (None,):
                    rows.append(measure(name, data, steps=steps, compile_mode=mode))
                    print(rows[-1], flush=True)
    if dev.type == "cuda":
        peaks = {False: cuda_mm_peak(dev, torch.float32), True: cuda_mm_peak(dev, torch.bfloat16)}
        print(f"{torch.cuda.get_device_name(dev)}: measured matmul peak fp32 {peaks[False] / 1e3:.1f} TFLOP/s, "
              f"bf16 {peaks[True] / 1e3:.1f} TFLOP/s (8192² GEMMs, TF32 {torch.backends.cuda.matmul.allow_tf32})",
              flush=True)
        for name in ("small", "paper"):
            for bf16 in (False, True):
                for mode in (None, a.compile) if a.compile else (None,):
                    rows.append(measure(name, data, dev, bf16, peaks[bf16], steps=max(steps, 20), compile_mode=mode))
                    print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    if a.compile and len(table):   # each compiled row beside its eager row: the ratio of their tokens/s
        key = ["preset", "device", "dtype"]
        eager = table[table.compiled == "eager"].set_index(key)["tokens/s"]
        table["× eager"] = [r["tokens/s"] / eager[tuple(r[k] for k in key)] for _, r in table.iterrows()]
    print(table.round(2).to_markdown(index=False))


if __name__ == "__main__":
    main()
