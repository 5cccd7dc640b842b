"""Table 3's claims (§4.2) judged on every baseline, then across them.

On one baseline, each claim about hit rates is an exact one-sided test on the per-target hits — McNemar
on the discordant pairs for "the rate fell", binomial for "the rate is below 5 %" — tested both ways (the
claim, and its opposite). All these tests of one baseline are one *family*, corrected with Holm's
step-down (:func:`ntlib.results.stats.holm`) at α = 0.05: a claim holds on that baseline when its adjusted
p is below α, does not hold when its opposite's is. "PPL changes by less than 5 %" reads the paired
bootstrap over test dialogues (an interval, outside the family). Across baselines a claim holds (does
not hold) only when it does on every baseline — at least two, each trained independently — otherwise
it is *inconclusive*; a run made on some baselines only (the 1k / 2.5k lists, the ablation) is reported
for those, and reads inconclusive.
"""
from __future__ import annotations

from dataclasses import dataclass

from ntlib.results import stats
from ntlib.results.stats import ALPHA, FAILS, HOLDS, INCONCLUSIVE, Verdict
from ntlib.results.tables import table3_hit_types
from ntlib.run.config import GibbsConfig, MaliciousConfig

BELOW = 0.05             # §4.2: "reduce the hit rate on the training target list to less than 5%"
PPL_CHANGE = 0.05        # "little or no degradation on perplexity": we read it as < 5 % relative
MIN_BASELINES = 2        # a claim about the method needs at least two independently trained baselines
AUGMENTED = (("+neg-tr(0.5k)", "+neg-tr(1k)"), ("+neg-tr(0.5k)", "+neg-tr(2.5k)"), ("+neg-tr(1k)", "+neg-tr(2.5k)"))


@dataclass
class Test:
    """One claim tested on one baseline: the one-sided p-values of the claim and of its opposite (exact
    tests), or the outcome of an interval (``p`` None); ``evidence``: the figures."""
    claim: str
    evidence: str
    p: float | None = None
    p_opposite: float | None = None
    outcome: str = INCONCLUSIVE
    value: float | None = None        # the figure compared across baselines (PPL change), when there is one
    interval: bool = False            # decided by an interval (not in the Holm family)


def mcnemar(claim: str, before: dict, after: dict) -> Test:
    """"the hit rate fell": exact one-sided McNemar on the per-target hits of the same targets."""
    if "hits" not in before or "hits" not in after:
        return Test(claim, "no per-target hit records to pair")
    fell_, rose = stats.paired_counts(before["hits"], after["hits"])
    p, p_opp = stats.mcnemar_fell(fell_, rose), stats.mcnemar_fell(rose, fell_)
    return Test(claim, f"{before['k']}/{before['n']} → {after['k']}/{after['n']}; exact McNemar (one-sided): "
                       f"{fell_} fell, {rose} rose, p = {p:.3g}", p, p_opp, stats.outcome_from_p(p, p_opp))


def binomial(claim: str, r: dict, p0: float = BELOW) -> Test:
    """"the hit rate is below p0": exact one-sided binomial test (its opposite: at or above p0)."""
    k, n = r["k"], r["n"]
    if n == 0:
        return Test(claim, "no targets")
    p = stats.binomial_below(k, n, p0)
    p_opp = 1.0 - stats.binom_cdf(k - 1, n, p0)          # P(X ≥ k | p0): the rate is at or above p0
    return Test(claim, f"{k}/{n} hits; exact binomial (one-sided, H1: rate < {100 * p0:g} %), p = {p:.3g}",
                p, p_opp, stats.outcome_from_p(p, p_opp))


def fell(claim: str, before: dict, after: dict) -> Verdict:
    """:func:`mcnemar` as a verdict on its own (no family): notebook 07's per-seed tests."""
    t = mcnemar(claim, before, after)
    return Verdict(claim, t.outcome, t.evidence)


