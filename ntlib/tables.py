"""The paper's Tables 3, 4, 8 and 9 rebuilt from the results JSON of notebooks 02–05.

Nothing is computed here from models: every number comes from ``reports/results/*.json``
(written by the notebooks), and the paper's numbers from :mod:`ntlib.paper`. Each cell is
"ours (paper)". Each table also gets a short verdict: which of the paper's claims hold in our
run. Shown in notebooks/06_tables.ipynb.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from . import paper, stats
from .reports import cell, read_json

STAGES = ("data", "baselines", "malicious", "frequent", "gan_mmi")


def load_results(reports_dir: str | Path, corpus: str) -> dict:
    """``{stage: results dict}`` for each stage whose JSON exists; missing stages are left out."""
    out = {}
    for stage in STAGES:
        path = Path(reports_dir) / "results" / f"{stage}_{corpus}.json"
        if path.exists():
            out[stage] = read_json(path)
    return out


def _pct(x):
    return None if x is None else 100 * x


def table8(res: dict, corpus: str) -> pd.DataFrame:
    """Table 8: test PPL (NLL) of the LM and the seq2seq."""
    b, p = res["baselines"], paper.TABLE8.get(corpus, {})
    rows = {}
    for kind, name in (("lm", "LM"), ("seq2seq", "Seq2seq")):
        ours, theirs = b[kind], p.get(kind, {})
        rows[name] = {"Test-PPL": cell(ours["ppl"], theirs.get("ppl")),
                      "Test-NLL": cell(ours["nll"], theirs.get("nll"))}
    return pd.DataFrame(rows).T


def table4_rows(res: dict) -> dict[str, dict]:
    """Our Table 4 rows (ppl, max_ratio, ent2, ent3) keyed as the paper's rows."""
    rows = {}
    if "baselines" in res:
        b = res["baselines"]
        rows["Test-set"] = {**b["test_set"], "ppl": None}
        rows["Baseline"] = {**b["baseline"], "ppl": b["seq2seq"]["ppl"]}
    for stage in ("gan_mmi", "frequent"):
        for name, r in res.get(stage, {}).get("rows", {}).items():
            if name != "Baseline":
                rows[name] = r
    return rows


def table4(res: dict, corpus: str) -> pd.DataFrame:
    """Table 4: PPL, M-ratio (%), E-2, E-3 of greedy test responses, ours (paper)."""
    p = paper.TABLE4.get(corpus, {})
    out = {}
    for name, r in table4_rows(res).items():
        q = p.get(name, {})
        out[name] = {"PPL": cell(r.get("ppl"), q.get("ppl")),
                     "M-ratio %": cell(_pct(r.get("max_ratio")), _pct(q.get("max_ratio")), "{:.1f}"),
                     "E-2": cell(r.get("ent2"), q.get("ent2")),
                     "E-3": cell(r.get("ent3"), q.get("ent3"))}
    return pd.DataFrame(out).T


def _best_neg_train(res: dict) -> tuple[str, dict] | None:
    rows = {k: v for k, v in res.get("frequent", {}).get("rows", {}).items() if k.startswith("+neg")}
    if not rows:
        return None
    name = min(rows, key=lambda k: rows[k]["max_ratio"])
    return name, rows[name]


def table9(res: dict, corpus: str) -> pd.DataFrame:
    """Table 9: PPL, BLEU-4, M-ratio of the baseline and of negative training (lowest M-ratio row).

    BLEU-4 is the paper's measure (averaged sentence BLEU, ``metrics.bleu4``); corpus BLEU-4
    (``metrics.corpus_bleu4``) has no paper counterpart and is shown for reference."""
    p = paper.TABLE9.get(corpus, {})
    b = res["baselines"]
    rows = {"Baseline": {"ppl": b["seq2seq"]["ppl"], "bleu4": b["bleu4"],
                         "corpus_bleu4": b.get("corpus_bleu4"), "max_ratio": b["baseline"]["max_ratio"]}}
    best = _best_neg_train(res)
    if best:
        rows[f"Neg-train {best[0].removeprefix('+neg-train ')}"] = best[1]
    out = {}
    for name, r in rows.items():
        q = p.get("Baseline" if name == "Baseline" else "Neg-train", {})
        out[name] = {"PPL": cell(r.get("ppl"), q.get("ppl")),
                     "BLEU-4": cell(r.get("bleu4"), q.get("bleu4"), "{:.3f}"),
                     "corpus BLEU-4": cell(r.get("corpus_bleu4"), None, "{:.4f}"),
                     "M-ratio %": cell(_pct(r.get("max_ratio")), _pct(q.get("max_ratio")), "{:.1f}")}
    return pd.DataFrame(out).T


