"""Stage 06 (notebooks/06_tables.ipynb): the paper's Tables 3, 4, 8 and 9 rebuilt from the results of
stages 01–05, each with its verdicts, and ``reports/tables.md``.

Nothing is computed here from models: the tables and verdicts are :mod:`ntlib.results.tables`, read off the results
JSON the stages wrote (every stage required, one profile and corpus). The driver writes ``tables.md`` and
the CSV of Tables 4, 8 and 9 (Table 3's is stage 03's).
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import pandas as pd
from IPython.display import Image, Markdown, display

from ntlib.results import reports, tables
from ntlib.results.display import markdown
from ntlib.results.hit_verdicts import MIN_BASELINES
from ntlib.results.metrics import BLEU_CHOSEN
from ntlib.results.stats import ALPHA, BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, FAILS, HOLDS, INCONCLUSIVE
from ntlib.results.verdicts import verdict_markdown as _markdown
from ntlib.results.verdicts import verdicts as judge_tables
from ntlib.run.params import NotebookRun
from ntlib.stages import TABLE_STAGES

TABLES = ("Table 8", "Table 4", "Table 9", "Table 3")
BUILDERS = {"Table 8": tables.table8, "Table 4": tables.table4, "Table 9": tables.table9, "Table 3": tables.table3}


def load(nb: NotebookRun) -> dict:
    """Every stage's results (:data:`ntlib.stages.TABLE_STAGES`), refused when one is missing or when they
    mix profiles or corpora; prints which were read."""
    res = tables.load_results(nb.reports_dir, nb.corpus, required=TABLE_STAGES)
    print("results of:", ", ".join(res))
    return res


def stage_profiles(res: dict) -> pd.DataFrame:
    return pd.Series(tables.profiles(res), name="profile / corpus").to_frame()


def table(res: dict, corpus: str, name: str) -> pd.DataFrame:
    """One of :data:`TABLES`, ours (paper)."""
    return BUILDERS[name](res, corpus)


def extras(res: dict, name: str) -> list[tuple[str, pd.DataFrame]]:
    """The tables shown under a table: each baseline (Tables 3, 4, 8), the top-10 responses (Table 4), the
    BLEU-4 variants (Table 9) — those with rows (a one-baseline run has no per-baseline table)."""
    return [(title, df) for title, df in _extras(res, name) if len(df)]


def _extras(res: dict, name: str) -> list[tuple[str, pd.DataFrame]]:
    if name == "Table 4":
        rows = tables.table4_rows(res)
        return [("Each baseline", tables.seed_table(rows)), ("Top-10 responses", tables.top10_table(rows))]
    if name == "Table 9":
        return [("BLEU-4 variants", tables.bleu_variants_table(tables.table9_rows(res)))]
    if name == "Table 8":
        return [("Each baseline", tables.table8_per_baseline(res))]
    if name == "Table 3":
        return [("Each baseline", tables.table3_per_baseline(res))]
    return []


def figures(nb: NotebookRun) -> list[Path]:
    return sorted(Path(nb.reports_dir, "figures").glob(f"*{nb.corpus}*.png"))


def verdicts(res: dict) -> dict:
    """Per table, the paper's claims judged on this run (:func:`ntlib.results.tables.verdicts`)."""
    return judge_tables(res)


def verdict_markdown(verdict_lists: dict, name: str) -> str:
    return _markdown(verdict_lists.get(name, []))


EXTRA_CAPTIONS = {"Each baseline": "Each independently trained baseline (by its seed), then the mean and its interval:",
                  "Top-10 responses": "The ten most frequent responses of each row (first baseline):",
                  "BLEU-4 variants": "Every BLEU-4 variant (the chosen one, the authors', marked):"}


def show(res: dict, corpus: str, name: str, verdict_lists: dict) -> None:
    """Display one table, its verdicts and the tables under it."""
    display(table(res, corpus, name))
    display(Markdown(verdict_markdown(verdict_lists, name)))
    for title, sub in extras(res, name):
        print(EXTRA_CAPTIONS[title])
        display(sub)


def show_figures(nb: NotebookRun) -> None:
    """List the figures the stages wrote and show the last one."""
    found = figures(nb)
    for f in found:
        print(f"reports/figures/{f.name}")
    display(Image(filename=str(found[-1]), width=640) if found else "no figures yet")


