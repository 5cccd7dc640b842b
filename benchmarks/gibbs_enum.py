"""Benchmark: batched gibbs-enum vs the one-candidate-at-a-time loop of Algorithm 3 (App. A).

Small model size (emb 128 / hidden 256, V = 10k, random weights), the paper's G = 100.
Both searches start from the same triggers, so they must return the same triggers and
losses (checked). Reports targets/s both ways, their ratio, and the batched search's
achieved GFLOP/s against a measured fp32 matmul peak at the same thread count. The
CPU is shared, so rates are also given per CPU-second (process time), which contention
from other processes distorts less than wall time.
FLOPs = matmuls counted by torch's FlopCounterMode + LSTM cells counted by forward hooks
(8·H·(E+H) per token, ×3 when the call is differentiated).

Run: ``.venv/bin/python benchmarks/gibbs_enum.py`` (about a minute on one core).
"""
from __future__ import annotations

import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from ntlib.config import GibbsConfig, ModelConfig
from ntlib.gibbs_enum import gibbs_enum, gibbs_enum_reference, random_triggers
from ntlib.models import EOS, LSTMLM, Seq2Seq

THREADS = 1               # the CPU is shared; both searches and the peak use the same count
V, MODEL = 10_000, ModelConfig(emb=128, hidden=256, dropout=0.0)
TARGETS, REF_TARGETS = 16, 2
GIBBS = GibbsConfig(sweeps=1, candidates=100, restarts=1)      # chunk_size 128 rows


def matmul_peak(seconds: float = 3.0) -> float:
    """Best fp32 GFLOP/s per CPU-second of a few GEMM shapes, including the output projection's."""
    best = 0.0
    for m, k, n in ((1024, 1024, 1024), (768, 256, 10_000), (4096, 256, 2048)):
        a, b = torch.randn(m, k), torch.randn(k, n)
        a @ b
        reps, t0 = 0, time.process_time()
        while time.process_time() - t0 < seconds / 3:
            a @ b
            reps += 1
        best = max(best, 2 * m * k * n * reps / (time.process_time() - t0) / 1e9)
    return best


def count_flops(fn, models):
    """Run ``fn``; return (result, wall s, CPU s, FLOPs) with LSTM cells added by hooks."""
    lstm_flops = [0]

    def hook(mod, inp, out):
        x = inp[0]
        tokens = x.shape[0] * x.shape[1]
        grad = 3 if torch.is_grad_enabled() and x.requires_grad else 1
        lstm_flops[0] += grad * 8 * mod.hidden_size * (mod.input_size + mod.hidden_size) * tokens
    handles = [m.register_forward_hook(hook) for model in models for m in model.modules()
               if isinstance(m, torch.nn.LSTM)]
    try:
        with FlopCounterMode(display=False) as fc:
            t0, c0 = time.perf_counter(), time.process_time()
            res = fn()
            dt, dc = time.perf_counter() - t0, time.process_time() - c0
    finally:
        for h in handles:
            h.remove()
    return res, dt, dc, fc.get_total_flops() + lstm_flops[0]


def main():
    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    s2s, lm = Seq2Seq(V, MODEL).eval(), LSTMLM(V, MODEL).eval()
    gen = torch.Generator().manual_seed(1)
    lengths = torch.randint(2, 7, (TARGETS,), generator=gen)        # like the malicious lists
    tgt = torch.zeros(TARGETS, 8, dtype=torch.long)
    for i, m in enumerate(lengths.tolist()):
        tgt[i, :m] = torch.randint(4, V, (m,), generator=gen)
        tgt[i, m] = EOS
    init = random_triggers(TARGETS, GIBBS.input_len, V, gen)
    peak = matmul_peak()
    print(f"threads={THREADS}  fp32 matmul peak: {peak:.1f} GFLOP per CPU-second")
    for io in (False, True):
        kind = "io (λ_in=1, LM term)" if io else "o  (λ_in=0)"
        fast, t_fast, c_fast, flops = count_flops(
            lambda: gibbs_enum(s2s, tgt, GIBBS, lm=lm, io=io, init=init), (s2s, lm))
        t0, c0 = time.perf_counter(), time.process_time()
        ref = gibbs_enum_reference(s2s, tgt[:REF_TARGETS], GIBBS, lm=lm, io=io, init=init[:REF_TARGETS])
        t_ref, c_ref = time.perf_counter() - t0, time.process_time() - c0
        same = torch.equal(fast.triggers[:REF_TARGETS], ref.triggers)
        dloss = float((fast.loss[:REF_TARGETS] - ref.loss).abs().max())
        r_fast, r_ref = TARGETS / t_fast, REF_TARGETS / t_ref
        cr_fast, cr_ref = TARGETS / c_fast, REF_TARGETS / c_ref
        print(f"{kind}:\n  wall: batched {r_fast:.3f} targets/s ({TARGETS} in {t_fast:.1f}s), "
              f"loop {r_ref:.4f} targets/s ({REF_TARGETS} in {t_ref:.1f}s), speed-up {r_fast / r_ref:.1f}x, "
              f"batched {flops / t_fast / 1e9:.1f} GFLOP/s\n"
              f"  CPU time: batched {cr_fast:.3f} targets/CPU-s, loop {cr_ref:.4f}, speed-up "
              f"{cr_fast / cr_ref:.1f}x, batched {flops / c_fast / 1e9:.1f} GFLOP/CPU-s = "
              f"{100 * flops / c_fast / 1e9 / peak:.0f}% of matmul peak\n"
              f"  same triggers: {same}, max |Δloss| {dloss:.1e}")


if __name__ == "__main__":
    main()
