"""Notebook 07's claims (beyond the paper), each judged on every independently trained baseline and across
them. Per negative loss, on Algorithm 1: the hit rates fell (exact McNemar against the hits of the baseline
the loss was trained from, same targets and evaluation search), the training-list rate is below 5 % (exact
binomial), test PPL moves by < 5 %, benign neighbours lose less than the targets; on Algorithm 2: max-ratio
fell, PPL moves by < 10 %, responses are not degenerate; and each loss against the paper's nll trained from
the same baseline. A claim holds (does not hold) only when it does on every baseline — at least
:data:`ntlib.results.hit_verdicts.MIN_BASELINES` — and, where an interval across baselines is read, by that
interval too; otherwise it is inconclusive. Runs: :mod:`ntlib.stages.losses_compared`; tables:
:mod:`ntlib.results.loss_tables`.
"""
from __future__ import annotations

from collections.abc import Callable

from ntlib.results import stats
from ntlib.results.hit_verdicts import MIN_BASELINES, PPL_CHANGE, Test, across_baselines, binomial, mcnemar
from ntlib.results.stats import INCONCLUSIVE, Verdict
from ntlib.results.tables import MixedResultsError, check_same_inputs
from ntlib.results.verdicts import DEGENERATE_MARGIN, pair_by_seed, ppl_verdict, verdict

LOGP_FMT = "{:+.4f}"     # log-probability changes (nats): an absolute precision, as their float noise is absolute
PPL_DIFF_FMT = "{:+.2f}"  # perplexity differences, to 0.01 PPL: a difference under 0.005 is a tie
SPLITS = {"train": "training-list", "test": "test-list"}


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


# -- pairing by baseline --------------------------------------------------------------------------------
def paired(what: str, ref: list[dict], recs: list[dict]) -> list[tuple[dict, dict]]:
    """(reference, record) pairs of the same baseline seed, in ``recs``' order. A loss is compared with the
    records of the baselines it was trained from: both lists must hold the same baselines (any order), each
    once — otherwise the results mix runs of other baselines, and :class:`MixedResultsError` says so."""
    sr, sa = [r.get("seed") for r in ref], [r.get("seed") for r in recs]
    if len(set(sa)) != len(sa) or len(set(sr)) != len(sr) or set(sa) != set(sr):
        raise MixedResultsError(f"{what} are paired by baseline but are of baseline seeds {sa} and {sr}")
    return pair_by_seed(ref, recs)


def exact_on_baselines(claim: str, pairs: list[tuple[dict, dict]], test: Callable[[dict, dict], Test]) -> Verdict:
    """An exact test (McNemar, binomial: :mod:`ntlib.results.hit_verdicts`) of each baseline's pair, as a single
    verdict per baseline (no family), then :func:`ntlib.results.hit_verdicts.across_baselines`: holds (does not
    hold) when it does on every baseline, at least :data:`MIN_BASELINES` of them."""
    by_seed = {rec["seed"]: test(ref, rec) for ref, rec in pairs}
    return across_baselines(claim, by_seed, list(by_seed))


def shown(value: float, fmt: str) -> float:
    """``value`` rounded to the precision ``fmt`` shows it at, with no negative zero: the number a verdict of
    :func:`across_values` judges. ``fmt`` is an absolute precision (``"{:+.4f}"``, ``"{:+.2f}"``), so a
    difference smaller than half its last digit reads 0 — on neither side of a threshold of 0."""
    return float(fmt.format(value)) + 0.0


def across_values(claim: str, values: dict, threshold: float, want: str, what: str, fmt: str) -> Verdict:
    """"``what`` is {want} ``threshold``" for a figure measured once per baseline ({baseline seed: value}): holds
    (does not hold) when every baseline's value and the Student-t 95 % interval across the baselines lie on the
    claimed (opposite) side; inconclusive otherwise, or on fewer than :data:`MIN_BASELINES` baselines.

    Values are judged as shown, rounded to ``fmt``'s absolute precision (:func:`shown`), and the interval is
    computed from those: a difference below the shown precision is a tie, not a side — two losses that are
    equal up to float noise (NPO at small β is nll to first order) read the same on every CPU's float path,
    where the sign of a 1e-6 difference is the float path's, not the method's."""
    values = {seed: shown(v, fmt) for seed, v in values.items()}
    listed = "(" + ", ".join(f"seed {seed}: {fmt.format(v)}" for seed, v in values.items()) + ")"
    if len(values) < MIN_BASELINES:
        return Verdict(claim, INCONCLUSIVE, f"{what} per baseline {listed}; {len(values)} baseline(s): a claim "
                                            f"about the method needs ≥ {MIN_BASELINES}")
    s = {k: shown(v, fmt) if k != "n" else v for k, v in stats.seed_interval(list(values.values())).items()}
    outcomes = {stats.compare_interval(v, v, threshold, want) for v in values.values()}
    across = stats.compare_interval(s["lo"], s["hi"], threshold, want)
    outcome = across if outcomes == {across} else INCONCLUSIVE
    disagree = "; the baselines disagree" if len(outcomes) > 1 else ""
    return Verdict(claim, outcome, f"{what} per baseline {listed}; mean {fmt.format(s['mean'])} "
                                   f"[{fmt.format(s['lo'])}, {fmt.format(s['hi'])}] (Student t, {len(values)} "
                                   f"baselines) {want} {threshold:g}" + disagree)


