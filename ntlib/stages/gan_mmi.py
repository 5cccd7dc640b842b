"""Stage 05 (notebooks/05_gan_mmi.ipynb): the comparison baselines of Table 4 — a vanilla GAN (eq. 6,
App. E) and MMI-antiLM decoding (Li et al. 2016).

The GAN is :mod:`ntlib.methods.gan`, MMI-antiLM :mod:`ntlib.methods.mmi`. This driver trains the GAN from each
baseline of stage 02 (seeded with its seed; α_G chosen on validation), tunes MMI-antiLM's (λ, g, γ) on validation
for each baseline, scores both on the one evaluation set and writes ``table4_gan_mmi_*``, ``mmi_grid_*``, ``gan_lr_*``, the samples, the
discriminator figure and ``results/gan_mmi_<corpus>.json`` (:class:`GanMmiResults`).
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass

import pandas as pd

from ntlib.methods import evaluate, gan, mmi
from ntlib.results import figures, metrics, paper, reports, tables
from ntlib.run.config import override
from ntlib.run.params import NotebookRun, apply
from ntlib.stages import StageResults, baselines

SAMPLES = 10          # test samples of the three rows
GRID_SAMPLES = 8      # validation samples per MMI setting shown


@dataclass
class GanMmiResults(StageResults):
    """``results/gan_mmi_<corpus>.json``: ``rows`` {"Test-set": [record], "Baseline", "+GAN" (with its α_G),
    "+MMI" (with its setting): [a record per baseline]}, the α_G selection and MMI's validation grid per
    baseline seed, the references' statistics, and samples."""
    RESULTS = "gan_mmi"
    profile: str
    corpus: str
    seed: int
    seeds: list
    config: dict
    rows: dict
    gan_selection: dict
    mmi_grid: dict
    mmi_reference: dict
    samples: list
    mmi_samples: list
    seconds: float
    provenance: dict


@dataclass
class Setup(baselines.OnEachBaseline):
    """The GAN config per baseline seed and the MMI config (the notebook's knobs applied), and the baselines."""
    gan_cfgs: dict           # {seed: GanConfig}
    mmi_cfg: object
    bs: dict                 # {seed: Baselines}
    meta: dict = None
    ev: object = None
    raw_refs: list = None

    @property
    def gan_cfg(self):
        return next(iter(self.gan_cfgs.values()))


def setup(nb: NotebookRun) -> Setup:
    bs = baselines.by_seed(nb)
    gan_cfgs = {seed: apply(override(nb.P.gan, seed=seed), nb.values, "alpha_G") for seed in bs}
    return Setup(gan_cfgs, apply(nb.P.mmi, nb.values, "mmi_lambdas"), bs)


def baseline_rows(nb: NotebookRun, s: Setup) -> dict:
    """The Test-set row and each baseline's Baseline record on the one evaluation set (as notebooks 02 and 04)."""
    inputs = baselines.evaluation_inputs(nb, s.b.data)
    s.ev, s.meta, s.raw_refs = inputs.ev, inputs.meta, inputs.raw_refs
    return baselines.reference_rows(nb, list(s.bs.values()), inputs)


def top5(rows: dict) -> pd.DataFrame:
    """Each baseline's five most frequent responses."""
    return pd.concat({f"seed {r['seed']}": pd.DataFrame(r["top10"][:5], columns=["baseline response", "ratio"])
                      for r in rows["Baseline"]}, axis=1)


@dataclass
class Gans:
    """Per baseline seed: the chosen generator and its α_G, the α_G selection table and the training history."""
    models: dict
    selections: dict
    histories: dict


def train_gans(nb: NotebookRun, s: Setup) -> Gans:
    """The GAN (App. E) from each baseline, cached in its run folder."""
    models, selections, histories = {}, {}, {}
    for seed, b in s.bs.items():
        m, g_lr, selections[seed], histories[seed] = gan.train_gan_cached(
            b.seq2seq, b.data, s.gan_cfgs[seed], b.run_dir, nb.P.decode.max_len)
        models[seed] = (m, g_lr)
    return Gans(models, selections, histories)


def selection_table(g: Gans) -> pd.DataFrame:
    return pd.concat({f"baseline seed {seed}": pd.DataFrame(sel).set_index("g_lr") for seed, sel in g.selections.items()})


def discriminator_figure(nb: NotebookRun, s: Setup, g: Gans):
    """Mean D(x, G(x)) on the generator's samples per G update, one line per α_G (the first baseline's GAN)."""
    seed = s.seeds[0]
    curves = {key.split("@")[1]: values for key, values in g.histories[seed].items() if key.startswith("d_fake@")}
    return figures.gan_d_fake(curves, corpus=nb.corpus, profile=nb.profile, samples=s.gan_cfg.batch_size, seed=seed)