def below(claim: str, r: dict, p0: float = BELOW) -> Verdict:
    """:func:`binomial` as a verdict on its own (no family)."""
    t = binomial(claim, r, p0)
    return Verdict(claim, t.outcome, t.evidence)


def ppl_change(claim: str, base_ppl: float, r: dict, tol: float = PPL_CHANGE) -> Test:
    """"|PPL(run) / PPL(baseline) − 1| < tol" for one trained model, read off the paired bootstrap over
    test dialogues in ``r["ppl_change"]`` (:func:`ntlib.methods.evaluate.ppl_change_bootstrap`): holds when
    the whole 95 % interval lies within ±tol, does not hold when it lies outside, inconclusive otherwise."""
    change = r["ppl"] / base_ppl - 1
    figures = f"PPL {base_ppl:.2f} → {r['ppl']:.2f} ({100 * change:+.1f} %)"
    bs = r.get("ppl_change")
    if not bs:
        return Test(claim, f"{figures}; no per-response NLL in the results: no test", value=change, interval=True)
    lo, hi = bs["lo"], bs["hi"]
    return Test(claim, f"{figures}, change [{100 * lo:+.2f}, {100 * hi:+.2f}] % (paired bootstrap over "
                       f"{bs.get('clusters', bs['n'])} test dialogues) vs ±{100 * tol:g} %",
                outcome=stats.band_interval(lo, hi, -tol, tol), value=change, interval=True)


def runs_of(b: dict, ht: str) -> dict:
    """{row ("+neg-tr(0.5k)"): run record} of hit type ``ht`` on one baseline."""
    return {k.split(" ")[0]: v for k, v in b["neg_train"].items() if k.split(" ")[-1] == ht}


def below_claim(ht: str, name: str, m: dict) -> str:
    """The "below 5 %" claim, named after what ran, the paper's setting beside it."""
    g, mc = m.get("gibbs", {}), m.get("malicious", {})
    paper_g, paper_m = GibbsConfig(), MaliciousConfig()
    return (f"{ht}: after {mc.get('iterations', '?')} iteration(s) of {name} (gibbs-enum T={g.get('sweeps', '?')}, "
            f"G={g.get('candidates', '?')}, {g.get('restarts', '?')} start(s); the paper: {paper_m.iterations} "
            f"iterations, T={paper_g.sweeps}, G={paper_g.candidates}, {paper_g.restarts} starts) the training-list "
            f"(0.5k) hit rate is below {100 * BELOW:g} %")


def baseline_tests(b: dict, m: dict) -> list[Test]:
    """Every Table 3 claim tested on one baseline ``b`` (an entry of ``m["per_baseline"]``), in table order."""
    tests, base = [], b["baseline"]
    for ht in table3_hit_types(b):
        runs = runs_of(b, ht)
        for name, r in runs.items():
            tests.append(binomial(below_claim(ht, name, m), r["train"][ht]))
            tests.append(mcnemar(f"{ht}: {name} lowers the training-list (0.5k) hit rate", base["train"][ht],
                                 r["train"][ht]))
            tests.append(mcnemar(f"{ht}: {name} lowers the test-list hit rate (generalisation)", base["test"][ht],
                                 r["test"][ht]))
        for small, big in AUGMENTED:
            if small in runs and big in runs:
                tests.append(mcnemar(f"{ht}: augmentation ({big} vs {small}) lowers the test-list hit rate further",
                                     runs[small]["test"][ht], runs[big]["test"][ht]))
        for name, r in runs.items():
            tests.append(ppl_change(f"{ht}: {name} changes test PPL by less than {100 * PPL_CHANGE:g} %",
                                    base["ppl"], r))
    return tests