# -- the claims -------------------------------------------------------------------------------------------
def fell_on_baselines(loss: str, m: dict, split: str) -> Verdict:
    """"Algorithm 1 with ``loss`` lowers the ``split`` list's hit rate": on each baseline an exact McNemar of
    the run's per-target hits against that baseline's (same targets, same evaluation search)."""
    pairs = paired(f"malicious runs of {loss!r} and the baselines' hits", m["baseline"], m["runs"][loss])
    return exact_on_baselines(f"{loss}: Algorithm 1 lowers the {SPLITS[split]} hit rate ({m['hit_type']})", pairs,
                              lambda base, run: mcnemar("", base[split], run[split]))


def _malicious_loss_verdicts(m: dict, order: list[str]) -> list[Verdict]:
    base, out = m["baseline"], []
    for loss, runs in in_order(m["runs"], order):
        pairs = paired(f"malicious runs of {loss!r} and the baselines' hits", base, runs)
        out += [fell_on_baselines(loss, m, "train"), fell_on_baselines(loss, m, "test")]
        out.append(exact_on_baselines(f"{loss}: training-list hit rate after Algorithm 1 is below 5 %", pairs,
                                      lambda _, run: binomial("", run["train"])))
        out.append(ppl_verdict(f"{loss}: Algorithm 1 moves test PPL by < {100 * PPL_CHANGE:g} %", base, runs,
                               tol=PPL_CHANGE))
        out.append(across_values(f"{loss}: benign neighbours lose less log-probability than the targets "
                                 "(collateral damage below the intended damage)",
                                 {r["seed"]: r["collateral"]["targets"] - r["collateral"]["neighbours"] for r in runs},
                                 0.0, "below", "Δ log p(target) − Δ log p(neighbour)", LOGP_FMT))
    return out


def _malicious_vs_reference(m: dict, order: list[str], reference: str) -> list[Verdict]:
    ref, out = m["runs"].get(reference), []
    for loss, runs in in_order(m["runs"], order):
        if loss == reference or ref is None:
            continue
        pairs = paired(f"malicious runs of {loss!r} and {reference!r}", ref, runs)
        out.append(exact_on_baselines(f"{loss} vs {reference}: lower test-list hit rate after Algorithm 1", pairs,
                                      lambda a, b: mcnemar("", a["test"], b["test"])))
        out.append(across_values(f"{loss} vs {reference}: less collateral damage (neighbours lose less)",
                                 {b["seed"]: b["collateral"]["neighbours"] - a["collateral"]["neighbours"]
                                  for a, b in pairs}, 0.0, "above", "Δ log p(neighbour) difference", LOGP_FMT))
        out.append(across_values(f"{loss} vs {reference}: lower test PPL after Algorithm 1",
                                 {b["seed"]: b["ppl"] - a["ppl"] for a, b in pairs}, 0.0, "below", "PPL difference",
                                 PPL_DIFF_FMT))
    return out


def _frequent_verdicts(rows: dict, order: list[str], reference: str) -> list[Verdict]:
    check_same_inputs(rows)
    base, test, out = rows["Baseline"], rows["Test-set"][0], []
    for loss, recs in in_order(rows, order):
        paired(f"frequent rows of {loss!r} and the Baseline", base, recs)
        out.append(verdict(f"{loss}: Algorithm 2 lowers max-ratio", base, recs, "max_ratio", "below",
                           describe="max-ratio"))
        out.append(ppl_verdict(f"{loss}: Algorithm 2 moves PPL by < 10 %", base, recs))
        out.append(verdict(f"{loss}: Algorithm 2 does not make responses degenerate (share repeating a "
                           f"4-gram at most {100 * DEGENERATE_MARGIN:g} points above the test set's)", test, recs,
                           "rep4_share", "below", threshold=DEGENERATE_MARGIN, describe="share repeating a 4-gram"))
    ref = rows.get(reference)
    for loss, recs in in_order(rows, order):
        if loss == reference or ref is None:
            continue
        pairs = paired(f"frequent rows of {loss!r} and {reference!r}", ref, recs)
        out.append(verdict(f"{loss} vs {reference}: lower max-ratio after Algorithm 2", ref, recs, "max_ratio",
                           "below", describe="max-ratio"))
        out.append(across_values(f"{loss} vs {reference}: lower test PPL after Algorithm 2",
                                 {b["seed"]: b["ppl"] - a["ppl"] for a, b in pairs}, 0.0, "below", "PPL difference",
                                 PPL_DIFF_FMT))
    return out


def loss_verdicts(res: dict, reference: str = "nll") -> list[Verdict]:
    """Notebook 07's claims, each with its test, judged on every baseline and across them: per loss, on
    Algorithm 1 the hit rates fell (exact McNemar against its baseline's hits), the training-list rate is
    below 5 % (exact binomial), PPL within 5 % (interval across baselines of PPL / its baseline's PPL) and
    neighbours damaged less than targets (every baseline and the interval across them); on Algorithm 2
    max-ratio fell and responses are not degenerate (paired bootstrap over test dialogues per baseline and
    the interval across them), PPL within 10 %; and against ``reference`` (the paper's nll) trained from the
    same baseline: a lower test-list hit rate (McNemar on the same targets and search), less collateral
    damage and a smaller PPL change, a lower max-ratio. Results that pair a loss with records of other
    baselines are refused (:class:`ntlib.results.tables.MixedResultsError`)."""
    out, order = [], loss_order(res)     # one order in memory and read back from the JSON (sorted keys)
    m, f = res.get("malicious"), res.get("frequent")
    if m:
        out += _malicious_loss_verdicts(m, order) + _malicious_vs_reference(m, order, reference)
    if f:
        out += _frequent_verdicts(f["rows"], order, reference)
    return out