def table3(res: dict, corpus: str) -> pd.DataFrame:
    """Table 3: malicious-target hit rates, % [95 % Wilson interval] k/n (paper %), on the train/test
    lists, and PPL; the warm-start / stop-when-hit ablation rows when present."""
    m, p = res["malicious"], paper.TABLE3.get(corpus, {})
    hit_types = list(m["baseline"]["train"])
    out = {}
    for ht in [h for h in hit_types if h != "o_greedy"]:
        runs = {"Baseline": m["baseline"]}
        runs.update({k.split(" ")[0]: v for k, v in m["neg_train"].items() if k.split(" ")[-1] == ht})
        runs.update({f"{k.split(' ')[0]} {v.get('label', 'ablation')}": v
                     for k, v in m.get("ablation", {}).items() if k.split(" ")[-1] == ht})
        for name, r in runs.items():
            q = p.get(ht, {}).get(name, {})
            row = out.setdefault(name, {})
            for split in ("train", "test"):
                h = r[split][ht]
                row[f"{ht.replace('_', '-')} {split}"] = (f"{100 * h['rate']:.1f} [{100 * h['lo']:.0f}–"
                                                         f"{100 * h['hi']:.0f}] {h['k']}/{h['n']} "
                                                         f"({_fmt_pct(q.get(split))})")
            row[f"{ht.replace('_', '-')} PPL"] = cell(r["ppl"], q.get("ppl"))
    return pd.DataFrame(out).T


def _fmt_pct(x):
    return "–" if x is None else f"{100 * x:.1f}"


def verdicts(res: dict) -> dict[str, list[tuple[str, bool]]]:
    """Per table, the paper's claims and whether our run supports each (True/False)."""
    out: dict[str, list[tuple[str, bool]]] = {}
    if "baselines" in res:
        b = res["baselines"]
        out["Table 8"] = [("the seq2seq's test PPL is lower than the LM's",
                           b["seq2seq"]["ppl"] < b["lm"]["ppl"])]
        out["Table 4"] = [("greedy baseline max-ratio is far above the test set's (frequent-response problem)",
                           b["baseline"]["max_ratio"] > 2 * b["test_set"]["max_ratio"])]
    rows = table4_rows(res)
    best = _best_neg_train(res)
    if best and "Baseline" in rows:
        base, (name, nt) = rows["Baseline"], best
        out.setdefault("Table 4", []).extend([
            (f"negative training ({name}) cuts max-ratio by ≥ 50 % relative",
             nt["max_ratio"] <= 0.5 * base["max_ratio"]),
            (f"negative training ({name}) raises Ent-3", nt["ent3"] > base["ent3"]),
            (f"negative training ({name}) moves PPL by < 10 %", abs(nt["ppl"] / base["ppl"] - 1) < 0.10)])
        out["Table 9"] = [(f"negative training ({name}) does not lower BLEU-4 by more than 10 % relative",
                           nt["bleu4"] >= 0.9 * res["baselines"]["bleu4"])]
    for name, claim in (("+GAN", "the vanilla GAN does not lower max-ratio much (< 25 % relative)"),
                        ("+MMI", "MMI-antiLM raises Ent-3 over the baseline")):
        if name in rows and "Baseline" in rows:
            r, base = rows[name], rows["Baseline"]
            holds = (r["max_ratio"] > 0.75 * base["max_ratio"]) if name == "+GAN" else r["ent3"] > base["ent3"]
            out.setdefault("Table 4", []).append((claim, bool(holds)))
    if "malicious" in res:
        out["Table 3"] = _malicious_verdicts(res["malicious"])
    return out


