"""The paper's Tables 3, 4, 8 and 9 rebuilt from the results JSON of notebooks 02–05, with verdicts.

Nothing is computed here from models: every number comes from ``reports/results/*.json`` (written by the
stages, :mod:`ntlib.stages`; each results file's fields are its results class there), and the paper's numbers
from :mod:`ntlib.results.paper`. Each cell is "ours (paper)"; a row of several independently trained baselines
shows the mean and its 95 % interval across them (Student t), and :func:`baseline_table` each baseline's
value. The verdicts are :mod:`ntlib.results.verdicts`. Shown in notebook 06.

One table compares like with like: :func:`check_same_inputs` refuses rows scored on other inputs or under
another profile / corpus, and :func:`load_results` refuses stages of different runs.

*Row record* — one Table 4 / 9 row of one model (``evaluate.table4_row`` / ``evaluate.test_set_row``):
``profile``, ``corpus``, ``seed`` (its baseline's), ``n_inputs``, ``inputs_sha`` (hash of the input ids scored),
``dialogues`` (each input's test dialogue: the bootstraps resample them), ``provenance``;
``ppl`` (None: Test-set, MMI), ``max_ratio``, ``ent2``, ``ent3``, ``distinct1``, ``distinct2``, ``seq_rep4``,
``rep4_share`` (share of responses repeating a 4-gram), ``bleu4`` (the variant ``bleu4_variant``),
``bleu4_variants`` {variant: value}, ``corpus_bleu4``, ``bleu4_sentences`` (per input), ``top10``
[[response, ratio]], ``responses`` (one per input, in the evaluation set's order: the unit of the paired
bootstrap); stage extras (``r_thres``, ``g_lr``, ``setting``, ``lm_ppl``, ``avg_len``).
"""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from ntlib.results import paper, stats
from ntlib.results.metrics import BLEU_CHOSEN, BLEU_VARIANTS
from ntlib.results.reports import read_json
from ntlib.run.config import HIT_TYPES
from ntlib.stages import STAGES, TABLE_STAGES, results_path

ROW_KEYS = ("profile", "corpus", "n_inputs", "inputs_sha")   # what one table's rows must share
                            # the test set's by more than this (2 points), by the test


class MixedResultsError(ValueError):
    """Rows or stages of different runs (inputs, profile or corpus) put in one table."""


class MissingResultsError(FileNotFoundError):
    """A stage's results JSON that a table needs is not there; the message names the file and its notebook."""


def load_results(reports_dir: str | Path, corpus: str, required=()) -> dict:
    """``{stage: results dict}`` for each stage whose JSON exists; a stage in ``required`` whose JSON
    is missing is a :class:`MissingResultsError` naming the file and the notebook that writes it (a
    table is never built without it). Stages of different profiles or corpora are refused
    (:func:`check_one_run`)."""
    out, missing = {}, []
    for stage in TABLE_STAGES:
        path = results_path(reports_dir, stage, corpus)
        if path.exists():
            out[stage] = read_json(path)
        elif stage in required:
            writer = next(s.name for s in STAGES if s.results == stage)
            missing.append(f"{path} (written by notebooks/{writer}.ipynb)")
    if missing:
        raise MissingResultsError("results missing, so the tables would be incomplete: " + "; ".join(missing)
                                  + ". Run those notebooks first (make reproduce runs them in order).")
    check_one_run(out)
    return out


def check_one_run(res: dict) -> None:
    """Raise :class:`MixedResultsError` naming the stages when they ran on different profiles or corpora."""
    runs = {stage: (r.get("profile"), r.get("corpus")) for stage, r in res.items()}
    if len(set(runs.values())) > 1:
        listed = "; ".join(f"{stage}: profile {p!r}, corpus {c!r}" for stage, (p, c) in runs.items())
        raise MixedResultsError(f"the results mix runs ({listed}); one table holds one profile and corpus: "
                                "rerun the stages on one profile (make reproduce PROFILE=...)")


