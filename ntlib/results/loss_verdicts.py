"""Notebook 07's claims (beyond the paper): per negative loss, on Algorithm 1 the hit rates fell (exact
McNemar per seed), the training-list rate is below 5 %, PPL stays within 5 %, benign neighbours lose less
than the targets; on Algorithm 2 max-ratio fell, PPL within 10 %, responses not degenerate; and each loss
against the paper's nll, paired by seed. Tables: :mod:`ntlib.stages.losses_compared`.
"""
from __future__ import annotations

from ntlib.results import stats
from ntlib.results.stats import INCONCLUSIVE, Verdict
from ntlib.results.tables import MixedResultsError, check_same_inputs
from ntlib.results.verdicts import (
    DEGENERATE_MARGIN,
    PPL_CHANGE,
    below,
    bootstrap_diff,
    fell,
    interval_verdict,
    per_seed,
    ppl_verdict,
    three_digits,
    verdict,
)


def loss_order(res: dict) -> list[str]:
    """The negative losses of ``res`` in ONE order whatever the dicts' order: the config's ``losses``
    first, then any other loss that ran, sorted. ``reports.write_json`` sorts keys, so the results JSON
    read back lists ``cringe, nll, unlikelihood`` where the notebook's own dict had the config's
    ``nll, unlikelihood, cringe``: everything built from ``res`` (table, summary, verdicts) iterates this
    order, so the notebook's report and anything recomputed from its JSON agree line for line."""
    m, f = res.get("malicious"), res.get("frequent")
    ran = set(m["runs"] if m else ()) | {k for k in (f["rows"] if f else {}) if k not in ("Test-set", "Baseline")}
    order = list(res.get("config", {}).get("losses", ())) + sorted(ran)
    return [loss for loss in dict.fromkeys(order) if loss in ran]


def in_order(d: dict, order: list[str]):
    """``(loss, d[loss])`` for the losses of ``order`` that ``d`` holds, in that order."""
    return [(x, d[x]) for x in order if x in d]


LOGP_FMT = "{:+.4f}"     # log-probability changes (nats): an absolute precision, as their float noise is absolute


def fell_per_seed(loss: str, m: dict, split: str) -> Verdict:
    """"Algorithm 1 with ``loss`` lowers the ``split`` list's hit rate": exact McNemar per seed."""
    runs, what = m["runs"][loss], {"train": "training-list", "test": "test-list"}[split]
    return per_seed(f"{loss}: Algorithm 1 lowers the {what} hit rate ({m['hit_type']})", [r["seed"] for r in runs],
                     [fell("", m["baseline"][split], r[split]) for r in runs])


def _malicious_loss_verdicts(m: dict, order: list[str]) -> list[Verdict]:
    base, out = m["baseline"], []
    for loss, runs in in_order(m["runs"], order):
        seeds = [r["seed"] for r in runs]
        out += [fell_per_seed(loss, m, "train"), fell_per_seed(loss, m, "test")]
        out.append(per_seed(f"{loss}: training-list hit rate after Algorithm 1 is below 5 %", seeds,
                             [below("", r["train"]) for r in runs]))
        out.append(ppl_verdict(f"{loss}: Algorithm 1 moves test PPL by < {100 * PPL_CHANGE:g} %", base["ppl"],
                                runs, tol=PPL_CHANGE))
        out.append(interval_verdict(f"{loss}: benign neighbours lose less log-probability than the targets "
                                     "(collateral damage below the intended damage)",
                                     [r["collateral"]["targets"] - r["collateral"]["neighbours"] for r in runs],
                                     0.0, "below", "Δ log p(target) − Δ log p(neighbour)", LOGP_FMT))
    return out


def _paired_by_seed(claim: str, a: list[dict], b: list[dict], key: str, want: str) -> Verdict:
    """stat(b) − stat(a) {want} 0 for two losses' records of the same seeds on the same inputs: a paired
    bootstrap over inputs per seed, and the Student-t interval across seeds; holds only when all agree."""
    outcomes, parts, diffs = [], [], []
    for ra, rb in zip(a, b):
        bs = bootstrap_diff(ra, rb, key)
        diffs.append(bs["diff"])
        outcomes.append(stats.compare_interval(bs["lo"], bs["hi"], 0.0, want))
        parts.append(f"seed {ra.get('seed')}: {three_digits(bs['diff'])} [{three_digits(bs['lo'])}, {three_digits(bs['hi'])}]")
    evidence = (f"{key} difference {want} 0; paired bootstrap over {a[0]['n_inputs']} inputs per seed "
                f"({stats.BOOTSTRAP_RESAMPLES} resamples): " + "; ".join(parts))
    if len(diffs) > 1:
        s = stats.seed_interval(diffs)
        outcomes.append(stats.compare_interval(s["lo"], s["hi"], 0.0, want))
        evidence += f"; across seeds {three_digits(s['mean'])} [{three_digits(s['lo'])}, {three_digits(s['hi'])}] (Student t)"
    return Verdict(claim, outcomes[0] if len(set(outcomes)) == 1 else INCONCLUSIVE, evidence)


