"""Statistical tests behind every verdict in ntlib's tables: a claim *holds* only when a stated test
supports it, *does not hold* when the test supports the opposite, and is *inconclusive* otherwise.

- Hit rates (Table 3) are paired outcomes on the same targets: "the rate fell" is an exact one-sided
  McNemar test on the discordant pairs; "the rate is below 5 %" an exact one-sided binomial test.
- Response statistics (Table 4/9: max-ratio, Ent-n, distinct-n, BLEU) and PPL of two models on the
  same inputs: a paired bootstrap that resamples the test *dialogues* (the inputs of one dialogue are
  not independent: :func:`paired_cluster_bootstrap`, fixed seed) gives an interval for the difference.
- A family of exact tests (Table 3's per baseline) is corrected with Holm's step-down (:func:`holm`).
- Trained models come from several independently trained baselines: a claim about a trained model
  holds only when it holds on every baseline (and, for an interval, across them: Student t).
- Human A/B ratings (Table 6): the two-sided sign test on the decisive ratings.
A verdict that compares with a threshold reads the interval, never the point estimate. Pure Python
(no SciPy): exact binomial sums with ``math.comb``; t quantiles from a table.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Callable, Sequence

HOLDS, FAILS, INCONCLUSIVE = "holds", "does not hold", "inconclusive"
ALPHA = 0.05
BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 0

# Student-t 0.975 quantiles, df = 1..30 (two-sided 95 %); df > 30 uses the normal 1.96
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
         2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
         2.052, 2.048, 2.045, 2.042)


@dataclass(frozen=True)
class Verdict:
    """One of the paper's claims judged on our run: outcome and the test it rests on."""
    claim: str
    outcome: str            # HOLDS | FAILS | INCONCLUSIVE
    evidence: str           # the test and the figures, e.g. "exact McNemar (one-sided): 5 fell, 0 rose, p = 0.031"

    def __post_init__(self):
        if self.outcome not in (HOLDS, FAILS, INCONCLUSIVE):
            raise ValueError(f"Verdict.outcome = {self.outcome!r}: must be one of {HOLDS!r}, {FAILS!r}, "
                             f"{INCONCLUSIVE!r}")

    @property
    def symbol(self) -> str:
        return {HOLDS: "✔", FAILS: "✘", INCONCLUSIVE: "~"}[self.outcome]

    def markdown(self) -> str:
        return f"- {self.symbol} {self.outcome}: {self.claim} — {self.evidence}"


