"""Notebook 07's table and figure (beyond the paper): per negative loss and problem, the means across the
independently trained baselines with their 95 % intervals (:func:`loss_summary`; each run's change measured
against the baseline it was trained from), the comparison table (:func:`loss_comparison`) and the trade-off
figure (:func:`tradeoff_figure`), read off the results of :mod:`ntlib.stages.losses_compared`.
"""
from __future__ import annotations

import math

import pandas as pd

from ntlib.results import plots, stats
from ntlib.results.loss_verdicts import fell_on_baselines, in_order, loss_order, paired
from ntlib.results.tables import seed_values, shown_interval


def tradeoff_figure(results: dict):
    """The trade-off per loss: the malicious training-list hit rate and the frequent max-ratio (y) against
    the test-PPL change from the loss's own baseline (x), one point per loss, bars the 95 % interval across
    baselines; the dashed line: the baselines' mean."""
    summ = loss_summary(results)
    panels = [(k, lab) for k, lab in (("malicious", "training-list hit rate after Alg. 1 (%)"),
                                      ("frequent", "max-ratio after Alg. 2 (%)")) if k in summ]
    fig, axes = plots.subplots(1, len(panels), figsize=(5.6 * len(panels) + 1.8, 4.0), squeeze=False)
    for ax, (problem, ylabel) in zip(axes[0], panels):
        part = summ[problem]
        for (loss, r), marker in zip(part["losses"].items(), plots.MARKERS):
            x, y = r["ppl_change"], r["y"]
            ax.errorbar([100 * x["mean"]], [100 * y["mean"]], marker=marker, ms=7, capsize=4,
                        label=LOSS_LABELS.get(loss, loss),
                        color=plots.model_colour(loss),
                        xerr=[[100 * (x["mean"] - x["lo"])], [100 * (x["hi"] - x["mean"])]] if x["n"] > 1 else None,
                        yerr=[[100 * (y["mean"] - y["lo"])], [100 * (y["hi"] - y["mean"])]] if y["n"] > 1 else None)
        ax.axhline(100 * part["baseline_y"], color=plots.model_colour("Baseline"), ls="--", lw=1,
                   label="baselines' mean")
        ax.axvline(0, color="grey", ls=":", lw=1)
        lo, hi = ax.get_ylim()
        ax.set_ylim(max(lo, -2.0), min(hi, 102.0))       # a rate lies in [0, 100] %; its t-interval need not
        ax.set(xlabel="test PPL change vs its baseline (%)", ylabel=ylabel,
               title=PANEL_TITLES[problem])
    plots.legend_outside(axes[0][-1])                 # one legend: the losses are the same in both panels
    seeds = results.get("seeds", [])
    fig.suptitle(plots.title("Negative losses: what each buys against what it costs in PPL", results.get("corpus", ""),
                             results.get("profile", ""), len(seeds),
                             f"baselines (seeds {', '.join(map(str, seeds))}); mean, 95 % interval across them"))
    return fig


def loss_summary(res: dict) -> dict:
    """Per problem and loss, the means across baselines and their 95 % intervals (clipped to each quantity's
    range) the table and the trade-off figure show; ``baseline``: the baselines' own, ``baseline_y`` its mean (the figure's dashed line)."""
    out = {}
    order = loss_order(res)
    m = res.get("malicious")
    if m:
        losses = {}
        for loss, runs in in_order(m["runs"], order):
            pairs = paired(f"malicious runs of {loss!r} and the baselines' hits", m["baseline"], runs)
            losses[loss] = {"y": stats.seed_interval([r["train"]["rate"] for r in runs], bounds=(0.0, 1.0)),
                            "test": stats.seed_interval([r["test"]["rate"] for r in runs], bounds=(0.0, 1.0)),
                            "ppl_change": stats.seed_interval([r["ppl"] / b["ppl"] - 1 for b, r in pairs], bounds=(-1.0, math.inf)),
                            "neighbours": stats.seed_interval([r["collateral"]["neighbours"] for r in runs]),   # Δ log p:
                            "targets": stats.seed_interval([r["collateral"]["targets"] for r in runs]),         # unbounded
                            "neg_updates": stats.seed_interval([r["neg_updates"] for r in runs], bounds=(0.0, math.inf))}
        base = {"y": stats.seed_interval([b["train"]["rate"] for b in m["baseline"]], bounds=(0.0, 1.0)),
                "test": stats.seed_interval([b["test"]["rate"] for b in m["baseline"]], bounds=(0.0, 1.0)),
                "ppl": stats.seed_interval([b["ppl"] for b in m["baseline"]], bounds=(1.0, math.inf))}
        out["malicious"] = {"baseline_y": base["y"]["mean"], "baseline_test": base["test"]["mean"], "baseline": base,
                            "losses": losses}
    f = res.get("frequent")
    if f:
        rows, losses = f["rows"], {}
        for loss, recs in in_order(rows, order):
            pairs = paired(f"frequent rows of {loss!r} and the Baseline", rows["Baseline"], recs)
            losses[loss] = {"y": stats.seed_interval([r["max_ratio"] for r in recs], bounds=(0.0, 1.0)),
                            "ppl_change": stats.seed_interval([r["ppl"] / b["ppl"] - 1 for b, r in pairs], bounds=(-1.0, math.inf))}
            losses[loss].update(_frequent_columns(recs))
        base = {"y": stats.seed_interval([b["max_ratio"] for b in rows["Baseline"]], bounds=(0.0, 1.0)),
                "ppl": stats.seed_interval([b["ppl"] for b in rows["Baseline"]], bounds=(1.0, math.inf)), **_frequent_columns(rows["Baseline"])}
        out["frequent"] = {"baseline_y": base["y"]["mean"], "baseline": base, "losses": losses}
    return out


