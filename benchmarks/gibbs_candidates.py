"""Benchmark: how many gibbs-enum candidates G the ``small`` profile's search needs (App. A).

The paper tries G = 100 candidates per position over T = 5 sweeps; notebook 03's ``small`` search is one
sweep, and its time is mostly candidate scoring, linear in G. This script runs the baseline's Table 3
searches (o-sample-avg and io-sample-avg, the ``small`` profile's 100 training and 100 test targets,
same seed) at several G on the trained ``small`` baselines and prints, per G, the hits found, how many
targets' outcome differs from the largest G (paired, same targets), and the seconds — side by side,
as ratios to the largest G. It trains nothing: the baselines must exist under ``--run-root`` (notebook
02 or ``make reproduce`` put them there).

Run: ``.venv/bin/python benchmarks/gibbs_candidates.py --run-root runs`` (about 5 minutes on 2 cores).
"""
from __future__ import annotations

import argparse
import time

import torch

import ntlib  # noqa: F401  (pins the float path before torch computes: ntlib.machine.floatpath)
from ntlib.data.targets import load_targets
from ntlib.methods import malicious
from ntlib.methods.hits import thresholds
from ntlib.run import pipeline
from ntlib.run.config import override
from ntlib.run.profiles import get_profile

HIT_TYPES = ("o_sample_avg", "io_sample_avg")     # Table 3, Switchboard


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run-root", default="runs", help="where notebook 02 left the small baselines")
    ap.add_argument("--candidates", type=int, nargs="+", default=[10, 8, 6, 5], help="values of G, largest first")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: every core)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    P = get_profile("small", "switchboard", seed=1)
    run_dir = pipeline.baselines_run_dir(P, args.run_root)
    missing = [k for k in ("lm", "seq2seq") if not (run_dir / f"{k}.pt").is_file()]
    if missing:
        raise SystemExit(f"no trained small baselines in {run_dir} ({', '.join(f'{k}.pt' for k in missing)} missing): "
                         "run notebook 02 (or make reproduce) first; this benchmark only searches")
    b = pipeline.baselines(P, run_root=args.run_root, progress=False)
    thr = thresholds(b.seq2seq, b.lm, b.data.test)
    lists = {n: load_targets(n, b.data.vocab, None, max_targets=P.malicious.max_targets, seed=1,
                                       max_len=P.data.max_tgt_len) for n in ("train", "test")}
    print(f"small baselines {b.run_dir.name}; {torch.get_num_threads()} threads; "
          f"{' / '.join(str(len(t.sentences)) for t in lists.values())} train / test targets; "
          f"T = {P.gibbs.sweeps}, restarts = {P.gibbs.restarts}")
    rows, ref = [], None
    for G in args.candidates:
        g = override(P.gibbs, candidates=G)
        hits, seconds = {}, {}
        for ht in HIT_TYPES:
            t0 = time.time()
            for n, t in lists.items():
                hits[ht, n] = malicious.evaluate_hits(b.seq2seq, b.lm, t.tensor, thr, (ht,), g)[ht]["hits"]
            seconds[ht] = time.time() - t0
        ref = ref or (hits, seconds)
        rows.append((G, hits, seconds))
    head = " | ".join(f"{ht} {n}" for ht in HIT_TYPES for n in lists)
    print(f"| G | {head} | seconds o / io (ratio to G = {args.candidates[0]}) |")
    print("|---" * (2 + 2 * len(HIT_TYPES)) + "|")
    for G, hits, seconds in rows:
        cells = [f"{int(hits[k].sum())} ({int((hits[k] != ref[0][k]).sum())} differ)" for k in hits]
        secs = " / ".join(f"{seconds[ht]:.1f} s ({seconds[ht] / ref[1][ht]:.2f})" for ht in HIT_TYPES)
        print(f"| {G} | " + " | ".join(cells) + f" | {secs} |")


if __name__ == "__main__":
    main()