def binom_cdf(k: int, n: int, p: float) -> float:
    """P(X ≤ k) for X ~ Binomial(n, p), summed exactly."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    return min(1.0, sum(math.comb(n, i) * p ** i * (1 - p) ** (n - i) for i in range(k + 1)))


def binomial_below(k: int, n: int, p0: float) -> float:
    """Exact one-sided binomial test of H1 "the rate is below p0" after k hits in n: p = P(X ≤ k | p0)."""
    if not 0 < p0 < 1:
        raise ValueError(f"p0 = {p0}: must be in (0, 1)")
    return binom_cdf(k, n, p0)


def mcnemar_fell(fell: int, rose: int) -> float:
    """Exact one-sided McNemar test of H1 "the rate fell" on paired outcomes: ``fell`` pairs were a hit
    before and a miss after, ``rose`` a miss before and a hit after; p = P(X ≥ fell | fell + rose, ½)."""
    n = fell + rose
    return 1.0 if n == 0 else 1.0 - binom_cdf(fell - 1, n, 0.5)


def sign_test(wins: int, losses: int) -> float:
    """Exact two-sided sign test of "one system is preferred" on decisive ratings (ties left out):
    p = min(1, 2·P(X ≤ min(wins, losses) | wins + losses, ½))."""
    n = wins + losses
    return 1.0 if n == 0 else min(1.0, 2 * binom_cdf(min(wins, losses), n, 0.5))


def paired_counts(before: Sequence[bool], after: Sequence[bool]) -> tuple[int, int]:
    """(fell, rose): discordant pairs of two hit vectors over the same targets."""
    if len(before) != len(after):
        raise ValueError(f"paired outcomes need the same targets: {len(before)} before, {len(after)} after")
    fell = sum(1 for b, a in zip(before, after) if b and not a)
    rose = sum(1 for b, a in zip(before, after) if a and not b)
    return fell, rose


def paired_bootstrap(statistic: Callable[[list], float], a: Sequence, b: Sequence,
                     resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED,
                     level: float = 0.95) -> dict:
    """Bootstrap over inputs of ``statistic(b) − statistic(a)``, where ``a[i]`` and ``b[i]`` are two
    systems' outputs for the same input i (each resample draws the same indices for both).
    Returns the observed difference, the percentile interval and the resample count."""
    if len(a) != len(b) or not a:
        raise ValueError(f"a paired bootstrap needs the same non-empty inputs: {len(a)} vs {len(b)}")
    rng, n = random.Random(seed), len(a)
    diffs = []
    for _ in range(resamples):
        idx = [rng.randrange(n) for _ in range(n)]
        diffs.append(statistic([b[i] for i in idx]) - statistic([a[i] for i in idx]))
    lo, hi = percentile_interval(sorted(diffs), level)
    return {"diff": statistic(list(b)) - statistic(list(a)), "lo": lo, "hi": hi,
            "resamples": resamples, "seed": seed, "n": n}


def cluster_resamples(clusters: Sequence, resamples: int = BOOTSTRAP_RESAMPLES,
                      seed: int = BOOTSTRAP_SEED) -> list:
    """For each resample, the item indices (numpy, with repeats) of as many clusters as there are, drawn
    with replacement: a drawn cluster brings all its items (``clusters[i]`` names item i's cluster)."""
    import numpy as np
    labels = np.asarray(list(clusters))
    names, inverse = np.unique(labels, return_inverse=True)
    members = [np.flatnonzero(inverse == k) for k in range(len(names))]
    rng = np.random.default_rng(seed)
    return [np.concatenate([members[k] for k in rng.integers(0, len(names), len(names))])
            for _ in range(resamples)]


def paired_cluster_bootstrap(difference: Callable, clusters: Sequence, resamples: int = BOOTSTRAP_RESAMPLES,
                             seed: int = BOOTSTRAP_SEED, level: float = 0.95) -> dict:
    """Bootstrap of a paired difference over *clusters* of items (the test dialogues): ``difference(idx)``
    computes stat(b) − stat(a) on the items ``idx`` (both systems on the same items); each resample draws
    the clusters with replacement (:func:`cluster_resamples`). Returns the observed difference, the
    percentile interval, the item and cluster counts, the resamples and the seed."""
    import numpy as np
    n = len(clusters)
    if n == 0:
        raise ValueError("a paired cluster bootstrap needs items")
    diffs = sorted(float(difference(idx)) for idx in cluster_resamples(clusters, resamples, seed))
    lo, hi = percentile_interval(diffs, level)
    return {"diff": float(difference(np.arange(n))), "lo": lo, "hi": hi, "n": n,
            "clusters": len(set(clusters)), "resamples": resamples, "seed": seed}


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values of a family, in the input order: the i-th smallest of m is
    multiplied by (m − i + 1), made monotone, capped at 1. A claim holds when its adjusted p < α: the
    family's chance of any false claim stays below α."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted, running = [0.0] * m, 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def percentile_interval(resampled: Sequence[float], level: float = 0.95) -> tuple:
    """The percentile interval of sorted bootstrap statistics ``resampled`` at ``level``."""
    n = len(resampled)
    lo_i = int(math.floor((1 - level) / 2 * n))
    hi_i = min(n - 1, int(math.ceil((1 + level) / 2 * n)) - 1)
    return resampled[lo_i], resampled[hi_i]


def seed_interval(values: Sequence[float], level: float = 0.95,
                  bounds: tuple[float, float] | None = None) -> dict:
    """Mean across seeds with its Student-t 95 % interval (a single seed has no interval). ``bounds``: the
    quantity's range (a share lies in [0, 1]); the interval is clipped to it, for showing — a verdict
    reads the unclipped one."""
    if level != 0.95:
        raise ValueError("seed_interval: only the 95 % level is tabulated")
    n = len(values)
    if n == 0:
        raise ValueError("seed_interval: no values")
    mean = sum(values) / n
    if bounds is not None and not bounds[0] <= mean <= bounds[1]:
        raise ValueError(f"seed_interval: mean {mean:.6g} lies outside the range {bounds} the interval is clipped "
                         "to: bounds of another quantity")
    if n == 1:
        return {"mean": mean, "lo": float("nan"), "hi": float("nan"), "n": 1}
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    t = _T975[n - 2] if n - 1 <= len(_T975) else 1.96
    half = t * sd / math.sqrt(n)
    lo, hi = mean - half, mean + half
    if bounds is not None:
        lo, hi = max(lo, bounds[0]), min(hi, bounds[1])
    return {"mean": mean, "lo": lo, "hi": hi, "n": n}


def compare_interval(lo: float, hi: float, threshold: float, want: str) -> str:
    """Outcome of "the quantity is {above|below} ``threshold``" read off an interval [lo, hi]:
    holds when the whole interval is strictly on the wanted side, does not hold when it is strictly on
    the other side, inconclusive when it touches or straddles the threshold (or is undefined)."""
    if want not in ("above", "below"):
        raise ValueError(f"want = {want!r}: 'above' or 'below'")
    if math.isnan(lo) or math.isnan(hi):
        return INCONCLUSIVE
    wanted, opposite = (lo > threshold, hi < threshold) if want == "above" else (hi < threshold, lo > threshold)
    return HOLDS if wanted else FAILS if opposite else INCONCLUSIVE


def band_interval(lo: float, hi: float, low: float, high: float) -> str:
    """Outcome of "the quantity lies within (``low``, ``high``)" read off an interval [lo, hi]: holds when
    the whole interval is strictly inside, does not hold when it is strictly outside, inconclusive when
    it touches or straddles a bound (or is undefined) — :func:`compare_interval`'s rule on two sides."""
    if math.isnan(lo) or math.isnan(hi):
        return INCONCLUSIVE
    return HOLDS if low < lo and hi < high else FAILS if hi < low or lo > high else INCONCLUSIVE


def outcome_from_p(p_claim: float, p_opposite: float | None = None, alpha: float = ALPHA) -> str:
    """Holds when the one-sided test of the claim rejects at ``alpha``; does not hold when the test of
    the opposite does; inconclusive otherwise (a test that does not reject shows nothing)."""
    if p_claim < alpha:
        return HOLDS
    if p_opposite is not None and p_opposite < alpha:
        return FAILS
    return INCONCLUSIVE
