"""Stage 04 (notebooks/04_frequent.ipynb): negative training for the frequent response problem (§3.3,
§4.3) — the neg-train rows of Tables 4 and 9, Table 5's samples.

Algorithm 2 is :mod:`ntlib.methods.frequent`; a row's measures are :func:`ntlib.methods.evaluate.table4_row`. This driver
runs Algorithm 2 at each threshold from each baseline of stage 02 (seeded with its seed), scores every model on
the one evaluation set, draws the figures and writes ``table4_frequent_*``, ``table9_bleu_*``, ``table5_samples_*``
and ``results/frequent_<corpus>.json`` (:class:`FrequentResults`).
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass

import pandas as pd

from ntlib.methods import evaluate, frequent
from ntlib.results import figures, metrics, paper, reports, tables
from ntlib.run.config import override
from ntlib.run.params import NotebookRun, apply
from ntlib.stages import StageResults, baselines

KNOBS = ("r_thres", "eos_scale", "lr", "window")    # notebook 04's knobs (r_thres: the thresholds trained, the sweep)
SAMPLES = 10                             # Table 5's consecutive samples
EOS_SCALES = (0.0, None, 1.0)            # §4.3 fn. 10's comparison: none, the config's (0.1), full


@dataclass
class FrequentResults(StageResults):
    """``results/frequent_<corpus>.json``: ``rows`` {"Test-set": [record], "Baseline", "+neg-train (r%)": [a
    record per baseline]} (:func:`ntlib.methods.evaluate.table4_row` records, with ``r_thres``; ``seed``: the
    baseline's), each model's training history, the optional <eos>-scale comparison (first baseline) and
    Table 5's samples."""
    RESULTS = "frequent"
    profile: str
    corpus: str
    seed: int
    seeds: list
    config: dict
    run_dirs: list
    rows: dict
    histories: dict
    eos_comparison: dict
    samples: list
    seconds: float
    provenance: dict


@dataclass
class Setup(baselines.OnEachBaseline):
    """Algorithm 2's config per baseline seed (the knobs applied), the thresholds trained and the baselines."""
    cfgs: dict               # {seed: FrequentConfig}
    thresholds: tuple
    bs: dict                 # {seed: Baselines}
    meta: dict = None
    ev: object = None
    raw_refs: list = None

    @property
    def cfg(self):
        return next(iter(self.cfgs.values()))


def setup(nb: NotebookRun) -> Setup:
    bs = baselines.by_seed(nb)
    cfgs = {seed: apply(override(nb.P.frequent, seed=seed), nb.values, *KNOBS) for seed in bs}
    return Setup(cfgs, next(iter(cfgs.values())).sweep, bs)


def baseline_rows(nb: NotebookRun, s: Setup) -> dict:
    """The Test-set row and each baseline's Baseline record on the one evaluation set (as notebook 02)."""
    inputs = baselines.evaluation_inputs(nb, s.b.data)
    s.ev, s.meta, s.raw_refs = inputs.ev, inputs.meta, inputs.raw_refs
    return baselines.reference_rows(nb, list(s.bs.values()), inputs)


def top5(rows: dict) -> pd.DataFrame:
    """Each baseline's five most frequent responses."""
    return pd.concat({f"seed {r['seed']}": pd.DataFrame(r["top10"][:5], columns=["baseline response", "ratio"])
                      for r in rows["Baseline"]}, axis=1)


def row_name(r_thres: float) -> str:
    return f"+neg-train ({r_thres * 100:g}%)"


def negative_training(nb: NotebookRun, s: Setup, rows: dict) -> dict:
    """Algorithm 2 (cached in each baseline's run folder) at each threshold from each baseline, each model scored
    as a Table 4 row; adds the rows to ``rows`` and returns each model's history ({"<row> seed=<s>": history})."""
    P, histories = nb.P, {}
    for r in s.thresholds:
        rows[row_name(r)] = []
        for seed, b in s.bs.items():
            m, histories[f"{row_name(r)} seed={seed}"] = frequent.negative_train_cached(
                b.seq2seq, b.data, override(s.cfgs[seed], r_thres=r), b.run_dir, P.decode.max_len)
            rec = evaluate.table4_row(m, b.data, s.ev, P.decode.max_len, {**s.meta, "seed": seed}, s.raw_refs)
            rows[row_name(r)].append({**rec, "r_thres": r})
    return histories


def table4(nb: NotebookRun, rows: dict) -> pd.DataFrame:
    return tables.table4({}, nb.corpus, rows)


def seed_table(rows: dict) -> pd.DataFrame:
    """Each baseline's values of every row, their mean and 95 % interval across baselines."""
    return tables.seed_table(rows)


def top10_table(rows: dict) -> pd.DataFrame:
    return tables.top10_table(rows)


def bleu_variants(rows: dict) -> pd.DataFrame:
    return tables.bleu_variants_table(table9_rows(rows))


def table9_rows(rows: dict) -> dict:
    """Table 9's rows: the Baseline and the paper's Neg-train row (the smaller threshold)."""
    neg = tables.paper_neg_train_row(rows)
    return {"Baseline": rows["Baseline"], neg: rows[neg]}


def table9(nb: NotebookRun, rows: dict) -> pd.DataFrame:
    return tables.table9({}, nb.corpus, table9_rows(rows))


def samples(s: Setup, rows: dict) -> pd.DataFrame:
    """Table 5: consecutive evaluation inputs with the first baseline's and its Neg-train model's greedy responses."""
    neg = tables.paper_neg_train_row(rows)
    out = pd.DataFrame({"input": metrics.tensor_to_strings(s.ev.pairs.src[:SAMPLES], s.b.data.vocab),
                        "Baseline": rows["Baseline"][0]["responses"][:SAMPLES],
                        "Neg-train": rows[neg][0]["responses"][:SAMPLES]})
    out["input"] = out["input"].str.replace(" <eou>", "")
    return out


def top10_figure(nb: NotebookRun, s: Setup, rows: dict):
    """The ten most frequent greedy responses of the first baseline and of every neg-train model of it."""
    shown = ["Baseline"] + [row for row in rows if row.startswith("+neg")]
    return figures.frequent_top10({row: rows[row][0]["top10"] for row in shown}, corpus=nb.corpus, profile=nb.profile,
                                  n_inputs=s.meta["n_inputs"], seed=s.seeds[0])


def training_figure(nb: NotebookRun, s: Setup, histories: dict):
    """Max-ratio and Ent-3 of greedy validation responses during Algorithm 2: one colour per model, one marker
    and dash per baseline seed."""
    return figures.frequent_training(histories, corpus=nb.corpus, profile=nb.profile,
                                     n_inputs=min(s.cfg.log_inputs, len(s.b.data.valid.src)))


def response_lengths(rows: dict) -> dict[str, list[int]]:
    """Each row's greedy response lengths in tokens (first baseline)."""
    return {row: [len(r.split()) for r in recs[0]["responses"]] for row, recs in rows.items()}


def lengths_figure(nb: NotebookRun, s: Setup, lengths: dict):
    """Greedy response lengths, one panel per model with the references' as an outline."""
    return figures.frequent_lengths(lengths, corpus=nb.corpus, profile=nb.profile, n_inputs=s.meta["n_inputs"])


def lengths_table(lengths: dict) -> pd.DataFrame:
    return pd.DataFrame({row: pd.Series(v).describe()[["mean", "50%", "max"]] for row, v in lengths.items()}).T


def eos_comparison(nb: NotebookRun, s: Setup) -> dict:
    """§4.3 fn. 10: Algorithm 2 at the smaller threshold from the first baseline with the <eos> gradient scaled
    by 0, the config's scale and 1 (notebook parameter ``eos_comparison``; two extra runs, cached)."""
    P, b, out = nb.P, s.b, {}
    for scale in EOS_SCALES:
        scale = s.cfg.eos_scale if scale is None else scale
        m, _ = frequent.negative_train_cached(b.seq2seq, b.data, override(s.cfg, r_thres=min(s.thresholds), eos_scale=scale),
                                              b.run_dir, P.decode.max_len, progress=False)
        res = evaluate.table4_row(m, b.data, s.ev, P.decode.max_len, s.meta, s.raw_refs)
        out[f"eos_scale={scale:g}"] = {"PPL": res["ppl"], "M-ratio": res["max_ratio"], "E-3": res["ent3"],
                                       "mean length": sum(len(r.split()) for r in res["responses"]) / len(res["responses"])}
    return out


def eos_table(eos_rows: dict) -> pd.DataFrame | None:
    """The <eos>-scale comparison as a table, or a note that it was not run (``eos_comparison`` is False)."""
    if eos_rows:
        return pd.DataFrame(eos_rows).T
    print("Skipped: eos_comparison is False in the parameters cell, so the two extra negative-training runs "
          "(eos_scale 0 and 1) were not trained. Set it to True to see footnote 10's effect.")
    return None


def write_reports(nb: NotebookRun, s: Setup, rows: dict, histories: dict, eos_rows: dict, sample_table: pd.DataFrame,
                  figures: dict) -> FrequentResults:
    """``results/frequent_<corpus>.json``, Tables 4, 9, 5 (markdown + CSV) and the figures ({name: fig})."""
    res = FrequentResults(profile=nb.profile, corpus=nb.corpus, seed=nb.seed, seeds=s.seeds, config=s.cfg.__dict__,
                          run_dirs=[str(b.run_dir) for b in s.bs.values()], rows=rows, histories=histories, eos_comparison=eos_rows,
                          samples=sample_table.to_dict(orient="records"), seconds=nb.seconds(),
                          provenance=nb.provenance(s.b.run_dir))
    res.write(nb.reports_dir)
    note = (f"Greedy responses to {s.meta['n_inputs']} test inputs spread over all {len(set(s.ev.dialogues))} test "
            f"dialogues (ids sha {s.meta['inputs_sha']}); PPL on the whole test set; Baseline and neg-train rows: mean "
            f"[95 % interval across the baselines, seeds {s.seeds}] (Algorithm 2 run once from each). Paper numbers: "
            "He & Glass 2020.")
    reports.write_table(table4(nb, rows), f"table4_frequent_{nb.corpus}", nb.reports_dir,
                        title=f"Table 4 ({nb.corpus}, {nb.profile}): frequent response problem, ours (paper)", note=note)
    reports.write_table(table9(nb, rows), f"table9_bleu_{nb.corpus}", nb.reports_dir,
                        title=f"Table 9 ({nb.corpus}, {nb.profile}): BLEU-4 before/after, ours (paper)",
                        note=note + f" BLEU-4: {metrics.BLEU_VARIANTS[metrics.BLEU_CHOSEN]}.")
    reports.write_table(sample_table, f"table5_samples_{nb.corpus}", nb.reports_dir,
                        title=f"Table 5 ({nb.corpus}, {nb.profile}): consecutive greedy samples, baseline vs "
                              f"{tables.paper_neg_train_row(rows)}")
    if eos_rows:
        reports.write_table(pd.DataFrame(eos_rows).T, f"frequent_eos_scale_{nb.corpus}", nb.reports_dir,
                            title=f"<eos> scale at r_thres={min(s.thresholds):g} ({nb.corpus}, {nb.profile})")
    for name, fig in figures.items():
        reports.save_figure(fig, f"frequent_{name}_{nb.corpus}", nb.reports_dir)
    print(f"notebook time: {res.seconds:.0f} s")
    return res


def _change(new: float, old: float) -> str:
    return f"{100 * (new - old) / old:+.1f} %" if old else "from 0"


def findings(nb: NotebookRun, s: Setup, rows: dict, lengths: dict) -> str:
    """What this run found, beside Tables 4 and 9, in words (means over baselines)."""
    paper4 = paper.TABLE4.get(nb.corpus, {})
    neg = tables.paper_neg_train_row(rows)

    def mean(row, key):
        return statistics.fmean(r[key] for r in rows[row])
    lines = [f"{nb.corpus}, profile {nb.profile}: greedy responses to {s.meta['n_inputs']} test inputs; negative "
             f"training from each of {len(s.seeds)} baseline(s) (seeds {s.seeds}), means over baselines"]
    b_mr, b_e3, b_pp = mean("Baseline", "max_ratio"), mean("Baseline", "ent3"), mean("Baseline", "ppl")
    for row in (r for r in rows if r.startswith("+neg-train")):
        mr, e3, pp = mean(row, "max_ratio"), mean(row, "ent3"), mean(row, "ppl")
        lines.append(f"- {row}: max-ratio {100 * b_mr:.1f} % → {100 * mr:.1f} % ({_change(mr, b_mr)}), Ent-3 "
                     f"{b_e3:.2f} → {e3:.2f} nats ({_change(e3, b_e3)}), PPL {b_pp:.2f} → {pp:.2f} ({_change(pp, b_pp)})")
        p, pb = paper4.get(row), paper4.get("Baseline")
        if p and pb:
            lines.append(f"  paper: max-ratio {_change(p['max_ratio'], pb['max_ratio'])}, Ent-3 "
                         f"{_change(p['ent3'], pb['ent3'])}, PPL {_change(p['ppl'], pb['ppl'])}")
    lines.append(f"- Table 9, BLEU-4 ({rows['Baseline'][0]['bleu4_variant']}): Baseline {mean('Baseline', 'bleu4'):.3f}, "
                 f"{neg} {mean(neg, 'bleu4'):.3f}")
    for base, after in zip(rows["Baseline"], rows[neg]):
        if base["top10"] and after["top10"]:
            (r0, x0), (r1, x1) = base["top10"][0], after["top10"][0]
            lines.append(f"- baseline seed {base['seed']}, most frequent response: \"{r0 or '(empty response)'}\" "
                         f"{100 * x0:.1f} % before, \"{r1 or '(empty response)'}\" {100 * x1:.1f} % after {neg}")
    lines.append(f"- mean response length: Baseline {statistics.fmean(lengths['Baseline']):.1f} tokens, {neg} "
                 f"{statistics.fmean(lengths[neg]):.1f} (first baseline), references {statistics.fmean(lengths['Test-set']):.1f}")
    return "\n".join(lines)