def _same_seeds(what: str, a: list[dict], b: list[dict]) -> None:
    """Two losses compared seed by seed must list the same seeds in the same order (they are zipped)."""
    sa, sb = [r.get("seed") for r in a], [r.get("seed") for r in b]
    if sa != sb:
        raise MixedResultsError(f"{what} are paired by seed but list seeds {sb} and {sa}")


def loss_verdicts(res: dict, reference: str = "nll") -> list[Verdict]:
    """Notebook 07's claims, each with its test: per loss, on Algorithm 1 the hit rates fell (exact
    McNemar against the baseline, per seed), the training-list rate is below 5 % (binomial), PPL within
    5 % and neighbours damaged less than targets (interval across seeds); on Algorithm 2 max-ratio fell
    (paired bootstrap), PPL within 10 %, responses not degenerate; and against ``reference`` (the
    paper's nll), paired by seed: a lower test-list hit rate (McNemar on the same targets and search),
    less collateral damage and a smaller PPL change (interval across seeds), a lower max-ratio
    (bootstrap). A claim tested per seed holds only when every seed's test holds."""
    out, order = [], loss_order(res)     # one order in memory and read back from the JSON (sorted keys)
    m, f = res.get("malicious"), res.get("frequent")
    if m:
        out += _malicious_loss_verdicts(m, order)
        ref = m["runs"].get(reference)
        for loss, runs in in_order(m["runs"], order):
            if loss == reference or ref is None:
                continue
            _same_seeds(f"malicious runs of {loss!r} and {reference!r}", ref, runs)
            seeds = [r["seed"] for r in runs]
            out.append(per_seed(f"{loss} vs {reference}: lower test-list hit rate after Algorithm 1", seeds,
                                 [fell("", a["test"], b["test"]) for a, b in zip(ref, runs)]))
            out.append(interval_verdict(f"{loss} vs {reference}: less collateral damage (neighbours lose less)",
                                         [b["collateral"]["neighbours"] - a["collateral"]["neighbours"]
                                          for a, b in zip(ref, runs)], 0.0, "above",
                                         "Δ log p(neighbour) difference", LOGP_FMT))
            out.append(interval_verdict(f"{loss} vs {reference}: lower test PPL after Algorithm 1",
                                         [b["ppl"] - a["ppl"] for a, b in zip(ref, runs)], 0.0, "below",
                                         "PPL difference"))
    if f:
        rows = f["rows"]
        check_same_inputs(rows)
        base, test = rows["Baseline"][0], rows["Test-set"][0]
        for loss, recs in in_order(rows, order):
            out.append(verdict(f"{loss}: Algorithm 2 lowers max-ratio", base, recs, "max_ratio", "below",
                                describe="max-ratio"))
            out.append(ppl_verdict(f"{loss}: Algorithm 2 moves PPL by < 10 %", base["ppl"], recs))
            out.append(verdict(f"{loss}: Algorithm 2 does not make responses degenerate (share repeating a "
                                f"4-gram at most {100 * DEGENERATE_MARGIN:g} points above the test set's)", test, recs,
                                "rep4_share", "below", threshold=DEGENERATE_MARGIN,
                                describe="share repeating a 4-gram"))
        ref = rows.get(reference)
        for loss, recs in in_order(rows, order):
            if loss == reference or ref is None:
                continue
            _same_seeds(f"frequent rows of {loss!r} and {reference!r}", ref, recs)
            out.append(_paired_by_seed(f"{loss} vs {reference}: lower max-ratio after Algorithm 2", ref, recs,
                                       "max_ratio", "below"))
            out.append(interval_verdict(f"{loss} vs {reference}: lower test PPL after Algorithm 2",
                                         [b["ppl"] - a["ppl"] for a, b in zip(ref, recs)], 0.0, "below",
                                         "PPL difference"))
    return out
