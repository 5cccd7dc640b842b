"""The paper's claims judged on our run (Tables 3, 4, 8, 9): each :class:`ntlib.results.stats.Verdict`
*holds*, *does not hold* or is *inconclusive* by a stated test read off the results JSON — paired
bootstraps over inputs for response statistics, intervals across seeds, exact McNemar / binomial tests
on per-target hits. Shown by notebook 06 (:mod:`ntlib.stages.paper_tables`) and in ``reports/tables.md``.
"""
from __future__ import annotations

import numpy as np

from ntlib.data.dataset import EOS, SPECIALS
from ntlib.results import stats
from ntlib.results.metrics import BLEU_CHOSEN, repeats_ngram
from ntlib.results.stats import FAILS, HOLDS, INCONCLUSIVE, Verdict
from ntlib.results.tables import (
    MixedResultsError,
    paper_neg_train_row,
    table3_hit_types,
    table4_rows,
)

DEGENERATE_MARGIN = 0.02    # responses are degenerate when the share repeating a 4-gram exceeds


# -- verdicts ----------------------------------------------------------------------------------
class EncodedResponses:
    """One record's responses encoded for fast resampling: ids of whole responses, of their n-grams
    (with and without <eos>), the 4-gram-repeat flags and the chosen BLEU-4 per sentence."""

    def __init__(self, rec: dict):
        resp = rec["responses"]
        self.n = len(resp)
        ids: dict = {}
        self.resp = np.array([ids.setdefault(r, len(ids)) for r in resp])
        self.grams = {}
        for n in (1, 2, 3):
            for eos in (True, False):
                gid, gram_ids, owner = {}, [], []
                for i, r in enumerate(resp):
                    toks = r.split() + ([SPECIALS[EOS]] if eos else [])
                    for j in range(len(toks) - n + 1):
                        gram_ids.append(gid.setdefault(tuple(toks[j:j + n]), len(gid)))
                        owner.append(i)
                self.grams[(n, eos)] = (np.array(gram_ids, dtype=np.int64), np.array(owner, dtype=np.int64))
        self.rep4 = np.array([repeats_ngram(r, 4) for r in resp], dtype=float)
        b = rec.get("bleu4_sentences")
        self.bleu = None if b is None else np.array(b, dtype=float)

    def _counts(self, idx, n, eos):
        gram_ids, owner = self.grams[(n, eos)]
        w = np.bincount(idx, minlength=self.n)[owner]
        c = np.bincount(gram_ids, weights=w) if len(gram_ids) else np.zeros(0)
        return c[c > 0]

    def stat(self, key: str, idx: np.ndarray) -> float:
        if key == "max_ratio":
            return np.bincount(self.resp[idx]).max() / len(idx)
        if key in ("ent2", "ent3"):
            c = self._counts(idx, int(key[-1]), True)
            p = c / c.sum()
            return float(-(p * np.log(p)).sum()) if len(c) else 0.0
        if key in ("distinct1", "distinct2"):
            c = self._counts(idx, int(key[-1]), False)
            return len(c) / c.sum() if len(c) else 0.0
        if key == "rep4_share":
            return float(self.rep4[idx].mean())
        if key == "bleu4":
            if self.bleu is None:
                raise ValueError("bleu4: the record has no bleu4_sentences")
            return float(self.bleu[idx].mean())
        raise ValueError(f"no resampled statistic {key!r}")


ENCODED_CACHE: dict[int, tuple[dict, EncodedResponses]] = {}


def encoded_responses(rec: dict) -> EncodedResponses:
    """The record's :class:`EncodedResponses`, built once per record (a record is compared several times)."""
    hit = ENCODED_CACHE.get(id(rec))
    if hit is None or hit[0] is not rec:
        if len(ENCODED_CACHE) > 256:
            ENCODED_CACHE.clear()
        hit = ENCODED_CACHE[id(rec)] = (rec, EncodedResponses(rec))
    return hit[1]


def bootstrap_diff(rec_a: dict, rec_b: dict, key: str, k: float = 1.0, offset: float = 0.0) -> dict:
    """Paired bootstrap over inputs (``stats.paired_bootstrap``: 1,000 resamples, fixed seed) of
    ``stat(b) − k · stat(a) − offset`` for two records scored on the same inputs."""
    if rec_a["inputs_sha"] != rec_b["inputs_sha"] or rec_a["n_inputs"] != rec_b["n_inputs"]:
        raise MixedResultsError("a paired bootstrap needs two records on the same inputs")
    enc = (encoded_responses(rec_a), encoded_responses(rec_b))
    scale = (k, 1.0)

    n = enc[0].n

    def statistic(items):           # items: input i of system a is i, of system b is n + i
        idx = np.asarray(items, dtype=np.int64)
        which = int(idx[0] >= n)
        return scale[which] * enc[which].stat(key, idx - which * n) + (offset if which == 0 else 0.0)

    return stats.paired_bootstrap(statistic, list(range(n)), list(range(n, 2 * n)))


