"""Benchmark: gibbs-enum (App. A, Algorithm 3) with every restart in lock-step vs one restart after another.

Random-weight models at two sizes — small (emb 128 / hidden 256) and paper (300 / 600), V = 10k — at
G = 100 (the paper's) and G = 6 (the small profile's), o- and io- searches, 3 restarts, 1 sweep, the
same start points. Three searches:

  before     restarts one after another, each batched over the targets, passes of 128 candidate rows:
             the search of commit f89a443 (kept in tests/unit/test_gibbs_enum_lockstep.py; on a GPU with today's
             projection blocks of 8192 rows)
  lockstep   targets × restarts in lock-step, each restart with its own gradient and scoring passes
             (the CPU default of ntlib.methods.gibbs_enum.gibbs_enum: the same computations, bit for bit)
  one-pass   every active row of every restart in one gradient pass, candidate rows in shared passes of
             --chunk rows (the GPU layout; CUDA_CHUNK_ROWS = 65,536 on a GPU)

For each: candidate rows scored per second (wall; on the CPU also per CPU-second, which other processes
on a shared CPU distort less), GFLOP/s and the fraction of the device's matmul peak in the search's dtype
(peak measured in this process: the best of a few GEMM shapes, including the output projection's),
the speed-up over ``before`` and whether the triggers equal before's. Timings are the best of --reps runs,
the searches alternating. FLOPs: matmuls counted by torch's FlopCounterMode + LSTM cells
(``ntlib.run.flops.count_flops``), on one untimed run.

Run: ``.venv/bin/python benchmarks/gibbs_enum.py`` (CPU, fp32, one thread; about 15 CPU-minutes) or
``--device cuda`` (paper size, G = 100, 32 targets × the paper's 5 restarts, fp32 and bf16 autocast, best
of 2; ``--sizes paper small``: 182 s on a lent H200, results in docs/device.md); ``--quick``: a rehearsal
(small size, G = 6, 4 targets, one run each).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

import ntlib  # noqa: F401  (first: pins torch's float path, ntlib.floatpath)
from ntlib.data.dataset import EOS
from ntlib.machine.device import resolve_device, synchronize
from ntlib.methods import gibbs_enum
from ntlib.methods.models import LSTMLM, Seq2Seq
from ntlib.methods.triggers import random_triggers
from ntlib.run.config import GibbsConfig, ModelConfig
from ntlib.run.estimate import matmul_peak
from ntlib.run.flops import count_flops

TESTS = Path(__file__).resolve().parents[1] / "tests"
sys.path[:0] = [str(TESTS), str(TESTS / "unit")]
from test_gibbs_enum_lockstep import gibbs_enum_before  # noqa: E402  (the search of f89a443)

V = 10_000
SIZES = {"small": ModelConfig(emb=128, hidden=256, dropout=0.0), "paper": ModelConfig(emb=300, hidden=600, dropout=0.0)}
# targets per run (× 3 restarts) on the CPU: about the same candidate rows at both G
CPU_TARGETS = {("small", 100): 2, ("small", 6): 16, ("paper", 100): 1, ("paper", 6): 8}
GPU_TARGETS, GPU_DEFAULTS = 32, {"sizes": ["paper"], "G": [100], "reps": 2}    # paper size alone: about 2 minutes on an H200


def cpu_peak(H: int, dtype: torch.dtype, seconds: float = 1.0) -> float:
    """Best matmul FLOP per CPU-second in ``dtype`` over GEMM shapes of the search (hidden ``H``)."""
    best = 0.0
    for m, k, n in ((1024, 1024, 1024), (768, H, V), (4096, H, 4 * H)):
        a, b = torch.randn(m, k, dtype=dtype), torch.randn(k, n, dtype=dtype)
        a @ b
        reps, t0 = 0, time.process_time()
        while time.process_time() - t0 < seconds:
            a @ b
            reps += 1
        best = max(best, 2 * m * k * n * reps / (time.process_time() - t0))
    return best


def cuda_peak(dev, dtype: torch.dtype) -> float:
    return matmul_peak(dev, dtype)


def random_targets(n: int, gen: torch.Generator) -> torch.Tensor:
    """``n`` targets of 2-6 random words + <eos>, like the malicious lists."""
    tgt = torch.zeros(n, 8, dtype=torch.long)
    for i, m in enumerate(torch.randint(2, 7, (n,), generator=gen).tolist()):
        tgt[i, :m] = torch.randint(5, V, (m,), generator=gen)
        tgt[i, m] = EOS
    return tgt


def timed(fn, dev):
    """(result, wall s, CPU s) of one call (CUDA synchronised)."""
    synchronize(dev)
    t0, c0 = time.perf_counter(), time.process_time()
    res = fn()
    synchronize(dev)
    return res, time.perf_counter() - t0, time.process_time() - c0


def candidate_rows(fn) -> int:
    """Candidate rows ``fn`` scores (ntlib.methods.gibbs_enum._candidate_losses calls counted)."""
    rows, inner = [0], gibbs_enum._candidate_losses

    def counting(seq2seq, lm, x, tgt, lam, pos, cand, chunk):
        rows[0] += cand.numel()
        return inner(seq2seq, lm, x, tgt, lam, pos, cand, chunk)
    gibbs_enum._candidate_losses = counting
    try:
        fn()
    finally:
        gibbs_enum._candidate_losses = inner
    return rows[0]


def compare(size: str, G: int, targets: int, restarts: int, dev, bf16: bool, chunk: int, reps: int,
            peak: float) -> list[dict]:
    """The three searches on ``targets`` × ``restarts`` rows; one dict per search and kind."""
    torch.manual_seed(0)
    s2s, lm = Seq2Seq(V, SIZES[size]).eval().to(dev), LSTMLM(V, SIZES[size]).eval().to(dev)
    gen = torch.Generator().manual_seed(1)
    tgt = random_targets(targets, gen).to(dev)
    init = random_triggers(targets, 15, V, gen).to(dev)
    cfg = GibbsConfig(sweeps=1, candidates=G, restarts=restarts, seed=3)
    out = []
    for io in (False, True):
        searches = {
            "before": lambda: gibbs_enum_before(s2s, tgt, cfg, lm=lm, io=io, init=init, bf16=bf16)[0],
            "lockstep": lambda: gibbs_enum.gibbs_enum(s2s, tgt, cfg, lm=lm, io=io, init=init, bf16=bf16,
                                              per_restart=True).triggers,
            "one-pass": lambda: gibbs_enum.gibbs_enum(s2s, tgt, cfg, lm=lm, io=io, init=init, bf16=bf16,
                                              per_restart=False, chunk_size=chunk).triggers}
        rows = []
        flops = {"lockstep": count_flops(lambda: rows.append(candidate_rows(searches["lockstep"])), (s2s, lm)),
                 "one-pass": count_flops(searches["one-pass"], (s2s, lm))}
        rows = rows[0]
        flops["before"] = flops["lockstep"]                      # the same passes
        best = {}
        for _ in range(reps):
            for k, fn in searches.items():
                r = timed(fn, dev)
                if k not in best or r[1] + r[2] < best[k][1] + best[k][2]:
                    best[k] = r
        seconds = {k: (wall if dev.type == "cuda" else cpu) for k, (_, wall, cpu) in best.items()}
        for k, (trig, wall, cpu) in best.items():
            out.append({"size": size, "G": G, "kind": "io" if io else "o", "search": k, "rows": rows,
                        "rows_per_s": rows / wall, "rows_per_cpu_s": rows / cpu,
                        "gflops": flops[k] / seconds[k] / 1e9, "peak_fraction": flops[k] / seconds[k] / peak,
                        "speedup": seconds["before"] / seconds[k], "same": torch.equal(trig, best["before"][0])})
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cpu", help="cpu (default), cuda, or auto")
    ap.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    ap.add_argument("--G", nargs="+", type=int, default=[100, 6])
    ap.add_argument("--restarts", type=int, default=None, help="default: 3 on the CPU, 5 (the paper's) on a GPU")
    ap.add_argument("--targets", type=int, default=None, help="default: CPU_TARGETS on the CPU, 32 on a GPU")
    ap.add_argument("--chunk", type=int, default=None, help="one-pass rows per pass (default: the device's, "
                    "ntlib.methods.gibbs_enum.chunk_rows)")
    ap.add_argument("--bf16", action="store_true", help="on the CPU also bf16 autocast (always on a GPU)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="small size, G = 6, 4 targets, 1 rep")
    a = ap.parse_args(argv)
    dev = resolve_device(a.device)
    gpu = dev.type == "cuda"
    if gpu and not a.quick:
        for k, v in GPU_DEFAULTS.items():
            if getattr(a, k) == ap.get_default(k):
                setattr(a, k, v)
    if a.quick:
        a.sizes, a.G, a.targets, a.reps = ["small"], [6], 4, 1
    torch.set_num_threads(a.threads)
    restarts = a.restarts or (5 if gpu else 3)
    chunk = a.chunk or gibbs_enum.chunk_rows(GibbsConfig(), dev)
    dtypes = [False, True] if (gpu or a.bf16) else [False]
    name = torch.cuda.get_device_name(dev) if gpu else f"CPU, {torch.get_num_threads()} thread(s)"
    print(f"{name}; torch {torch.__version__}" + (f", CUDA {torch.version.cuda}" if gpu else "")
          + f"; {restarts} restarts, 1 sweep, one-pass chunk {chunk} rows; best of {a.reps}"
          + ("" if gpu else "; rates per CPU-second (process time)"))
    print("| size | G | kind | dtype | search | candidate rows | rows/s (wall) | rows/CPU-s | GFLOP/s | "
          "% of matmul peak | speed-up vs before | same triggers |")
    print("|---" * 12 + "|")
    for size in a.sizes:
        H = SIZES[size].hidden
        for bf16 in dtypes:
            dt = torch.bfloat16 if bf16 else torch.float32
            peak = cuda_peak(dev, dt) if gpu else max(cpu_peak(H, dt) for _ in range(3))
            print(f"| {size} | peak | | {'bf16' if bf16 else 'fp32'} | matmul | | | | {peak / 1e9:.1f} | 100 | | |",
                  flush=True)
            for G in a.G:
                targets = a.targets or (GPU_TARGETS if gpu else CPU_TARGETS[size, G])
                for r in compare(size, G, targets, restarts, dev, bf16, chunk, a.reps, peak):
                    print(f"| {size} | {G} | {r['kind']} | {'bf16' if bf16 else 'fp32'} | {r['search']} | "
                          f"{r['rows']} ({targets} targets) | {r['rows_per_s']:.0f} | {r['rows_per_cpu_s']:.0f} | "
                          f"{r['gflops']:.1f} | {100 * r['peak_fraction']:.1f} | {r['speedup']:.2f}x | {r['same']} |",
                          flush=True)


if __name__ == "__main__":
    main()