def profiles(res: dict) -> dict[str, str]:
    """Each stage's profile (notebook 06's header)."""
    return {stage: f"{r.get('profile')} / {r.get('corpus')}" for stage, r in res.items()}


def check_same_inputs(rows: dict[str, list[dict]]) -> None:
    """Raise :class:`MixedResultsError` naming the rows unless every record of every row was scored
    on the same inputs (``n_inputs``, ``inputs_sha``) under the same ``profile`` and ``corpus``."""
    keys = {}
    for name, recs in rows.items():
        for rec in recs:
            missing = [k for k in ROW_KEYS if k not in rec]
            if missing:
                raise MixedResultsError(f"row {name!r} has no {', '.join(missing)}: written by an older "
                                        "notebook; rerun it")
            keys.setdefault(tuple(rec[k] for k in ROW_KEYS), []).append(f"{name} (seed {rec.get('seed')})")
    if len(keys) > 1:
        listed = "; ".join(f"{', '.join(names)}: " + ", ".join(f"{k}={v}" for k, v in zip(ROW_KEYS, key))
                           for key, names in keys.items())
        raise MixedResultsError(f"rows scored on different inputs or runs cannot share a table — {listed}")


def records_of(v) -> list[dict]:
    """A row's records: a list (one per baseline), or one record."""
    return v if isinstance(v, list) else [v]


def by_seed(recs: list[dict]) -> dict:
    """{baseline seed: record} of a row's records."""
    return {r.get("seed"): r for r in recs}


def table8(res: dict, corpus: str) -> pd.DataFrame:
    """Table 8: test PPL (NLL) of the LM (one, shared by the baselines) and the seq2seq (mean [interval]
    across baselines)."""
    b, p = res["baselines"], paper.TABLE8.get(corpus, {})
    rows = {}
    for kind, name in (("lm", "LM"), ("seq2seq", "Seq2seq")):
        ours, theirs = records_of(b[kind]), p.get(kind, {})
        rows[name] = {"Test-PPL": _stat_cell(ours, "ppl", theirs.get("ppl")),
                      "Test-NLL": _stat_cell(ours, "nll", theirs.get("nll"), "{:.3f}"),
                      "models": len(ours)}
    return pd.DataFrame(rows).T


def table8_per_baseline(res: dict) -> pd.DataFrame:
    """Table 8 on each baseline: the seq2seq's test PPL and NLL, and the per-word NLL difference to the LM
    with its paired-bootstrap interval over test dialogues."""
    b = res["baselines"]
    boots = {x.get("baseline_seed"): x for x in b.get("ppl_bootstrap", [])}
    out = {}
    for rec in records_of(b["seq2seq"]):
        bs = boots.get(rec.get("seed"), {})
        out[f"baseline seed {rec.get('seed')}"] = {
            "Test-PPL": f"{rec['ppl']:.2f}", "Test-NLL": f"{rec['nll']:.3f}",
            "NLL − LM's [95 %]": f"{bs['diff']:+.3f} [{bs['lo']:+.3f}, {bs['hi']:+.3f}]" if bs else "–"}
    return pd.DataFrame(out).T


def table4_rows(res: dict) -> dict[str, list[dict]]:
    """Our Table 4 rows keyed as the paper's rows, each a list of records (one per seed); every
    row is checked to be on the same inputs and run, the stages' own Test-set / Baseline included."""
    rows, shown = {}, {}
    for stage in ("baselines", "gan_mmi", "frequent"):
        for name, v in res.get(stage, {}).get("rows", {}).items():
            rows[f"{name} [{stage}]"] = records_of(v)
            shown.setdefault(name, records_of(v))
    check_same_inputs(rows)
    return _paper_order(shown)


def _paper_order(rows: dict) -> dict:
    """Table 4's row order: Test-set, Baseline, +GAN, +MMI, then neg-train by falling threshold
    (the results JSON is written with sorted keys)."""
    first = [k for k in ("Test-set", "Baseline", "+GAN", "+MMI") if k in rows]
    neg = sorted((k for k in rows if k.startswith("+neg")), key=lambda k: -(rows[k][0].get("r_thres") or 0))
    rest = [k for k in rows if k not in first and k not in neg]
    return {k: rows[k] for k in first + neg + rest}