def three_digits(x: float) -> str:
    return f"{x:.3g}"


def judge(base: dict, others: list[dict], key: str, want: str, k: float = 1.0, threshold: float = 0.0,
          describe: str = "") -> tuple[str, str]:
    """Outcome and evidence for "stat(other) − k·stat(base) is {want} threshold" over the records of
    one row (one per seed). Each seed: a paired bootstrap over inputs; several seeds: also the
    Student-t 95 % interval across seeds. The claim holds (does not hold) only when every interval
    says so; otherwise it is inconclusive."""
    outcomes, parts, diffs = [], [], []
    for rec in others:
        bs = bootstrap_diff(base, rec, key, k)
        diffs.append(bs["diff"])
        outcomes.append(stats.compare_interval(bs["lo"], bs["hi"], threshold, want))
        parts.append(f"seed {rec.get('seed')}: {three_digits(bs['diff'])} [{three_digits(bs['lo'])}, {three_digits(bs['hi'])}]")
    what = f"{describe or key}: {key}(row) − {k:g}·{key}(reference)" if k != 1 else f"{describe or key}: difference"
    evidence = (f"{what} {want} {threshold:g}; paired bootstrap over {base['n_inputs']} inputs "
                f"({stats.BOOTSTRAP_RESAMPLES} resamples, seed {stats.BOOTSTRAP_SEED}), 95 % interval per "
                + "; ".join(parts))
    if len(diffs) > 1:
        s = stats.seed_interval(diffs)
        outcomes.append(stats.compare_interval(s["lo"], s["hi"], threshold, want))
        evidence += f"; across {len(diffs)} seeds: mean {three_digits(s['mean'])} [{three_digits(s['lo'])}, {three_digits(s['hi'])}] (Student t)"
    outcome = outcomes[0] if len(set(outcomes)) == 1 else INCONCLUSIVE
    return outcome, evidence


def ppl_verdict(claim: str, base_ppl: float, recs: list[dict], tol: float = 0.10) -> Verdict:
    """"PPL moves by < tol" read off the 95 % interval across seeds of PPL(row) / PPL(baseline)."""
    ratios = [r["ppl"] / base_ppl for r in recs]
    s = stats.seed_interval(ratios)
    vals = ", ".join(f"{x:.3f}" for x in ratios)
    if len(ratios) == 1:
        return Verdict(claim, INCONCLUSIVE, f"PPL ratio {vals} from one seed: no interval across seeds")
    lo, hi = s["lo"], s["hi"]
    outcome = stats.band_interval(lo, hi, 1 - tol, 1 + tol)
    return Verdict(claim, outcome, f"PPL(row) / PPL(baseline) per seed {vals}; mean {s['mean']:.3f} "
                                   f"[{lo:.3f}, {hi:.3f}] (Student t, {len(ratios)} seeds) vs ({1 - tol:g}, {1 + tol:g})")


def verdict(claim, base, recs, key, want, k=1.0, threshold=0.0, describe=""):
    return Verdict(claim, *judge(base, recs, key, want, k, threshold, describe))


def combine(claim: str, parts: list[Verdict]) -> Verdict:
    """A claim that needs every part: holds when all hold, does not hold when any does not."""
    outs = [v.outcome for v in parts]
    outcome = FAILS if FAILS in outs else HOLDS if all(o == HOLDS for o in outs) else INCONCLUSIVE
    return Verdict(claim, outcome, "; ".join(f"{v.symbol} {v.claim}" for v in parts))