def gan_rows(nb: NotebookRun, s: Setup, g: Gans) -> list[dict]:
    """The "+GAN" row: each baseline's generator scored on the evaluation set, with its α_G."""
    return [{**evaluate.table4_row(m, s.bs[seed].data, s.ev, nb.P.decode.max_len, {**s.meta, "seed": seed}, s.raw_refs),
             "g_lr": g_lr} for seed, (m, g_lr) in g.models.items()]


@dataclass
class Grid:
    """MMI-antiLM's validation grid per baseline seed, the reference statistics (the same validation inputs
    for all), and each baseline's chosen setting."""
    rows: dict               # {seed: [grid row]}
    info: dict               # {seed: info}

    def best(self, seed: int) -> dict:
        return next(r for r in self.rows[seed] if r["chosen"])

    @property
    def first(self) -> int:
        return next(iter(self.rows))


def mmi_grid(nb: NotebookRun, s: Setup) -> Grid:
    """Every (λ, g, γ) on validation inputs, for each baseline; the best Ent-3 among sane settings
    (:func:`ntlib.methods.mmi.grid_search`: fluent, mean length within bounds); prints the references' LM PPL
    and length and each baseline's choice."""
    rows, info = {}, {}
    for seed, b in s.bs.items():
        rows[seed], info[seed] = mmi.grid_search(b.seq2seq, b.lm, b.data.valid, b.data.vocab, s.mmi_cfg,
                                                 nb.P.decode.max_len)
    first = info[s.seeds[0]]
    c = s.mmi_cfg
    print(f"references: LM PPL {first['ref_lm_ppl']:.1f}, mean length {first['ref_avg_len']:.1f} words; sane: LM PPL "
          f"≤ {c.max_lm_ppl_ratio:g} × theirs, mean length {c.min_len_ratio:g}–{c.max_len_ratio:g} × theirs")
    grid = Grid(rows, info)
    for seed in rows:
        print(f"baseline seed {seed}: chosen {grid.best(seed)['setting']}")
    return grid


def grid_table(grid: Grid) -> pd.DataFrame:
    return pd.concat({f"baseline seed {seed}": pd.DataFrame(rows).set_index("setting") for seed, rows in grid.rows.items()})


def mmi_row(nb: NotebookRun, s: Setup, grid: Grid, rows: dict) -> list[dict]:
    """The "+MMI" row: each baseline's chosen setting, its beam responses to the evaluation set scored as every
    other row."""
    out = []
    for seed, b in s.bs.items():
        best = grid.best(seed)
        row = mmi.evaluate(b.seq2seq, b.lm, s.ev, b.data.vocab, best["lambda"], best["g"] or 0, best["gamma"],
                           s.mmi_cfg.beam_size, nb.P.decode.max_len)
        row.update(evaluate.response_scores(row["responses"], rows["Test-set"][0]["responses"],
                                            [s.raw_refs[i] for i in s.ev.idx]))
        out.append({**s.meta, **row, "seed": seed, "setting": best["setting"], "sane": best["sane"]})
        print(f"baseline seed {seed}: MMI-antiLM {best['setting']}" + (" (λ = 0: the anti-LM is off)" if best["lambda"] == 0
                                                                       else "") + ("" if best["sane"] else " — no sane setting"))
    return out


def grid_samples(s: Setup, grid: Grid) -> pd.DataFrame:
    """Validation samples of the first baseline: the first setting, the chosen one and the most aggressive one."""
    rows, info = grid.rows[grid.first], grid.info[grid.first]
    aggressive = max(rows, key=lambda r: (r["lambda"], r["g"] or 0, r["gamma"]))["setting"]
    shown = dict.fromkeys([rows[0]["setting"], grid.best(grid.first)["setting"], aggressive])
    out = pd.DataFrame({"input": metrics.tensor_to_strings(s.b.data.valid.src[:GRID_SAMPLES], s.b.data.vocab),
                        "reference": info["references"][:GRID_SAMPLES],
                        **{x: info["responses"][x][:GRID_SAMPLES] for x in shown}})
    out["input"] = out["input"].str.replace(" <eou>", "")
    return out


def table4(nb: NotebookRun, rows: dict) -> pd.DataFrame:
    return tables.table4({}, nb.corpus, rows)


def seed_table(rows: dict) -> pd.DataFrame:
    return tables.seed_table(rows)


def top10_table(rows: dict) -> pd.DataFrame:
    return tables.top10_table(rows)


def samples(s: Setup, rows: dict) -> pd.DataFrame:
    """Consecutive evaluation inputs with the first baseline's greedy, GAN and MMI responses."""
    out = pd.DataFrame({"input": metrics.tensor_to_strings(s.ev.pairs.src[:SAMPLES], s.b.data.vocab),
                        **{row: rows[row][0]["responses"][:SAMPLES] for row in ("Baseline", "+GAN", "+MMI")}})
    out["input"] = out["input"].str.replace(" <eou>", "")
    return out