BELOW = 0.05             # §4.2: "reduce the hit rate on the training target list to less than 5%"
PPL_CHANGE = 0.05        # "little or no degradation on perplexity": we read it as < 5 % relative


def _fell(claim: str, before: dict, after: dict) -> stats.Verdict:
    """"the hit rate fell": exact one-sided McNemar on the per-target hits of the same targets."""
    if "hits" not in before or "hits" not in after:
        return stats.Verdict(claim, stats.INCONCLUSIVE, "no per-target hit records to pair")
    fell, rose = stats.paired_counts(before["hits"], after["hits"])
    p, p_opp = stats.mcnemar_fell(fell, rose), stats.mcnemar_fell(rose, fell)
    return stats.Verdict(claim, stats.outcome_from_p(p, p_opp),
                         f"{before['k']}/{before['n']} → {after['k']}/{after['n']}; exact McNemar "
                         f"(one-sided): {fell} fell, {rose} rose, p = {p:.3g}")


def _below(claim: str, r: dict, p0: float = BELOW) -> stats.Verdict:
    """"the hit rate is below p0": exact one-sided binomial test (its opposite: at or above p0)."""
    k, n = r["k"], r["n"]
    if n == 0:
        return stats.Verdict(claim, stats.INCONCLUSIVE, "no targets")
    p = stats.binomial_below(k, n, p0)
    p_opp = 1.0 - stats.binom_cdf(k - 1, n, p0)          # P(X ≥ k | p0): the rate is above p0
    return stats.Verdict(claim, stats.outcome_from_p(p, p_opp),
                         f"{k}/{n} hits; exact binomial (one-sided, H1: rate < {100 * p0:g} %), p = {p:.3g}")


def _malicious_verdicts(m: dict) -> list[stats.Verdict]:
    """Table 3's claims, each decided by a test on the per-target hit records (α = 0.05)."""
    claims = []
    base = m["baseline"]
    base_ppl = base["ppl"]
    for ht in [h for h in base["train"] if h != "o_greedy"]:
        runs = {k.split(" ")[0]: v for k, v in m["neg_train"].items() if k.split(" ")[-1] == ht}
        for name, r in runs.items():
            claims.append(_below(f"{ht}: training-list (0.5k) hit rate after {name} is below 5 %",
                                 r["train"][ht]))
            claims.append(_fell(f"{ht}: {name} lowers the training-list (0.5k) hit rate",
                                base["train"][ht], r["train"][ht]))
            claims.append(_fell(f"{ht}: {name} lowers the test-list hit rate (generalisation)",
                                base["test"][ht], r["test"][ht]))
        for small, big in (("+neg-tr(0.5k)", "+neg-tr(1k)"), ("+neg-tr(0.5k)", "+neg-tr(2.5k)"),
                           ("+neg-tr(1k)", "+neg-tr(2.5k)")):
            if small in runs and big in runs:
                claims.append(_fell(f"{ht}: augmentation ({big} vs {small}) lowers the test-list hit rate further",
                                    runs[small]["test"][ht], runs[big]["test"][ht]))
        for name, r in runs.items():
            change = r["ppl"] / base_ppl - 1
            claims.append(stats.Verdict(
                f"{ht}: {name} changes test PPL by less than {100 * PPL_CHANGE:g} %",
                stats.HOLDS if abs(change) < PPL_CHANGE else stats.FAILS,
                f"PPL {base_ppl:.2f} → {r['ppl']:.2f} ({100 * change:+.1f} %) on the same test set; "
                "deterministic, no sampling test"))
    return claims


def verdict_markdown(items: list) -> str:
    """One line per claim: a ``stats.Verdict`` renders itself; (claim, bool) pairs as before."""
    return "\n".join(it.markdown() if isinstance(it, stats.Verdict)
                     else f"- {'✔ holds' if it[1] else '✘ does not hold'}: {it[0]}" for it in items)
