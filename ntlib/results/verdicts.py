"""The paper's claims judged on our run (Tables 4, 8, 9; Table 3: :mod:`ntlib.results.hit_verdicts`): each
:class:`ntlib.results.stats.Verdict` *holds*, *does not hold* or is *inconclusive* by a stated test read off
the results JSON. A claim about a trained model is judged on every independently trained baseline — a
paired bootstrap that resamples the test *dialogues* (both systems on the same inputs, the same resamples)
gives each baseline's 95 % interval — and across them (the Student-t 95 % interval of the baselines'
differences); it holds, or does not, only when every interval says so, on at least two baselines.
Shown by notebook 06 (:mod:`ntlib.stages.paper_tables`) and in ``reports/tables.md``.
"""
from __future__ import annotations

import numpy as np

from ntlib.data.dataset import EOS, SPECIALS
from ntlib.results import stats
from ntlib.results.hit_verdicts import MIN_BASELINES, PPL_CHANGE, below, fell, malicious_verdicts
from ntlib.results.metrics import BLEU_CHOSEN, repeats_ngram
from ntlib.results.stats import FAILS, HOLDS, INCONCLUSIVE, Verdict
from ntlib.results.tables import (
    MixedResultsError,
    by_seed,
    paper_neg_train_row,
    table4_rows,
)

__all__ = ["below", "fell", "malicious_verdicts", "PPL_CHANGE"]
DEGENERATE_MARGIN = 0.02    # responses are degenerate when the share repeating a 4-gram exceeds
                            # the test set's by more than this (2 points), by the test


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
    """Paired bootstrap over the test dialogues (:func:`ntlib.results.stats.paired_cluster_bootstrap`: 1,000
    resamples, fixed seed) of ``stat(b) − k · stat(a) − offset`` for two records scored on the same inputs;
    each record's ``dialogues`` names the test dialogue of each input."""
    if rec_a["inputs_sha"] != rec_b["inputs_sha"] or rec_a["n_inputs"] != rec_b["n_inputs"]:
        raise MixedResultsError("a paired bootstrap needs two records on the same inputs")
    if rec_b.get("dialogues") is None:
        raise MixedResultsError("a record without the test dialogue of each input (written before issue 29): rerun "
                                "its notebook")
    enc_a, enc_b = encoded_responses(rec_a), encoded_responses(rec_b)

    def difference(idx):
        return enc_b.stat(key, idx) - k * enc_a.stat(key, idx) - offset
    return stats.paired_cluster_bootstrap(difference, rec_b["dialogues"])


def three_digits(x: float) -> str:
    return f"{x:.3g}"


def pair_by_seed(base, others: list[dict]) -> list[tuple[dict, dict]]:
    """(reference, record) pairs: each record of ``others`` with the record of ``base`` of its baseline seed
    (``base`` a list of records), or with the one record ``base`` (the Test-set references)."""
    if isinstance(base, dict):
        return [(base, rec) for rec in others]
    ref = by_seed(base)
    missing = [rec.get("seed") for rec in others if rec.get("seed") not in ref]
    if missing:
        raise MixedResultsError(f"no reference record of baseline seed(s) {missing}: the stages ran on other baselines")
    return [(ref[rec["seed"]], rec) for rec in others]


def judge(base, others: list[dict], key: str, want: str, k: float = 1.0, threshold: float = 0.0,
          describe: str = "") -> tuple[str, str]:
    """Outcome and evidence for "stat(other) − k·stat(base) is {want} threshold" over the records of one
    row, one per baseline, each paired with ``base``'s record of its baseline (:func:`pair_by_seed`). Each
    baseline: a paired bootstrap over test dialogues; across baselines: the Student-t 95 % interval of the
    differences. The claim holds (does not hold) only when every interval says so on at least
    :data:`MIN_BASELINES` baselines; otherwise it is inconclusive."""
    outcomes, parts, diffs = [], [], []
    pairs = pair_by_seed(base, others)
    for ref, rec in pairs:
        bs = bootstrap_diff(ref, rec, key, k)
        diffs.append(bs["diff"])
        outcomes.append(stats.compare_interval(bs["lo"], bs["hi"], threshold, want))
        parts.append(f"seed {rec.get('seed')}: {three_digits(bs['diff'])} [{three_digits(bs['lo'])}, {three_digits(bs['hi'])}]")
    what = f"{describe or key}: {key}(row) − {k:g}·{key}(reference)" if k != 1 else f"{describe or key}: difference"
    n_dialogues = len(set(pairs[0][1]["dialogues"])) if pairs else 0
    evidence = (f"{what} {want} {threshold:g}; paired bootstrap over {n_dialogues} test dialogues "
                f"({pairs[0][1]['n_inputs'] if pairs else 0} inputs, {stats.BOOTSTRAP_RESAMPLES} resamples, seed "
                f"{stats.BOOTSTRAP_SEED}), 95 % interval per baseline — " + "; ".join(parts))
    if len(diffs) > 1:
        s = stats.seed_interval(diffs)
        outcomes.append(stats.compare_interval(s["lo"], s["hi"], threshold, want))
        evidence += (f"; across {len(diffs)} baselines: mean {three_digits(s['mean'])} [{three_digits(s['lo'])}, "
                     f"{three_digits(s['hi'])}] (Student t)")
    if len(diffs) < MIN_BASELINES:
        return INCONCLUSIVE, evidence + f"; {len(diffs)} baseline(s): a claim about the method needs ≥ {MIN_BASELINES}"
    outcome = outcomes[0] if len(set(outcomes)) == 1 else INCONCLUSIVE
    return outcome, evidence + ("; the intervals disagree" if len(set(outcomes)) > 1 else "")


