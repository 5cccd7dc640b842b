"""What notebook 03 costs in FLOPs, and its time on N GPUs derived from them (issue 31).

``count_flops`` counts a function's matmuls with ``torch.utils.flop_counter`` plus the LSTM cells (which the
counter does not see); ``search_flops`` splits a gibbs-enum row-position into the eq. 10 gradient and one
scored candidate; ``gpu_estimate`` spreads the independent pieces of work (each baseline's searches, each
Algorithm 1 run with its re-evaluation) over N GPUs largest first, or shards every piece's searches over all N,
at a stated fraction of a stated matmul peak — derived, not measured. ``python -m ntlib.run.reproduce --estimate``
prints it under the measured estimate.
"""
from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode

from ntlib.data import dataset
from ntlib.data.dataset import EOS, PAD, DataError
from ntlib.data.targets import load_targets
from ntlib.methods import gibbs_enum, triggers

# matmul peaks of one NVIDIA H200 (n = 8192 GEMMs, torch 2.11.0+cu130), measured on a lent H200 in an earlier
# run (docs/device.md); used by gpu_estimate when no GPU is at hand to measure its own
H200_PEAK_FLOPS = {"fp32": 50.8e12, "bf16": 778e12}
EFFICIENCY = 0.4        # assumed fraction of the peak a batched search sustains (issue 31's planning figure)
GPUS = (1, 2, 4, 8)


def count_flops(fn, models) -> int:
    """FLOPs of one call of ``fn``: matmuls (torch's ``FlopCounterMode``) + LSTM cells (forward hooks).

    ``FlopCounterMode`` does not see inside ``nn.LSTM``; a cell costs 8·H·(E+H) per token (four
    gates' input and recurrent matmuls), ×3 when the call is differentiated (forward + two in backward).
    """
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
            fn()
    finally:
        for h in handles:
            h.remove()
    return fc.get_total_flops() + lstm_flops[0]


def search_flops(s2s, lm, g, tgt: torch.Tensor, generator: torch.Generator) -> dict:
    """FLOPs per gibbs-enum row-position (App. A, Algorithm 3) of o- and io- searches:
    ``{"o": {"gradient": …, "candidate": …}, "io": …}``.

    Counted over all n - 1 positions for the rows ``tgt`` ``(B, T)`` in one pass, as a GPU runs a
    mini-batch (the decoder runs to the widest target), at G = 2 and 4: the difference is the
    candidates', the rest the eq. 10 gradient's.
    """
    tgt = dataset.trim(tgt)
    x = triggers.random_triggers(len(tgt), g.input_len, s2s.vocab_size, generator).to(tgt.device)
    out = {}
    s2s.eval(), lm.eval()
    for io in (False, True):
        lam = g.lambda_in if io else 0.0

        def sweep(G):
            for pos in range(g.input_len - 1):
                cand = gibbs_enum._top_candidates(s2s, lm, x, tgt, lam, pos, G)
                gibbs_enum._candidate_losses(s2s, lm, x, tgt, lam, pos, cand, 10 ** 9)
        f2, f4 = (count_flops(lambda G=G: sweep(G), (s2s, lm)) for G in (2, 4))
        row_positions = len(tgt) * (g.input_len - 1)
        cand = (f4 - f2) / (2 * row_positions)
        out["io" if io else "o"] = {"gradient": f2 / row_positions - 2 * cand, "candidate": cand}
    return out


def _flop_targets(P, ds, data_dir, generator: torch.Generator, rows: int = 4) -> torch.Tensor:
    """``rows`` malicious targets for :func:`search_flops`: random ones and the longest of the 0.5k list
    (when the lists and the corpus's vocabulary are found), else targets of 2, 3, 5 and 8 words."""
    try:
        t = load_targets("train", ds.vocab, data_dir, max_len=P.data.max_tgt_len).tensor
    except (DataError, OSError, ValueError):
        t = torch.zeros(0, 1, dtype=torch.long)
    if len(t) < rows:                          # not found, or the synthetic vocabulary knows no word of it
        t = torch.zeros(rows, 9, dtype=torch.long)
        for i, m in enumerate((2, 3, 5, 8)[:rows]):
            t[i, :m] = torch.randint(5, len(ds.vocab), (m,), generator=generator)
            t[i, m] = EOS
        return t
    longest = int((t != PAD).sum(1).argmax())
    pick = torch.randperm(len(t), generator=generator)[:rows - 1].tolist()
    return t[pick + [longest]]


def makespan(loads, gpus: int) -> float:
    """The largest GPU load when the independent ``loads`` go, largest first, each to the least loaded of ``gpus``."""
    per = [0.0] * gpus
    for load in sorted(loads, reverse=True):
        per[per.index(min(per))] += load
    return max(per)


def gpu_estimate(jobs: dict, peaks: dict, efficiency: float = EFFICIENCY, gpus=GPUS,
                 sequential: dict | None = None) -> dict:
    """Seconds of ``jobs`` (name → FLOPs) on N GPUs at ``efficiency`` × each of ``peaks`` (dtype → FLOP/s):
    ``{N: {dtype: seconds}}``. Without ``sequential``, jobs are whole, spread largest first (:func:`makespan`).
    With it (name → the FLOPs of a job that one GPU runs alone: Algorithm 1's updates), the jobs run one after
    another, each with the rest of its FLOPs — its searches — split over all N GPUs (torchrun:
    ``sharded_hits`` and Algorithm 1's search blocks, :mod:`ntlib.machine.distributed`)."""
    def seconds(N):
        if sequential is None:
            return makespan(list(jobs.values()), N)
        return sum((f - sequential.get(k, 0.0)) / N + sequential.get(k, 0.0) for k, f in jobs.items())
    return {N: {dt: seconds(N) / (efficiency * peak) for dt, peak in peaks.items()} for N in gpus}