def seed_values(recs: list[dict], key: str, scale: float = 1.0) -> list[float] | None:
    vals = [r.get(key) for r in recs]
    return None if any(v is None for v in vals) else [scale * v for v in vals]


# the range of each quantity a table shows with an interval across baselines: intervals are clipped to it
RANGES = {"max_ratio": (0.0, 1.0), "rep4_share": (0.0, 1.0), "distinct1": (0.0, 1.0), "distinct2": (0.0, 1.0),
          "seq_rep4": (0.0, 1.0), "bleu4": (0.0, 1.0), "ent2": (0.0, math.inf), "ent3": (0.0, math.inf),
          "ppl": (1.0, math.inf)}


def shown_interval(vals: list[float], key: str, scale: float = 1.0) -> dict:
    """:func:`stats.seed_interval` of ``vals`` clipped to the range of ``key`` (scaled as the values are)."""
    lo, hi = RANGES.get(key, (-math.inf, math.inf))
    return stats.seed_interval(vals, bounds=(lo * scale, hi * scale))


def _stat_cell(recs: list[dict], key: str, paper_value=None, fmt: str = "{:.2f}", scale: float = 1.0) -> str:
    """"ours (paper)"; over several baselines "mean [95 % interval across baselines] (paper)"."""
    vals = seed_values(recs, key, scale)
    theirs = "–" if paper_value is None else fmt.format(scale * paper_value)
    if vals is None:
        return f"– ({theirs})"
    if len(vals) == 1:
        return f"{fmt.format(vals[0])} ({theirs})"
    s = shown_interval(vals, key, scale)
    return f"{fmt.format(s['mean'])} [{fmt.format(s['lo'])}–{fmt.format(s['hi'])}] ({theirs})"


TABLE4_COLUMNS = (("PPL", "ppl", "{:.2f}", 1), ("M-ratio %", "max_ratio", "{:.1f}", 100),
                  ("E-2", "ent2", "{:.2f}", 1), ("E-3", "ent3", "{:.2f}", 1),
                  ("distinct-1", "distinct1", "{:.3f}", 1), ("distinct-2", "distinct2", "{:.3f}", 1),
                  ("seq-rep-4", "seq_rep4", "{:.3f}", 1), ("rep-4 %", "rep4_share", "{:.1f}", 100))


def table4(res: dict, corpus: str, rows: dict | None = None) -> pd.DataFrame:
    """Table 4: PPL, M-ratio (%), E-2, E-3 of greedy test responses, ours (paper), and the fluency
    columns (distinct-1/2, seq-rep-4, % of responses repeating a 4-gram; no paper value); rows of
    several baselines show the mean with its 95 % interval across them. ``rows``: a notebook's own
    rows (default: every stage's, :func:`table4_rows`)."""
    rows = table4_rows(res) if rows is None else _paper_order(rows)
    check_same_inputs(rows)
    p = paper.TABLE4.get(corpus, {})
    out = {}
    for name, recs in rows.items():
        q = p.get(name, {})
        out[name] = {label: _stat_cell(recs, key, q.get(key), fmt, scale) for label, key, fmt, scale in TABLE4_COLUMNS}
        out[name]["baselines"] = len(recs)
        out[name]["n"] = recs[0]["n_inputs"]
    return pd.DataFrame(out).T


