"""Stage 05 (notebooks/05_gan_mmi.ipynb): the comparison baselines of Table 4 — a vanilla GAN (eq. 6,
App. E) and MMI-antiLM decoding (Li et al. 2016).

The GAN is :mod:`ntlib.methods.gan`, MMI-antiLM :mod:`ntlib.methods.mmi`. This driver trains the GAN per seed from the
baseline of stage 02 (α_G chosen on validation), tunes MMI-antiLM's (λ, g, γ) on validation, scores both on
the one evaluation set and writes ``table4_gan_mmi_*``, ``mmi_grid_*``, ``gan_lr_*``, the samples, the
discriminator figure and ``results/gan_mmi_<corpus>.json`` (:class:`GanMmiResults`).
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass

import matplotlib.pyplot as plt
import pandas as pd

from ntlib.methods import evaluate, gan, mmi
from ntlib.results import metrics, paper, plots, reports, tables
from ntlib.run import pipeline
from ntlib.run.config import override
from ntlib.run.params import NotebookRun, apply
from ntlib.stages import StageResults

SAMPLES = 10          # test samples of the three rows
GRID_SAMPLES = 8      # validation samples per MMI setting shown
D_HALF = 0.5          # D(x, G(x)) = 0.5: the discriminator cannot tell


@dataclass
class GanMmiResults(StageResults):
    """``results/gan_mmi_<corpus>.json``: ``rows`` {"Test-set", "Baseline": [record], "+GAN": [a record per
    seed, with its α_G], "+MMI": [record, with its setting]}, the α_G selection per seed, MMI's grid and
    reference statistics, and samples."""
    RESULTS = "gan_mmi"
    profile: str
    corpus: str
    seed: int
    seeds: list
    config: dict
    rows: dict
    gan_selection: dict
    mmi_grid: list
    mmi_reference: dict
    samples: list
    mmi_samples: list
    seconds: float
    provenance: dict


@dataclass
class Setup:
    """The GAN and MMI configs (the notebook's knobs applied), the baselines, the GAN's seeds."""
    gan_cfg: object
    mmi_cfg: object
    b: object
    seeds: list
    meta: dict = None
    raw_refs: list = None


def setup(nb: NotebookRun) -> Setup:
    gan_cfg = apply(override(nb.P.gan, seed=nb.seed), nb.values, "alpha_G")
    mmi_cfg = apply(nb.P.mmi, nb.values, "mmi_lambdas")
    b = pipeline.baselines(nb.P, run_root=nb.run_root, data_dir=nb.data_dir, device=nb.device)
    return Setup(gan_cfg, mmi_cfg, b, [nb.seed + i for i in range(gan_cfg.seeds)])


def baseline_rows(nb: NotebookRun, s: Setup) -> dict:
    """The Test-set and Baseline rows on the one evaluation set (as notebooks 02 and 04)."""
    P, b = nb.P, s.b
    sub = evaluate.eval_set(b.data.test, P.decode.max_eval_inputs)
    s.meta = evaluate.provenance(nb.profile, nb.corpus, nb.seed, sub)
    s.raw_refs = evaluate.raw_references(b.data.corpus.test, P.data)
    return {"Test-set": [evaluate.test_set_row(sub, b.data.vocab, s.meta)],
            "Baseline": [evaluate.table4_row(b.seq2seq, b.data.test, b.data.vocab, P.decode.max_len,
                                             P.decode.max_eval_inputs, s.meta, s.raw_refs)]}


def top5(rows: dict) -> pd.DataFrame:
    return pd.DataFrame(rows["Baseline"][0]["top10"][:5], columns=["baseline response", "ratio"])


@dataclass
class Gans:
    """Per seed: the chosen generator and its α_G, the α_G selection table and the training history."""
    models: dict
    selections: dict
    histories: dict


def train_gans(nb: NotebookRun, s: Setup) -> Gans:
    """The GAN (App. E) once per seed, cached in the baselines' run folder."""
    models, selections, histories = {}, {}, {}
    for seed in s.seeds:
        m, g_lr, selections[seed], histories[seed] = gan.train_gan_cached(
            s.b.seq2seq, s.b.data, override(s.gan_cfg, seed=seed), s.b.run_dir, nb.P.decode.max_len)
        models[seed] = (m, g_lr)
    return Gans(models, selections, histories)


def selection_table(g: Gans) -> pd.DataFrame:
    return pd.concat({f"seed {seed}": pd.DataFrame(sel).set_index("g_lr") for seed, sel in g.selections.items()})


def discriminator_figure(nb: NotebookRun, s: Setup, g: Gans):
    """Mean D(x, G(x)) on the generator's samples per G update, one line per α_G (the notebook's seed)."""
    fig, ax = plt.subplots(figsize=(8, 3.4), layout="constrained")
    styles = iter(("-", ":", "-.", (0, (5, 1, 1, 1, 1, 1))))   # one line style per α_G; dashed is kept for 0.5
    ax.axhline(D_HALF, ls="--", color="k", lw=1, label="0.5: D cannot tell")
    for key, values in g.histories[nb.seed].items():
        if key.startswith("d_fake@"):
            ax.plot(range(1, len(values) + 1), values, ls=next(styles, "-"), marker="o", ms=3,
                    color=plots.model_colour("+GAN"), label="α_G=" + key.split("@")[1])
    ax.set(xlabel="G update", ylabel="mean D(x, G(x)) (probability)", ylim=(0, 1),
           title=plots.title(f"Discriminator output on the generator's samples (seed {nb.seed})", nb.corpus, nb.profile,
                             s.gan_cfg.batch_size, "samples per G update"))
    plots.integer_ticks(ax)
    plots.legend_outside(ax)
    return fig


def gan_rows(nb: NotebookRun, s: Setup, g: Gans) -> list[dict]:
    """The "+GAN" row: each seed's generator scored on the evaluation set, with its α_G."""
    P, b = nb.P, s.b
    return [{**evaluate.table4_row(m, b.data.test, b.data.vocab, P.decode.max_len, P.decode.max_eval_inputs,
                                   {**s.meta, "seed": seed}, s.raw_refs), "g_lr": g_lr}
            for seed, (m, g_lr) in g.models.items()]


@dataclass
class Grid:
    """MMI-antiLM's validation grid, the reference statistics, and the chosen setting."""
    rows: list
    info: dict

    @property
    def best(self) -> dict:
        return next(r for r in self.rows if r["chosen"])


def mmi_grid(nb: NotebookRun, s: Setup) -> Grid:
    """Every (λ, g, γ) on validation inputs; the best Ent-3 among sane settings (:func:`ntlib.methods.mmi.grid_search`);
    prints the references' LM PPL and length."""
    rows, info = mmi.grid_search(s.b.seq2seq, s.b.lm, s.b.data.valid, s.b.data.vocab, s.mmi_cfg, nb.P.decode.max_len)
    print(f"references: LM PPL {info['ref_lm_ppl']:.1f}, mean length {info['ref_avg_len']:.1f} words")
    return Grid(rows, info)


def grid_table(grid: Grid) -> pd.DataFrame:
    return pd.DataFrame(grid.rows).set_index("setting")


def mmi_row(nb: NotebookRun, s: Setup, grid: Grid, rows: dict) -> list[dict]:
    """The "+MMI" row: the chosen setting's beam responses to the evaluation set, scored as every other row."""
    best = grid.best
    row = mmi.evaluate(s.b.seq2seq, s.b.lm, s.b.data.test, s.b.data.vocab, best["lambda"], best["g"] or 0, best["gamma"],
                       s.mmi_cfg.beam_size, nb.P.decode.max_len, nb.P.decode.max_eval_inputs)
    n = len(rows["Test-set"][0]["responses"])
    row.update(evaluate.response_scores(row["responses"], rows["Test-set"][0]["responses"], s.raw_refs[:n]))
    print(f"chosen MMI-antiLM setting: {best['setting']}" + (" (λ = 0: the anti-LM is off)" if best["lambda"] == 0 else ""))
    return [{**s.meta, **row, "setting": best["setting"]}]


def grid_samples(s: Setup, grid: Grid) -> pd.DataFrame:
    """Validation samples of the first setting, the chosen one and the most aggressive one."""
    aggressive = max(grid.rows, key=lambda r: (r["lambda"], r["g"] or 0, r["gamma"]))["setting"]
    shown = dict.fromkeys([grid.rows[0]["setting"], grid.best["setting"], aggressive])
    out = pd.DataFrame({"input": metrics.tensor_to_strings(s.b.data.valid.src[:GRID_SAMPLES], s.b.data.vocab),
                        "reference": grid.info["references"][:GRID_SAMPLES],
                        **{x: grid.info["responses"][x][:GRID_SAMPLES] for x in shown}})
    out["input"] = out["input"].str.replace(" <eou>", "")
    return out


def table4(nb: NotebookRun, rows: dict) -> pd.DataFrame:
    return tables.table4({}, nb.corpus, rows)


def seed_table(rows: dict) -> pd.DataFrame:
    return tables.seed_table(rows)


def top10_table(rows: dict) -> pd.DataFrame:
    return tables.top10_table(rows)


def samples(s: Setup, rows: dict) -> pd.DataFrame:
    out = pd.DataFrame({"input": metrics.tensor_to_strings(s.b.data.test.src[:SAMPLES], s.b.data.vocab),
                        **{row: rows[row][0]["responses"][:SAMPLES] for row in ("Baseline", "+GAN", "+MMI")}})
    out["input"] = out["input"].str.replace(" <eou>", "")
    return out


def write_reports(nb: NotebookRun, s: Setup, rows: dict, g: Gans, grid: Grid, sample_table: pd.DataFrame,
                  grid_sample_table: pd.DataFrame, fig) -> GanMmiResults:
    """``results/gan_mmi_<corpus>.json``, Table 4's +GAN / +MMI rows, the MMI grid, the α_G choice, samples, figure."""
    res = GanMmiResults(profile=nb.profile, corpus=nb.corpus, seed=nb.seed, seeds=s.seeds,
                        config={"gan": s.gan_cfg.__dict__, "mmi": s.mmi_cfg.__dict__}, rows=rows,
                        gan_selection={str(seed): sel for seed, sel in g.selections.items()}, mmi_grid=grid.rows,
                        mmi_reference={k: grid.info[k] for k in ("ref_lm_ppl", "ref_avg_len", "n_inputs")},
                        samples=sample_table.to_dict(orient="records"), mmi_samples=grid_sample_table.to_dict(orient="records"),
                        seconds=nb.seconds(), provenance=nb.provenance(s.b.run_dir))
    res.write(nb.reports_dir)
    c, p, d = nb.corpus, nb.profile, nb.reports_dir
    reports.write_table(table4(nb, rows), f"table4_gan_mmi_{c}", d, title=f"Table 4 ({c}, {p}): +GAN and +MMI, ours (paper)",
                        note=f"Greedy responses (MMI: MMI-antiLM beam responses) to {s.meta['n_inputs']} test inputs (ids "
                             f"sha {s.meta['inputs_sha']}); PPL on the whole test set; +GAN: mean [95 % interval] over "
                             f"seeds {s.seeds}. Paper numbers: He & Glass 2020, Table 4.")
    reports.write_table(grid_table(grid).round(4), f"mmi_grid_{c}", d, title=f"MMI-antiLM settings on validation ({c}, {p})",
                        note=f"Chosen: {grid.best['setting']} (highest Ent-3 among sane settings).")
    reports.write_table(selection_table(g), f"gan_lr_{c}", d, title=f"GAN α_G on validation ({c}, {p})")
    reports.write_table(sample_table, f"samples_gan_mmi_{c}", d, title=f"Greedy / MMI test samples ({c}, {p})")
    reports.write_table(grid_sample_table, f"samples_mmi_grid_{c}", d,
                        title=f"MMI-antiLM validation samples by setting ({c}, {p})")
    reports.save_figure(fig, f"gan_d_fake_{c}", d)
    print(f"notebook time: {res.seconds:.0f} s")
    return res


def _change(new: float, old: float) -> str:
    return f"{100 * (new - old) / old:+.1f} %" if old else "from 0"


def findings(nb: NotebookRun, s: Setup, rows: dict, g: Gans, grid: Grid) -> str:
    """What this run found, beside Table 4's +GAN and +MMI rows, in words."""
    base, paper4 = rows["Baseline"][0], paper.TABLE4.get(nb.corpus, {})
    lines = [f"{nb.corpus}, profile {nb.profile}: responses to {s.meta['n_inputs']} test inputs"]
    for row in ("+GAN", "+MMI"):
        mr, e3 = (statistics.fmean(r[key] for r in rows[row]) for key in ("max_ratio", "ent3"))
        ppl = [r["ppl"] for r in rows[row] if r.get("ppl") is not None]
        line = (f"- {row} ({len(rows[row])} run(s)): max-ratio {100 * base['max_ratio']:.1f} % → {100 * mr:.1f} % "
                f"({_change(mr, base['max_ratio'])}), Ent-3 {base['ent3']:.2f} → {e3:.2f} nats ({_change(e3, base['ent3'])})")
        if ppl:
            line += f", PPL {base['ppl']:.2f} → {statistics.fmean(ppl):.2f}"
        p, pb = paper4.get(row), paper4.get("Baseline")
        if p and pb:
            line += f"; paper: max-ratio {_change(p['max_ratio'], pb['max_ratio'])}, Ent-3 {_change(p['ent3'], pb['ent3'])}"
        lines.append(line)
    lines.append("- α_G chosen on validation: " + ", ".join(f"seed {seed}: {g_lr:g}" for seed, (_, g_lr) in g.models.items()))
    last = {key.split("@")[1]: v[-1] for key, v in g.histories[nb.seed].items() if key.startswith("d_fake@") and v}
    lines.append(f"- D(x, G(x)) at the last G update (seed {nb.seed}): " + ", ".join(f"α_G={k}: {v:.2f}" for k, v in last.items()))
    best = grid.best
    lines.append(f"- MMI-antiLM: chosen {best['setting']}" + (": λ = 0, the anti-LM is off; no sane setting with λ > 0 had "
                                                              "a higher validation Ent-3" if best["lambda"] == 0 else ""))
    return "\n".join(lines)