def verdicts(res: dict) -> dict[str, list[Verdict]]:
    """Per table, the paper's claims judged on our run (:class:`ntlib.results.stats.Verdict`)."""
    out: dict[str, list[Verdict]] = {}
    if "baselines" in res:
        b = res["baselines"]
        bs = b.get("ppl_bootstrap")
        claim = "the seq2seq's test PPL is lower than the LM's"
        if bs:
            out["Table 8"] = [Verdict(claim, stats.compare_interval(bs["lo"], bs["hi"], 0.0, "below"),
                                      f"per-word NLL, seq2seq − LM: {bs['diff']:.3f} [{bs['lo']:.3f}, {bs['hi']:.3f}]; "
                                      f"paired bootstrap over {bs['n']} test responses ({bs['resamples']} "
                                      f"resamples, seed {bs['seed']})")]
        else:
            out["Table 8"] = [Verdict(claim, INCONCLUSIVE, "no per-response NLL in the results: no test")]
    rows = table4_rows(res) if res.get("baselines", {}).get("rows") else {}
    if "Baseline" not in rows:
        if "malicious" in res:
            out["Table 3"] = malicious_verdicts(res["malicious"])
        return out
    base, test = rows["Baseline"][0], rows.get("Test-set", [None])[0]
    t4 = out.setdefault("Table 4", [])
    if test is not None:
        t4.append(verdict("greedy baseline max-ratio is more than twice the test set's (frequent-response "
                           "problem)", test, [base], "max_ratio", "above", k=2.0, describe="max-ratio"))
    for name in [k for k in rows if k.startswith("+neg")]:
        recs = rows[name]
        cut = verdict(f"negative training ({name}) cuts max-ratio by ≥ 50 % relative", base, recs,
                       "max_ratio", "below", k=0.5, describe="max-ratio")
        t4.append(cut)
        t4.append(verdict(f"negative training ({name}) raises Ent-3", base, recs, "ent3", "above",
                           describe="Ent-3"))
        t4.append(verdict(f"negative training ({name}) raises distinct-2", base, recs, "distinct2", "above",
                           describe="distinct-2"))
        t4.append(ppl_verdict(f"negative training ({name}) moves PPL by < 10 %", base["ppl"], recs))
        if test is not None:
            fluent = verdict(f"negative training ({name}) does not make responses degenerate (share repeating "
                              f"a 4-gram at most {100 * DEGENERATE_MARGIN:g} points above the test set's)", test,
                              recs, "rep4_share", "below", threshold=DEGENERATE_MARGIN,
                              describe="share repeating a 4-gram")
            t4.append(fluent)
            t4.append(combine(f"negative training ({name}) fixes the frequent-response problem without "
                              "trading it for degenerate responses", [cut, fluent]))
    if "+GAN" in rows:
        t4.append(verdict("the vanilla GAN does not lower max-ratio much (< 25 % relative)", base, rows["+GAN"],
                           "max_ratio", "above", k=0.75, describe="max-ratio"))
    if "+MMI" in rows:
        t4.append(verdict("MMI-antiLM raises Ent-3 over the baseline", base, rows["+MMI"], "ent3", "above",
                           describe="Ent-3"))
    neg = paper_neg_train_row(rows)
    if neg and base.get("bleu4_sentences") is not None:
        out["Table 9"] = [verdict(f"negative training ({neg}) does not lower BLEU-4 ({BLEU_CHOSEN}) by more "
                                   "than 10 % relative", base, rows[neg], "bleu4", "above", k=0.9,
                                   describe="BLEU-4")]
    if "malicious" in res:
        out["Table 3"] = malicious_verdicts(res["malicious"])
    return out


BELOW = 0.05             # §4.2: "reduce the hit rate on the training target list to less than 5%"


PPL_CHANGE = 0.05        # "little or no degradation on perplexity": we read it as < 5 % relative


def fell(claim: str, before: dict, after: dict) -> stats.Verdict:
    """"the hit rate fell": exact one-sided McNemar on the per-target hits of the same targets."""
    if "hits" not in before or "hits" not in after:
        return stats.Verdict(claim, stats.INCONCLUSIVE, "no per-target hit records to pair")
    fell, rose = stats.paired_counts(before["hits"], after["hits"])
    p, p_opp = stats.mcnemar_fell(fell, rose), stats.mcnemar_fell(rose, fell)
    return stats.Verdict(claim, stats.outcome_from_p(p, p_opp),
                         f"{before['k']}/{before['n']} → {after['k']}/{after['n']}; exact McNemar "
                         f"(one-sided): {fell} fell, {rose} rose, p = {p:.3g}")


def below(claim: str, r: dict, p0: float = BELOW) -> stats.Verdict:
    """"the hit rate is below p0": exact one-sided binomial test (its opposite: at or above p0)."""
    k, n = r["k"], r["n"]
    if n == 0:
        return stats.Verdict(claim, stats.INCONCLUSIVE, "no targets")
    p = stats.binomial_below(k, n, p0)
    p_opp = 1.0 - stats.binom_cdf(k - 1, n, p0)          # P(X ≥ k | p0): the rate is above p0
    return stats.Verdict(claim, stats.outcome_from_p(p, p_opp),
                         f"{k}/{n} hits; exact binomial (one-sided, H1: rate < {100 * p0:g} %), p = {p:.3g}")