def write_reports(nb: NotebookRun, s: Setup, rows: dict, g: Gans, grid: Grid, sample_table: pd.DataFrame,
                  grid_sample_table: pd.DataFrame, fig) -> GanMmiResults:
    """``results/gan_mmi_<corpus>.json``, Table 4's +GAN / +MMI rows, the MMI grid, the α_G choice, samples, figure."""
    res = GanMmiResults(profile=nb.profile, corpus=nb.corpus, seed=nb.seed, seeds=s.seeds,
                        config={"gan": s.gan_cfg.__dict__, "mmi": s.mmi_cfg.__dict__}, rows=rows,
                        gan_selection={str(seed): sel for seed, sel in g.selections.items()},
                        mmi_grid={str(seed): rows for seed, rows in grid.rows.items()},
                        mmi_reference={k: grid.info[grid.first][k] for k in ("ref_lm_ppl", "ref_avg_len", "n_inputs")},
                        samples=sample_table.to_dict(orient="records"), mmi_samples=grid_sample_table.to_dict(orient="records"),
                        seconds=nb.seconds(), provenance=nb.provenance(s.b.run_dir))
    res.write(nb.reports_dir)
    c, p, d = nb.corpus, nb.profile, nb.reports_dir
    reports.write_table(table4(nb, rows), f"table4_gan_mmi_{c}", d, title=f"Table 4 ({c}, {p}): +GAN and +MMI, ours (paper)",
                        note=f"Greedy responses (MMI: MMI-antiLM beam responses) to {s.meta['n_inputs']} test inputs spread "
                             f"over all {len(set(s.ev.dialogues))} test dialogues (ids sha {s.meta['inputs_sha']}); PPL on the "
                             f"whole test set; every row: mean [95 % interval across the baselines, seeds {s.seeds}] (one "
                             "GAN and one MMI selection per baseline). Paper numbers: He & Glass 2020, Table 4.")
    m = s.mmi_cfg
    reports.write_table(grid_table(grid).round(4), f"mmi_grid_{c}", d, title=f"MMI-antiLM settings on validation ({c}, {p})",
                        note="Chosen per baseline: " + ", ".join(f"seed {seed} {grid.best(seed)['setting']}" for seed in grid.rows)
                             + f" (highest Ent-3 among sane settings: LM PPL ≤ {m.max_lm_ppl_ratio:g} × the references', "
                             f"mean length {m.min_len_ratio:g}–{m.max_len_ratio:g} × theirs; the lower bound is our rule).")
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
    """What this run found, beside Table 4's +GAN and +MMI rows, in words (means over baselines)."""
    paper4 = paper.TABLE4.get(nb.corpus, {})

    def mean(row, key):
        return statistics.fmean(r[key] for r in rows[row])
    b_mr, b_e3 = mean("Baseline", "max_ratio"), mean("Baseline", "ent3")
    lines = [f"{nb.corpus}, profile {nb.profile}: responses to {s.meta['n_inputs']} test inputs; {len(s.seeds)} "
             f"baseline(s) (seeds {s.seeds}), means over baselines"]
    for row in ("+GAN", "+MMI"):
        mr, e3 = mean(row, "max_ratio"), mean(row, "ent3")
        ppl = [r["ppl"] for r in rows[row] if r.get("ppl") is not None]
        line = (f"- {row} ({len(rows[row])} run(s)): max-ratio {100 * b_mr:.1f} % → {100 * mr:.1f} % "
                f"({_change(mr, b_mr)}), Ent-3 {b_e3:.2f} → {e3:.2f} nats ({_change(e3, b_e3)})")
        if ppl:
            line += f", PPL {mean('Baseline', 'ppl'):.2f} → {statistics.fmean(ppl):.2f}"
        p, pb = paper4.get(row), paper4.get("Baseline")
        if p and pb:
            line += f"; paper: max-ratio {_change(p['max_ratio'], pb['max_ratio'])}, Ent-3 {_change(p['ent3'], pb['ent3'])}"
        lines.append(line)
    lines.append("- α_G chosen on validation: " + ", ".join(f"baseline seed {seed}: {g_lr:g}"
                                                            for seed, (_, g_lr) in g.models.items()))
    last = {key.split("@")[1]: v[-1] for key, v in g.histories[s.seeds[0]].items() if key.startswith("d_fake@") and v}
    lines.append(f"- D(x, G(x)) at the last G update (baseline seed {s.seeds[0]}): "
                 + ", ".join(f"α_G={k}: {v:.2f}" for k, v in last.items()))
    for r in rows["+MMI"]:
        words = statistics.fmean(len(x.split()) for x in r["responses"])
        lines.append(f"- MMI-antiLM, baseline seed {r['seed']}: chosen {r['setting']}, {words:.2f} words per response"
                     + ("; λ = 0, the anti-LM is off: no sane setting with λ > 0 had a higher validation Ent-3"
                        if r["setting"].startswith("λ=0 ") else "") + ("" if r.get("sane", True) else "; no setting was sane"))
    return "\n".join(lines)
