"""Notebook 07's table and figure (beyond the paper): per negative loss and problem, the means across seeds
with their 95 % intervals (:func:`loss_summary`), the comparison table (:func:`loss_comparison`) and the
trade-off figure (:func:`tradeoff_figure`), read off the results of :mod:`ntlib.stages.losses_compared`.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from ntlib.results import plots, stats
from ntlib.results.loss_verdicts import fell_per_seed, in_order, loss_order
from ntlib.results.tables import seed_values


def tradeoff_figure(results: dict):
    """The trade-off per loss: the malicious training-list hit rate and the frequent max-ratio (y) against
    the test-PPL change (x), one point per loss, bars the 95 % interval across seeds."""
    summ = loss_summary(results)
    panels = [(k, lab) for k, lab in (("malicious", "training-list hit rate after Alg. 1 (%)"),
                                      ("frequent", "max-ratio after Alg. 2 (%)")) if k in summ]
    fig, axes = plt.subplots(1, len(panels), figsize=(6.4 * len(panels), 4.0), squeeze=False, layout="constrained")
    for ax, (problem, ylabel) in zip(axes[0], panels):
        part = summ[problem]
        for loss, r in part["losses"].items():
            x, y = r["ppl_change"], r["y"]
            ax.errorbar([100 * x["mean"]], [100 * y["mean"]], marker="o", capsize=4, label=LOSS_LABELS.get(loss, loss),
                        color=plots.model_colour(loss),
                        xerr=[[100 * (x["mean"] - x["lo"])], [100 * (x["hi"] - x["mean"])]] if x["n"] > 1 else None,
                        yerr=[[100 * (y["mean"] - y["lo"])], [100 * (y["hi"] - y["mean"])]] if y["n"] > 1 else None)
        ax.axhline(100 * part["baseline_y"], color=plots.model_colour("Baseline"), ls="--", lw=1, label="baseline")
        ax.axvline(0, color="grey", ls=":", lw=1)
        ax.set(xlabel="test PPL change vs baseline (%)", ylabel=ylabel,
               title={"malicious": "malicious targets (Algorithm 1)", "frequent": "frequent responses (Algorithm 2)"}[problem])
    plots.legend_outside(axes[0][-1])                 # one legend: the losses are the same in both panels
    n = len(results.get("seeds", []))
    fig.suptitle(plots.title("Negative losses: what each buys against what it costs in PPL", results.get("corpus", ""),
                             results.get("profile", ""), f"{n} seeds", "(mean, 95 % interval across seeds)"))
    return fig


def loss_summary(res: dict) -> dict:
    """Per problem and loss, the seed means and 95 % intervals the table and the trade-off figure show."""
    out = {}
    order = loss_order(res)
    m = res.get("malicious")
    if m:
        base, ppl0 = m["baseline"], m["baseline"]["ppl"]
        losses = {}
        for loss, runs in in_order(m["runs"], order):
            losses[loss] = {"y": stats.seed_interval([r["train"]["rate"] for r in runs]),
                            "test": stats.seed_interval([r["test"]["rate"] for r in runs]),
                            "ppl_change": stats.seed_interval([r["ppl"] / ppl0 - 1 for r in runs]),
                            "neighbours": stats.seed_interval([r["collateral"]["neighbours"] for r in runs]),
                            "targets": stats.seed_interval([r["collateral"]["targets"] for r in runs]),
                            "neg_updates": stats.seed_interval([r["neg_updates"] for r in runs])}
        out["malicious"] = {"baseline_y": base["train"]["rate"], "baseline_test": base["test"]["rate"],
                            "losses": losses}
    f = res.get("frequent")
    if f:
        base = f["rows"]["Baseline"][0]
        losses = {}
        for loss, recs in in_order(f["rows"], order):
            losses[loss] = {"y": stats.seed_interval([r["max_ratio"] for r in recs]),
                            "ppl_change": stats.seed_interval([r["ppl"] / base["ppl"] - 1 for r in recs])}
            for key in ("ent2", "ent3", "bleu4", "seq_rep4", "rep4_share", "distinct1", "distinct2"):
                vals = seed_values(recs, key)
                losses[loss][key] = stats.seed_interval(vals) if vals else None
        out["frequent"] = {"baseline_y": base["max_ratio"], "losses": losses}
    return out


def interval_cell(s: dict | None, fmt: str = "{:.1f}", scale: float = 1.0) -> str:
    if s is None:
        return "–"
    if s["n"] < 2:
        return fmt.format(scale * s["mean"])
    return f"{fmt.format(scale * s['mean'])} [{fmt.format(scale * s['lo'])}–{fmt.format(scale * s['hi'])}]"


def loss_comparison(res: dict) -> pd.DataFrame:
    """Notebook 07's table: per negative loss, on the malicious problem (Algorithm 1) the training- and
    test-list hit rates after training — mean % [95 % interval across seeds], each seed's k, and the
    McNemar verdict "fell" (✔ in every seed, ✘ the opposite in every seed, ~ otherwise) —, the test
    PPL change, the collateral damage (change of benign neighbours' average word log-probability given
    the target's trigger, beside the targets' own), the negative updates taken; on the frequent problem
    (Algorithm 2) max-ratio, Ent-3, BLEU-4, seq-rep-4, distinct-2 and the PPL change; the seeds."""
    summ = loss_summary(res)
    m, f = res.get("malicious"), res.get("frequent")
    out = {}
    if m:
        b = m["baseline"]
        out["Baseline"] = {"Alg. 1 train hits %": f"{100 * b['train']['rate']:.1f} (k = {b['train']['k']} of {b['train']['n']})",
                           "Alg. 1 test hits %": f"{100 * b['test']['rate']:.1f} (k = {b['test']['k']} of {b['test']['n']})",
                           "Alg. 1 PPL Δ %": f"(PPL {b['ppl']:.2f})"}
    if f:
        b = f["rows"]["Baseline"][0]
        out.setdefault("Baseline", {}).update({"Alg. 2 M-ratio %": f"{100 * b['max_ratio']:.1f}",
                                                "Alg. 2 E-3": f"{b['ent3']:.2f}", "Alg. 2 BLEU-4": f"{b['bleu4']:.4f}",
                                                "Alg. 2 seq-rep-4": f"{b['seq_rep4']:.3f}",
                                                "Alg. 2 distinct-2": f"{b['distinct2']:.3f}",
                                                "Alg. 2 PPL Δ %": f"(PPL {b['ppl']:.2f})"})
    for loss in loss_order(res):                 # the config's order (JSON sorts keys)
        row = out.setdefault(loss, {})
        if m and loss in m["runs"]:
            runs, s = m["runs"][loss], summ["malicious"]["losses"][loss]
            for split, key in (("train", "y"), ("test", "test")):
                ks = ", ".join(str(r[split]["k"]) for r in runs)
                fell = fell_per_seed(loss, m, split).symbol
                row[f"Alg. 1 {split} hits %"] = f"{interval_cell(s[key], scale=100)} (k = {ks} of {runs[0][split]['n']}) {fell}"
            row["Alg. 1 PPL Δ %"] = interval_cell(s["ppl_change"], "{:+.1f}", 100)
            row["collateral: neighbours Δ log p"] = interval_cell(s["neighbours"], "{:+.3f}")
            row["targets Δ log p"] = interval_cell(s["targets"], "{:+.3f}")
            row["Alg. 1 neg. updates"] = interval_cell(s["neg_updates"], "{:.0f}")
        if f and loss in f["rows"]:
            s = summ["frequent"]["losses"][loss]
            row.update({"Alg. 2 M-ratio %": interval_cell(s["y"], scale=100), "Alg. 2 E-3": interval_cell(s["ent3"], "{:.2f}"),
                        "Alg. 2 BLEU-4": interval_cell(s["bleu4"], "{:.4f}"), "Alg. 2 seq-rep-4": interval_cell(s["seq_rep4"], "{:.3f}"),
                        "Alg. 2 distinct-2": interval_cell(s["distinct2"], "{:.3f}"),
                        "Alg. 2 PPL Δ %": interval_cell(s["ppl_change"], "{:+.1f}", 100)})
        row["seeds"] = ", ".join(str(r["seed"]) for r in (m["runs"][loss] if m and loss in m["runs"]
                                                          else f["rows"][loss]))
    columns = [c for c in LOSS_COLUMNS if any(c in row for row in out.values())]
    return pd.DataFrame(out).T.reindex(columns=columns).fillna("")


LOSS_LABELS = {"nll": "nll (the paper's)", "unlikelihood": "unlikelihood", "cringe": "CRINGE"}


LOSS_COLUMNS = ("Alg. 1 train hits %", "Alg. 1 test hits %", "Alg. 1 PPL Δ %", "collateral: neighbours Δ log p",
                "targets Δ log p", "Alg. 1 neg. updates", "Alg. 2 M-ratio %", "Alg. 2 E-3", "Alg. 2 BLEU-4",
                "Alg. 2 seq-rep-4", "Alg. 2 distinct-2", "Alg. 2 PPL Δ %", "seeds")