def ppl_verdict(claim: str, base, recs: list[dict], tol: float = 0.10) -> Verdict:
    """"PPL moves by < tol" read off the 95 % interval across baselines of PPL(row) / PPL(its baseline);
    ``base``: the Baseline records (paired by seed) or one baseline PPL for all."""
    ratios = ([r["ppl"] / base for r in recs] if isinstance(base, (int, float))
              else [r["ppl"] / ref["ppl"] for ref, r in pair_by_seed(base, recs)])
    s = stats.seed_interval(ratios)
    vals = ", ".join(f"{x:.3f}" for x in ratios)
    if len(ratios) < MIN_BASELINES:
        return Verdict(claim, INCONCLUSIVE, f"PPL ratio {vals} from one model: no interval across baselines")
    lo, hi = s["lo"], s["hi"]
    outcome = stats.band_interval(lo, hi, 1 - tol, 1 + tol)
    return Verdict(claim, outcome, f"PPL(row) / PPL(baseline) per baseline {vals}; mean {s['mean']:.3f} "
                                   f"[{lo:.3f}, {hi:.3f}] (Student t, {len(ratios)} baselines) vs ({1 - tol:g}, {1 + tol:g})")


def verdict(claim, base, recs, key, want, k=1.0, threshold=0.0, describe=""):
    return Verdict(claim, *judge(base, recs, key, want, k, threshold, describe))


def combine(claim: str, parts: list[Verdict]) -> Verdict:
    """A claim that needs every part: holds when all hold, does not hold when any does not."""
    outs = [v.outcome for v in parts]
    outcome = FAILS if FAILS in outs else HOLDS if all(o == HOLDS for o in outs) else INCONCLUSIVE
    return Verdict(claim, outcome, "; ".join(f"{v.symbol} {v.claim}" for v in parts))


def table8_verdict(b: dict) -> Verdict:
    """Table 8: each baseline's seq2seq against the one LM — per-word NLL, paired bootstrap over test
    dialogues per baseline, and the Student-t interval across baselines."""
    claim = "the seq2seq's test PPL is lower than the LM's"
    boots = b.get("ppl_bootstrap") or []
    if not boots:
        return Verdict(claim, INCONCLUSIVE, "no per-response NLL in the results: no test")
    outcomes = [stats.compare_interval(x["lo"], x["hi"], 0.0, "below") for x in boots]
    evidence = (f"per-word NLL, seq2seq − LM, paired bootstrap over {boots[0].get('clusters', '?')} test dialogues "
                f"({boots[0]['n']} responses, {boots[0]['resamples']} resamples, seed {boots[0]['seed']}): "
                + "; ".join(f"seed {x.get('baseline_seed')}: {x['diff']:.3f} [{x['lo']:.3f}, {x['hi']:.3f}]" for x in boots))
    if len(boots) > 1:
        s = stats.seed_interval([x["diff"] for x in boots])
        outcomes.append(stats.compare_interval(s["lo"], s["hi"], 0.0, "below"))
        evidence += f"; across {len(boots)} baselines: {s['mean']:.3f} [{s['lo']:.3f}, {s['hi']:.3f}] (Student t); one LM"
    if len(boots) < MIN_BASELINES:
        return Verdict(claim, INCONCLUSIVE, evidence + f"; one baseline: a claim about the method needs ≥ {MIN_BASELINES}")
    return Verdict(claim, outcomes[0] if len(set(outcomes)) == 1 else INCONCLUSIVE, evidence)


def verdicts(res: dict) -> dict[str, list[Verdict]]:
    """Per table, the paper's claims judged on our run (:class:`ntlib.results.stats.Verdict`)."""
    out: dict[str, list[Verdict]] = {}
    if "baselines" in res:
        out["Table 8"] = [table8_verdict(res["baselines"])]
    rows = table4_rows(res) if res.get("baselines", {}).get("rows") else {}
    if "Baseline" not in rows:
        if "malicious" in res:
            out["Table 3"] = malicious_verdicts(res["malicious"])
        return out
    base, test = rows["Baseline"], rows.get("Test-set", [None])[0]
    t4 = out.setdefault("Table 4", [])
    if test is not None:
        t4.append(verdict("greedy baseline max-ratio is more than twice the test set's (frequent-response "
                          "problem)", test, base, "max_ratio", "above", k=2.0, describe="max-ratio"))
    for name in [k for k in rows if k.startswith("+neg")]:
        recs = rows[name]
        cut = verdict(f"negative training ({name}) cuts max-ratio by ≥ 50 % relative", base, recs,
                      "max_ratio", "below", k=0.5, describe="max-ratio")
        t4.append(cut)
        t4.append(verdict(f"negative training ({name}) raises Ent-3", base, recs, "ent3", "above",
                          describe="Ent-3"))
        t4.append(verdict(f"negative training ({name}) raises distinct-2", base, recs, "distinct2", "above",
                          describe="distinct-2"))
        t4.append(ppl_verdict(f"negative training ({name}) moves PPL by < 10 %", base, recs))
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
    if neg and base[0].get("bleu4_sentences") is not None:
        out["Table 9"] = [verdict(f"negative training ({neg}) does not lower BLEU-4 ({BLEU_CHOSEN}) by more "
                                  "than 10 % relative", base, rows[neg], "bleu4", "above", k=0.9,
                                  describe="BLEU-4")]
    if "malicious" in res:
        out["Table 3"] = malicious_verdicts(res["malicious"])
    return out


def verdict_markdown(items: list[Verdict]) -> str:
    """One line per verdict: ✔ holds / ✘ does not hold / ~ inconclusive, the claim, its test and figures."""
    return "\n".join(v.markdown() for v in items)