def seed_table(rows: dict[str, list[dict]], keys=("ppl", "max_ratio", "ent3", "distinct2", "rep4_share",
                                                   "bleu4")) -> pd.DataFrame:
    """Each baseline's value of the rows run on several baselines (labelled by the baseline's seed), then
    their mean and 95 % interval across baselines (Student t)."""
    out = {}
    for name, recs in rows.items():
        if len(recs) < 2:
            continue
        for r in recs:
            out[(name, f"baseline seed {r['seed']}")] = {k: four_digits(r.get(k)) for k in keys}
        for k in keys:
            vals = seed_values(recs, k)
            s = shown_interval(vals, k) if vals else None
            out.setdefault((name, "mean"), {})[k] = None if s is None else four_digits(s["mean"])
            out.setdefault((name, "95 % interval"), {})[k] = (None if s is None else
                                                             f"{s['lo']:.4g}–{s['hi']:.4g}")
    return pd.DataFrame(out).T


def four_digits(x):
    return None if x is None else f"{x:.4g}"


def top10_table(rows: dict[str, list[dict]]) -> pd.DataFrame:
    """The ten most frequent responses of every Table 4 row (its first baseline's model), with their share."""
    return pd.DataFrame({name: [f"{r or '<empty>'} ({100 * x:.1f} %)" for r, x in recs[0]["top10"]]
                         + [""] * (10 - len(recs[0]["top10"])) for name, recs in rows.items()},
                        index=range(1, 11))


def paper_neg_train_row(rows: dict) -> str | None:
    """The paper's Table 9 "Neg-train" row is its smaller threshold: our +neg-train row with the
    smallest r_thres."""
    neg = [k for k in rows if k.startswith("+neg")]
    return min(neg, key=lambda k: rows[k][0].get("r_thres", 1.0)) if neg else None


def table9_rows(res: dict) -> dict[str, list[dict]]:
    rows = table4_rows(res)
    out = {"Baseline": rows["Baseline"]}
    neg = paper_neg_train_row(rows)
    if neg:
        out[neg] = rows[neg]
    return out


def table9(res: dict, corpus: str, rows: dict | None = None) -> pd.DataFrame:
    """Table 9: PPL, BLEU-4, M-ratio of the baseline and of negative training (the paper's row: the
    smaller threshold), ours (paper). BLEU-4 is :data:`ntlib.results.metrics.BLEU_CHOSEN`; every other variant
    is shown beside it, labelled (:func:`bleu_variants_table`)."""
    rows = table9_rows(res) if rows is None else rows
    check_same_inputs(rows)
    p = paper.TABLE9.get(corpus, {})
    out = {}
    for name, recs in rows.items():
        q = p.get("Baseline" if name == "Baseline" else "Neg-train", {})
        out[name] = {"PPL": _stat_cell(recs, "ppl", q.get("ppl")),
                     f"BLEU-4 ({BLEU_CHOSEN})": _stat_cell(recs, "bleu4", q.get("bleu4"), "{:.3f}"),
                     "M-ratio %": _stat_cell(recs, "max_ratio", q.get("max_ratio"), "{:.1f}", 100),
                     "baselines": len(recs), "n": recs[0]["n_inputs"]}
    return pd.DataFrame(out).T


def bleu_variants_table(rows: dict[str, list[dict]]) -> pd.DataFrame:
    """Every BLEU-4 variant (:data:`ntlib.results.metrics.BLEU_VARIANTS`) of each row, the chosen one marked."""
    out = {}
    for name, recs in rows.items():
        if recs[0].get("bleu4_variants") is None:
            continue
        out[name] = {f"{k}{' (chosen)' if k == BLEU_CHOSEN else ''}":
                     _stat_cell([{**r, "v": r["bleu4_variants"].get(k)} for r in recs], "v", None, "{:.4f}")
                     .removesuffix(" (–)") for k in BLEU_VARIANTS}
    return pd.DataFrame(out).T