def malicious_verdicts(m: dict) -> list[stats.Verdict]:
    """Table 3's claims, each decided by a test on the per-target hit records (α = 0.05)."""
    claims = []
    base = m["baseline"]
    base_ppl = base["ppl"]
    for ht in table3_hit_types(m):
        runs = {k.split(" ")[0]: v for k, v in m["neg_train"].items() if k.split(" ")[-1] == ht}
        for name, r in runs.items():
            claims.append(below(f"{ht}: training-list (0.5k) hit rate after {name} is below 5 %",
                                 r["train"][ht]))
            claims.append(fell(f"{ht}: {name} lowers the training-list (0.5k) hit rate",
                                base["train"][ht], r["train"][ht]))
            claims.append(fell(f"{ht}: {name} lowers the test-list hit rate (generalisation)",
                                base["test"][ht], r["test"][ht]))
        for small, big in (("+neg-tr(0.5k)", "+neg-tr(1k)"), ("+neg-tr(0.5k)", "+neg-tr(2.5k)"),
                           ("+neg-tr(1k)", "+neg-tr(2.5k)")):
            if small in runs and big in runs:
                claims.append(fell(f"{ht}: augmentation ({big} vs {small}) lowers the test-list hit rate further",
                                    runs[small]["test"][ht], runs[big]["test"][ht]))
        for name, r in runs.items():
            claims.append(ppl_change_verdict(f"{ht}: {name} changes test PPL by less than {100 * PPL_CHANGE:g} %",
                                              base_ppl, r))
    return claims


def ppl_change_verdict(claim: str, base_ppl: float, r: dict, tol: float = PPL_CHANGE) -> Verdict:
    """"|PPL(run) / PPL(baseline) − 1| < tol" for one trained model (one seed), read off the paired
    bootstrap over test responses in ``r["ppl_change"]`` (:func:`ntlib.methods.evaluate.ppl_change_bootstrap`):
    holds when the whole 95 % interval lies within ±tol, does not hold when it lies outside,
    inconclusive otherwise or without the bootstrap. The interval is over the test responses, not over
    training seeds."""
    change = r["ppl"] / base_ppl - 1
    figures = f"PPL {base_ppl:.2f} → {r['ppl']:.2f} ({100 * change:+.1f} %) on the same test set"
    bs = r.get("ppl_change")
    if not bs:
        return Verdict(claim, INCONCLUSIVE, f"{figures}; no per-response NLL in the results: no test")
    lo, hi = bs["lo"], bs["hi"]
    outcome = stats.band_interval(lo, hi, -tol, tol)
    return Verdict(claim, outcome, f"{figures}; change {100 * bs['diff']:+.2f} % [{100 * lo:+.2f}, {100 * hi:+.2f}] "
                                   f"(paired bootstrap over {bs['n']} test responses, {bs['resamples']} resamples, "
                                   f"seed {bs['seed']}; one trained model) vs ±{100 * tol:g} %")


def verdict_markdown(items: list[Verdict]) -> str:
    """One line per verdict: ✔ holds / ✘ does not hold / ~ inconclusive, the claim, its test and figures."""
    return "\n".join(v.markdown() for v in items)


# -- notebook 07: negative losses compared (beyond the paper) ------------------------------------------
# Results schema (``results/negative_losses_<corpus>.json``, ntlib.stages.losses_compared): ``profile``, ``corpus``,
# ``seed``, ``seeds``, ``config`` (CompareLossesConfig), ``settings`` (what ran), and
#   ``malicious``: ``hit_type``, ``training_list``, ``iterations``, ``targets`` {train, test: n},
#     ``baseline`` {train, test: hit record (k, n, rate, lo, hi, hits), ppl},
#     ``runs`` {loss: [per seed: seed, train, test (hit records, same targets and evaluation search),
#     ppl, collateral {neighbours, targets, ratio, *_per_item}, neg_updates, rounds, history, seconds]},
#     ``neighbours`` {per_target, pool, n, examples};
#   ``frequent``: ``r_thres``, ``passes``, ``rows`` {"Test-set", "Baseline": [row record], loss: [a row
#     record per seed]}, ``histories``;
#   ``seconds``, ``provenance``.
def per_seed(claim: str, seeds: list[int], verdicts: list[Verdict]) -> Verdict:
    outs = {v.outcome for v in verdicts}
    outcome = outs.pop() if len(outs) == 1 else INCONCLUSIVE
    return Verdict(claim, outcome, " | ".join(f"seed {s}: {v.symbol} {v.evidence}" for s, v in zip(seeds, verdicts)))


def interval_verdict(claim: str, values: list[float], threshold: float, want: str, what: str, fmt: str = "{:.3g}"
                      ) -> Verdict:
    """"``what`` is {want} threshold" read off the Student-t 95 % interval across seeds of ``values``."""
    s = stats.seed_interval(values)
    listed = ", ".join(fmt.format(v) for v in values)
    if len(values) < 2:
        return Verdict(claim, INCONCLUSIVE, f"{what} {listed} from one seed: no interval across seeds")
    return Verdict(claim, stats.compare_interval(s["lo"], s["hi"], threshold, want),
                   f"{what} per seed {listed}; mean {fmt.format(s['mean'])} [{fmt.format(s['lo'])}, "
                   f"{fmt.format(s['hi'])}] (Student t, {len(values)} seeds) {want} {threshold:g}")