def tables_markdown(nb: NotebookRun, res: dict, verdicts: dict) -> str:
    """``tables.md``: the legend, every table with its verdicts and the tables under it, then the figures."""
    parts = [f"# Tables: ours (paper) — {nb.corpus}, profile {nb.profile}", legend(res),
             "Stages (profile / corpus): " + ", ".join(f"{s} {p}" for s, p in tables.profiles(res).items())]
    for name in TABLES:
        parts += [f"## {name}", markdown(table(res, nb.corpus, name)), "Verdict:",
                  _markdown(verdicts.get(name, []))]
        parts += [x for title, sub in extras(res, name) for x in (f"### {name} · {title}", markdown(sub))]
    parts += ["## Figures"] + [f"![{f.stem}](figures/{f.name})" for f in figures(nb)]
    return "\n\n".join(parts) + "\n"


def legend(res: dict) -> str:
    """How to read the tables and their verdicts: the symbols, α, sidedness, the families, what "across
    baselines" means, the inputs (``tables.md`` opens with it)."""
    seeds = res.get("baselines", {}).get("seeds", [])
    base = res.get("baselines", {}).get("rows", {}).get("Baseline", [{}])[0]
    return "\n".join([
        "## How to read these tables",
        "",
        "Every number below was written by a notebook run (`reports/results/*.json`); the paper's number is in "
        "parentheses; regenerate with `make reproduce`.",
        "",
        f"- **Baselines.** {len(seeds)} seq2seq baselines trained independently (seeds {seeds}: initialisation, "
        "data order, dropout) and one LM; every downstream stage (Algorithms 1 and 2, the GAN, MMI's selection) ran "
        "from each. A cell over several baselines is their mean [95 % Student-t interval across baselines]; the "
        "*Each baseline* tables list each one.",
        f"- **Inputs.** Tables 4 / 9: {base.get('n_inputs', '?')} test pairs spread over every test dialogue (ids sha "
        f"`{base.get('inputs_sha', '?')}`), the same for every row; PPL on every test pair; Table 3: the same targets "
        "for every baseline and model.",
        "- **Verdicts.** ✔ holds — ✘ does not hold — ~ inconclusive. A claim about a trained model holds (or does not) "
        f"only when it does on every baseline, at least {MIN_BASELINES}; otherwise it reads ~. One-sided tests at "
        f"α = {ALPHA:g} (95 % intervals):",
        "  - Tables 4, 8, 9: per baseline, a paired bootstrap resampling test *dialogues* (both models on the same "
        f"inputs, {BOOTSTRAP_RESAMPLES} resamples, seed {BOOTSTRAP_SEED}); across baselines, the Student-t interval of "
        "the baselines' differences — every interval must lie on the claimed side of the threshold.",
        "  - Table 3: per baseline, one family of exact tests — McNemar on per-target hits for \"the rate fell\", "
        "binomial for \"below 5 %\", each claim and its opposite — Holm-corrected; PPL claims read the bootstrap "
        "interval. Runs made on the first baseline only (1k / 2.5k lists, the ablation) read ~.",
        "  - \"below 5 %\" is judged after the iterations and search that ran, named in the claim beside the paper's.",
        f"- **BLEU-4** is `{BLEU_CHOSEN}` (the authors' code: no `</s>` on either side, raw references); every other "
        "variant is listed, labelled."])


def write_reports(nb: NotebookRun, res: dict, verdicts: dict) -> Path:
    """``tables.md`` and the CSV of Tables 8, 4, 9 (03 writes Table 3's: one writer per report)."""
    for name in TABLES:
        if name != "Table 3":
            reports.atomic_write_text(Path(nb.reports_dir, f"{name.lower().replace(' ', '')}_{nb.corpus}.csv"),
                                      table(res, nb.corpus, name).to_csv())
    path = reports.atomic_write_text(Path(nb.reports_dir, "tables.md"), tables_markdown(nb, res, verdicts))
    print("wrote", path)
    return path


def findings(nb: NotebookRun, res: dict, verdicts: dict) -> str:
    """How many of each table's claims hold, and which do not, in words."""
    lines = [f"{nb.corpus}: results of " + ", ".join(f"{s} ({p})" for s, p in tables.profiles(res).items())]
    for name, vs in verdicts.items():
        counts = Counter(v.outcome for v in vs)
        lines.append(f"- {name}: {len(vs)} claim(s) tested: " + ", ".join(f"{counts[o]} {o}" for o in
                                                                        (HOLDS, FAILS, INCONCLUSIVE)))
        lines += ["    " + v.markdown() for v in vs if v.outcome == FAILS]
    return "\n".join(lines)
