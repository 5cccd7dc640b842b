"""Training throughput of the seq2seq (§4.1) at each preset, against the machine's matmul peak.

For the smoke / small / paper model sizes (V = 10k, Switchboard-like lengths: sources padded
to 15, responses of mean ≈ 7.4 tokens incl. <eos>) it times a few dozen SGD steps of
``ntlib.train.train_epoch`` (the loop ``fit`` uses, length-bucketed batches of 64) and reports
real target tokens/s and pairs/s. In the same run it measures fp32 ``torch.mm`` GFLOP/s at the
output layer's shape, estimates a step's FLOPs as 3 × the forward matmul FLOPs (LSTMs,
attention, output layer; embeddings free; padded positions counted, as they are computed) and
prints the fraction of that peak reached. Run: ``.venv/bin/python benchmarks/train_throughput.py``
(≈ 2 min). The CPU may be shared with other processes: numbers are noisy, rerun to compare.
"""
from __future__ import annotations

import time

import torch

from ntlib import evaluate, train
from ntlib.config import PROFILES
from ntlib.data import EOS, PAD, PairTensors
from ntlib.models import build_model

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


def measure(name: str, data: PairTensors) -> dict:
    cfg = PROFILES[name].seq2seq
    torch.manual_seed(0)
    model = build_model("seq2seq", V, cfg)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, fused=True)   # as fit
    index = train.epoch_batches(evaluate.sort_lengths(data), BATCH, None, torch.Generator().manual_seed(0))
    batches = [data.subset(i) for i in index[:WARMUP + STEPS]]
    train.train_epoch(model, opt, batches[:WARMUP], evaluate.LOSSES["seq2seq"], 5.0, progress=False)
    stats = train.train_epoch(model, opt, batches[WARMUP:], evaluate.LOSSES["seq2seq"], 5.0,
                              progress=False)
    flops = sum(step_flops(b, cfg.emb, cfg.hidden) for b in batches[WARMUP:])
    peak = mm_gflops(cfg.hidden)
    achieved = flops / stats["seconds"] / 1e9
    return {"preset": name, "emb/hidden": f"{cfg.emb}/{cfg.hidden}",
            "threads": torch.get_num_threads(), "tokens/s": stats["tokens"] / stats["seconds"],
            "pairs/s": STEPS * BATCH / stats["seconds"], "GFLOP/s": achieved,
            "mm GFLOP/s": peak, "% of mm peak": 100 * achieved / peak}


def main() -> None:
    import pandas as pd
    data = switchboard_like(BATCH * 50 * 2)          # enough for two length buckets
    rows = []
    for threads in THREADS:
        torch.set_num_threads(threads)
        for name in ("smoke", "small", "paper"):
            rows.append(measure(name, data))
            print(rows[-1], flush=True)
    print(pd.DataFrame(rows).round(1).to_markdown(index=False))


if __name__ == "__main__":
    main()