def _frequent_columns(recs: list[dict]) -> dict:
    """Table 4 / 9's columns of one row's records (a record per baseline): mean and interval, None when absent."""
    out = {}
    for key in ("ent2", "ent3", "bleu4", "seq_rep4", "rep4_share", "distinct1", "distinct2"):
        vals = seed_values(recs, key)
        out[key] = shown_interval(vals, key) if vals else None
    return out


def interval_cell(s: dict | None, fmt: str = "{:.1f}", scale: float = 1.0) -> str:
    """"mean [lo–hi]" (95 % interval across baselines); one baseline: its value; None: "–"."""
    if s is None:
        return "–"
    if s["n"] < 2:
        return fmt.format(scale * s["mean"])
    return f"{fmt.format(scale * s['mean'])} [{fmt.format(scale * s['lo'])}–{fmt.format(scale * s['hi'])}]"


def _hits_cell(s: dict, recs: list[dict], split: str, mark: str = "") -> str:
    ks = ", ".join(str(r[split]["k"]) for r in recs)
    return f"{interval_cell(s, scale=100)} (k = {ks} of {recs[0][split]['n']})" + (f" {mark}" if mark else "")


def _frequent_cells(s: dict) -> dict:
    return {"Alg. 2 M-ratio %": interval_cell(s["y"], scale=100), "Alg. 2 E-3": interval_cell(s["ent3"], "{:.2f}"),
            "Alg. 2 BLEU-4": interval_cell(s["bleu4"], "{:.4f}"),
            "Alg. 2 seq-rep-4": interval_cell(s["seq_rep4"], "{:.3f}"),
            "Alg. 2 distinct-2": interval_cell(s["distinct2"], "{:.3f}")}


def loss_comparison(res: dict) -> pd.DataFrame:
    """Notebook 07's table: the baselines, then per negative loss, every figure a mean [95 % interval across
    baselines]. On the malicious problem (Algorithm 1): the training- and test-list hit rates after training
    — with each baseline's k and the McNemar verdict "fell" against its baseline (✔ on every baseline, ✘ the
    opposite on every baseline, ~ otherwise) —, the test PPL change from its baseline, the collateral damage
    (change of benign neighbours' average word log-probability given the baseline's trigger, beside the
    targets' own), the negative updates taken; on the frequent problem (Algorithm 2): max-ratio, Ent-3,
    BLEU-4, seq-rep-4, distinct-2 and the PPL change; the baseline seeds."""
    summ = loss_summary(res)
    m, f = res.get("malicious"), res.get("frequent")
    out = {}
    if m:
        s, recs = summ["malicious"]["baseline"], m["baseline"]
        out["Baseline"] = {"Alg. 1 train hits %": _hits_cell(s["y"], recs, "train"),
                           "Alg. 1 test hits %": _hits_cell(s["test"], recs, "test"),
                           "Alg. 1 PPL Δ %": f"(PPL {interval_cell(s['ppl'], '{:.2f}')})",
                           "baseline seeds": ", ".join(str(b["seed"]) for b in recs)}
    if f:
        s, recs = summ["frequent"]["baseline"], f["rows"]["Baseline"]
        out.setdefault("Baseline", {}).update({**_frequent_cells(s),
                                               "Alg. 2 PPL Δ %": f"(PPL {interval_cell(s['ppl'], '{:.2f}')})",
                                               "baseline seeds": ", ".join(str(b["seed"]) for b in recs)})
    for loss in loss_order(res):                 # the config's order (JSON sorts keys)
        row = out.setdefault(loss, {})
        if m and loss in m["runs"]:
            runs, s = m["runs"][loss], summ["malicious"]["losses"][loss]
            for split, key in (("train", "y"), ("test", "test")):
                fell = fell_on_baselines(loss, m, split).symbol
                row[f"Alg. 1 {split} hits %"] = _hits_cell(s[key], runs, split, fell)
            row["Alg. 1 PPL Δ %"] = interval_cell(s["ppl_change"], "{:+.1f}", 100)
            row["collateral: neighbours Δ log p"] = interval_cell(s["neighbours"], "{:+.3f}")
            row["targets Δ log p"] = interval_cell(s["targets"], "{:+.3f}")
            row["Alg. 1 neg. updates"] = interval_cell(s["neg_updates"], "{:.0f}")
        if f and loss in f["rows"]:
            s = summ["frequent"]["losses"][loss]
            row.update({**_frequent_cells(s), "Alg. 2 PPL Δ %": interval_cell(s["ppl_change"], "{:+.1f}", 100)})
        row["baseline seeds"] = ", ".join(str(r["seed"]) for r in (m["runs"][loss] if m and loss in m["runs"]
                                                                   else f["rows"][loss]))
    columns = [c for c in LOSS_COLUMNS if any(c in row for row in out.values())]
    return pd.DataFrame(out).T.reindex(columns=columns).fillna("")


PANEL_TITLES = {"malicious": "malicious targets (Algorithm 1)", "frequent": "frequent responses (Algorithm 2)"}
LOSS_LABELS = {"nll": "nll (the paper's)", "unlikelihood": "unlikelihood", "cringe": "CRINGE", "npo": "NPO",
               "simnpo": "SimNPO"}


LOSS_COLUMNS = ("Alg. 1 train hits %", "Alg. 1 test hits %", "Alg. 1 PPL Δ %", "collateral: neighbours Δ log p",
                "targets Δ log p", "Alg. 1 neg. updates", "Alg. 2 M-ratio %", "Alg. 2 E-3", "Alg. 2 BLEU-4",
                "Alg. 2 seq-rep-4", "Alg. 2 distinct-2", "Alg. 2 PPL Δ %", "baseline seeds")