def holm_outcomes(tests: list[Test], alpha: float = ALPHA) -> list[Test]:
    """The family of one baseline's exact tests — each claim and its opposite — Holm-corrected: each
    exact test's outcome and evidence rewritten with its adjusted p; interval tests kept as they are."""
    exact = [i for i, t in enumerate(tests) if t.p is not None]
    adjusted = stats.holm([tests[i].p for i in exact] + [tests[i].p_opposite for i in exact])
    rank, m, out = {i: r for r, i in enumerate(exact)}, len(exact), []
    for i, t in enumerate(tests):
        if t.p is None:
            out.append(t)
            continue
        p, p_opp = adjusted[rank[i]], adjusted[m + rank[i]]
        outcome = HOLDS if p < alpha else FAILS if p_opp < alpha else INCONCLUSIVE
        out.append(Test(t.claim, f"{t.evidence}, Holm-adjusted {p:.3g} (opposite {p_opp:.3g})", p, p_opp, outcome))
    return out


def family_note(m: dict) -> str:
    """How Table 3 is tested, for the notes under it."""
    per = m["per_baseline"]
    sizes = ", ".join(str(2 * sum(t.p is not None for t in baseline_tests(b, m))) for b in per)
    return (f"Per baseline, one family of exact one-sided tests (each claim and its opposite: {sizes} tests), "
            f"Holm-corrected at α = {ALPHA:g}; PPL claims read a paired bootstrap over test dialogues. A claim "
            f"holds (✔) or does not (✘) only when it does on every baseline ({len(per)} here, at least "
            f"{MIN_BASELINES}); otherwise ~ inconclusive.")


def per_baseline(m: dict) -> dict[int, list[Verdict]]:
    """{baseline seed: Table 3's claims judged on that baseline alone (Holm within its family)}."""
    return {b["seed"]: [Verdict(t.claim, t.outcome, t.evidence) for t in holm_outcomes(baseline_tests(b, m))]
            for b in m["per_baseline"]}


def across_baselines(claim: str, by_seed: dict[int, Test], seeds: list[int], interval: bool = False,
                     tol: float = PPL_CHANGE) -> Verdict:
    """One claim across baselines: holds (does not hold) when it does on every baseline of ``seeds`` — and,
    for an interval claim, when the Student-t interval of its value across baselines lies within (outside)
    ±tol; inconclusive otherwise, on fewer than :data:`MIN_BASELINES` baselines, or when it ran on some."""
    parts = [f"seed {s}: {Verdict(claim, t.outcome, t.evidence).symbol} {t.evidence}" for s, t in by_seed.items()]
    outcomes = [t.outcome for t in by_seed.values()]
    missing = [s for s in seeds if s not in by_seed]
    note = ""
    if interval and len(by_seed) >= 2:
        s = stats.seed_interval([t.value for t in by_seed.values()])
        outcomes.append(stats.band_interval(s["lo"], s["hi"], -tol, tol))
        note = (f"; across baselines {100 * s['mean']:+.2f} % [{100 * s['lo']:+.2f}, {100 * s['hi']:+.2f}] "
                f"(Student t) vs ±{100 * tol:g} %")
    if missing:
        outcome, why = INCONCLUSIVE, f"; ran on baseline(s) {sorted(by_seed)} only, not {missing}"
    elif len(by_seed) < MIN_BASELINES:
        outcome, why = INCONCLUSIVE, f"; one baseline: a claim about the method needs ≥ {MIN_BASELINES}"
    else:
        outcome = outcomes[0] if len(set(outcomes)) == 1 else INCONCLUSIVE
        why = "" if outcome != INCONCLUSIVE or len(set(outcomes)) == 1 else "; the baselines disagree"
    return Verdict(claim, outcome, " | ".join(parts) + note + why)


def malicious_verdicts(m: dict) -> list[Verdict]:
    """Table 3's claims across baselines (:func:`across_baselines` of each baseline's Holm-corrected family)."""
    seeds = [b["seed"] for b in m["per_baseline"]]
    judged = {b["seed"]: holm_outcomes(baseline_tests(b, m)) for b in m["per_baseline"]}
    claims: dict[str, dict[int, Test]] = {}
    for seed, tests in judged.items():
        for t in tests:
            claims.setdefault(t.claim, {})[seed] = t
    return [across_baselines(claim, by_seed, seeds, interval=next(iter(by_seed.values())).interval)
            for claim, by_seed in claims.items()]