def table3(res: dict, corpus: str) -> pd.DataFrame:
    """Table 3: malicious-target hit rates (%) on the train/test lists and PPL, ours (paper): per row the
    mean over the baselines it ran on with its 95 % interval across them (Student t), and how many; the
    warm-start / stop-when-hit ablation row when present. Each baseline's own rates:
    :func:`table3_per_baseline`."""
    m, p = res["malicious"], paper.TABLE3.get(corpus, {})
    cells: dict = {}
    for b in m["per_baseline"]:
        for name, ht, r in _table3_runs(b):
            for split in ("train", "test"):
                cells.setdefault((name, f"{ht.replace('_', '-')} {split}"), (ht, split, []))[2].append(r[split][ht]["rate"])
            cells.setdefault((name, f"{ht.replace('_', '-')} PPL"), (ht, "ppl", []))[2].append(r["ppl"])
    out: dict = {}
    for (name, column), (ht, what, values) in cells.items():
        q = p.get(ht, {}).get(name, {})
        recs = [{"v": v} for v in values]
        out.setdefault(name, {})[column] = (_stat_cell(recs, "v", q.get("ppl"), "{:.2f}") if what == "ppl" else
                                            _stat_cell(recs, "v", q.get(what), "{:.1f}", 100))
        out[name]["baselines"] = len(values)
    return pd.DataFrame(out).T


def _table3_runs(b: dict):
    """(row name, hit type, record) of one baseline's Table 3 rows, the paper's hit-type order."""
    for ht in table3_hit_types({"baseline": b["baseline"]}):
        yield "Baseline", ht, b["baseline"]
        for k, v in b["neg_train"].items():
            if k.split(" ")[-1] == ht:
                yield k.split(" ")[0], ht, v
        for k, v in b.get("ablation", {}).items():
            if k.split(" ")[-1] == ht:
                yield f"{k.split(' ')[0]} {v.get('label', 'ablation')}", ht, v


def table3_per_baseline(res: dict) -> pd.DataFrame:
    """Table 3 on each baseline: hit rate % [95 % Wilson interval] k/n, and PPL, one row per (row, baseline)."""
    out = {}
    for b in res["malicious"]["per_baseline"]:
        for name, ht, r in _table3_runs(b):
            row = out.setdefault((name, f"baseline seed {b['seed']}"), {})
            for split in ("train", "test"):
                h = r[split][ht]
                row[f"{ht.replace('_', '-')} {split}"] = (f"{100 * h['rate']:.1f} [{100 * h['lo']:.0f}–"
                                                         f"{100 * h['hi']:.0f}] {h['k']}/{h['n']}")
            row[f"{ht.replace('_', '-')} PPL"] = f"{r['ppl']:.2f}"
    return pd.DataFrame(out).T.sort_index(level=0, sort_remaining=False)


def table3_hit_types(m: dict) -> list[str]:
    """Table 3's hit types present in malicious results ``m``, in the paper's order (config.HIT_TYPES),
    not the dict's: notebook 03 holds its results in memory, 06 reads them back from JSON with sorted keys."""
    return [h for h in HIT_TYPES if h in m["baseline"]["train"] and h != "o_greedy"]


def percent_or_dash(x):
    return "–" if x is None else f"{100 * x:.1f}"


def paired_hits_table(before: dict, after: dict | None = None, after_name: str = "after Algorithm 1") -> pd.DataFrame:
    """Hits of one model before and after negative training, target by target ({row: hit record with ``hits``}; the
    same rows in ``after``): k of N each, the discordant pairs (fell / rose) and the exact one-sided McNemar p of
    "fell". One model: a description of this run, not a verdict about the method."""
    def hits(r):                          # a tensor (in memory) or a 0/1 list (from the results JSON)
        return [bool(x) for x in (r["hits"].tolist() if hasattr(r["hits"], "tolist") else r["hits"])]
    rows = {}
    for key, b in before.items():
        hb = hits(b)
        row = {"before": f"{sum(hb)} / {len(hb)}"}
        if after is not None:
            ha = hits(after[key])
            fell, rose = stats.paired_counts(hb, ha)
            row |= {after_name: f"{sum(ha)} / {len(ha)}", "fell / rose": f"{fell} / {rose}",
                    "McNemar p (one-sided, fell)": f"{stats.mcnemar_fell(fell, rose):.3g}"}
        rows[key] = row
    return pd.DataFrame(rows).T
