"""Stage 02 (notebooks/02_baselines.ipynb): the baseline LM and seq2seq (§2, §4.1), Table 8 and the
Test-set / Baseline rows of Tables 4 and 9.

The models are :mod:`ntlib.methods.models`, trained by :func:`ntlib.run.pipeline.baselines` (the one training
loop, :mod:`ntlib.methods.train`); the measures are :mod:`ntlib.methods.evaluate` and :mod:`ntlib.results.metrics`. This
driver runs them for the notebook, one call per cell, and writes ``baselines_table{4,8,9}_*``, two
figures and ``results/baselines_<corpus>.json`` (:class:`BaselinesResults`).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import matplotlib.pyplot as plt
import pandas as pd

from ntlib.methods import decode, evaluate, train
from ntlib.results import metrics, paper, plots, reports, tables
from ntlib.run import pipeline
from ntlib.run.params import NotebookRun
from ntlib.stages import StageResults

MODELS = ("lm", "seq2seq")
BEAM_INPUTS = 200            # §4.3's beam-vs-greedy look: the first 200 evaluation inputs
SAMPLES = 8                  # Table 5-style consecutive samples shown


@dataclass
class BaselinesResults(StageResults):
    """``results/baselines_<corpus>.json``: notebook 02's models, perplexities and Table 4 / 9 rows.
    ``rows`` {"Test-set": [record], "Baseline": [record]} are :func:`ntlib.methods.evaluate.table4_row` records
    (their schema: :mod:`ntlib.results.tables`); ``ppl_bootstrap`` is the paired bootstrap of the per-word NLL,
    seq2seq − LM, over the test responses (Table 8's verdict)."""
    RESULTS = "baselines"
    profile: str
    corpus: str
    seed: int
    run_dir: str
    train_seconds: float
    history: dict
    lm: dict
    seq2seq: dict
    T_out: float
    T_in: float
    ppl_bootstrap: dict
    n_eval_inputs: int
    rows: dict
    beam_top1_first200: dict
    samples: list
    paper: dict
    seconds: float
    provenance: dict


@dataclass
class Trained:
    """The two baselines (:class:`ntlib.run.pipeline.Baselines`), the seconds it took to train or load them
    and each model's per-epoch training history."""
    b: object
    seconds: float
    history: dict


def train_baselines(nb: NotebookRun) -> Trained:
    """Train the LM and the seq2seq (§4.1), or load them from the run folder; prints each epoch's time."""
    t0 = time.time()
    b = pipeline.baselines(nb.P, run_root=nb.run_root, data_dir=nb.data_dir, device=nb.device)
    seconds = time.time() - t0
    history = {k: train.load_checkpoint(b.run_dir / f"{k}.pt")["history"] for k in MODELS}
    print(f"{b.run_dir}  ({seconds:.0f} s; {len(b.data.train)} training pairs, V = {len(b.data.vocab)})")
    for k, h in history.items():     # timings as text: a table column's width would follow the machine's speed
        print(f"{k}: " + "; ".join(f"epoch {e} {s:.1f} s at {t:.0f} tok/s"
                                   for e, s, t in zip(h["epoch"], h["seconds"], h["tokens_per_s"])))
    return Trained(b, seconds, history)


def history_table(t: Trained) -> pd.DataFrame:
    """Each model's training history, a row per epoch (timings left out: they are printed)."""
    return pd.concat({k: pd.DataFrame(h).set_index("epoch").drop(columns=["tokens_per_s", "seconds"]).round(3)
                      for k, h in t.history.items()}, axis=1)


def training_figure(nb: NotebookRun, t: Trained):
    """Training and validation NLL, validation perplexity per epoch; saved as ``baselines_curves_<corpus>``."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), layout="constrained")
    for k, h in t.history.items():
        colour = plots.model_colour(k)                 # seq2seq = the baseline's colour in every figure
        axes[0].plot(h["epoch"], h["train_loss"], "o-", color=colour, label=f"{k} train")
        axes[0].plot(h["epoch"], h["valid_nll"], "s--", color=colour, label=f"{k} valid")
        axes[1].plot(h["epoch"], h["valid_ppl"], "o-", color=colour, label=k)
    axes[0].set(xlabel="epoch", ylabel="NLL per word (nats)", title="training and validation NLL")
    axes[1].set(xlabel="epoch", ylabel="validation perplexity (per word)", title="validation perplexity")
    for ax in axes:
        plots.integer_ticks(ax)
        plots.legend_outside(ax)
    fig.suptitle(plots.title("Baseline LM and seq2seq training", nb.corpus, nb.profile, len(t.b.data.train),
                             "seq2seq training pairs"))
    reports.save_figure(fig, f"baselines_curves_{nb.corpus}", nb.reports_dir)
    return fig


@dataclass
class Perplexity:
    """Table 8: each model's test PPL and NLL, the hit thresholds T_out / T_in (App. C) and the paired
    bootstrap of the per-word NLL difference, seq2seq − LM."""
    ppl: dict
    T_out: float
    T_in: float
    bootstrap: dict


def test_perplexity(t: Trained) -> Perplexity:
    """Both models on the same test responses (the LM scores them as sentences); prints the bootstrap."""
    b = t.b
    ppl = {"lm": evaluate.perplexity(b.lm, b.data.lm_test), "seq2seq": evaluate.perplexity(b.seq2seq, b.data.test)}
    boot = evaluate.nll_bootstrap(evaluate.sequence_nll(b.lm, b.data.lm_test), evaluate.sequence_nll(b.seq2seq, b.data.test))
    print("per-word NLL, seq2seq − LM: {diff:.3f} [{lo:.3f}, {hi:.3f}] (paired bootstrap, {n} responses)".format(**boot))
    return Perplexity(ppl, -ppl["seq2seq"]["nll"], -ppl["lm"]["nll"], boot)


def table8(nb: NotebookRun, p: Perplexity) -> pd.DataFrame:
    return tables.table8({"baselines": p.ppl}, nb.corpus)


@dataclass
class Evaluation:
    """The Test-set and Baseline rows of Tables 4 / 9 on the one evaluation set, and what produced them."""
    rows: dict
    meta: dict               # evaluate.provenance: profile, corpus, seed, n_inputs, inputs_sha
    test: object             # the evaluation set (PairTensors)

    @property
    def greedy(self) -> list[str]:
        return self.rows["Baseline"][0]["responses"]

    @property
    def references(self) -> list[str]:
        return self.rows["Test-set"][0]["responses"]


def evaluate_rows(nb: NotebookRun, t: Trained) -> Evaluation:
    """Greedy responses to the evaluation set (``DecodeConfig.max_eval_inputs``) scored as Table 4 / 9's
    Baseline row, beside the references' Test-set row; prints the inputs' hash."""
    b, P = t.b, nb.P
    n_eval = P.decode.max_eval_inputs
    test = evaluate.eval_set(b.data.test, n_eval)
    meta = evaluate.provenance(nb.profile, nb.corpus, nb.seed, test)
    raw_refs = evaluate.raw_references(b.data.corpus.test, P.data)     # references before <unk> mapping
    if len(raw_refs) != len(b.data.test):
        raise ValueError(f"{len(raw_refs)} raw references for {len(b.data.test)} test pairs")
    rows = {"Test-set": [evaluate.test_set_row(test, b.data.vocab, meta)],
            "Baseline": [evaluate.table4_row(b.seq2seq, b.data.test, b.data.vocab, P.decode.max_len, n_eval, meta,
                                             raw_refs)]}
    print(f"greedy decoding of {meta['n_inputs']} test inputs (ids sha {meta['inputs_sha']})")
    return Evaluation(rows, meta, test)


def table4(nb: NotebookRun, ev: Evaluation) -> pd.DataFrame:
    return tables.table4({}, nb.corpus, ev.rows)


def top10_table(ev: Evaluation) -> pd.DataFrame:
    return tables.top10_table(ev.rows)


def frequent_figure(nb: NotebookRun, ev: Evaluation):
    """The baseline's ten most frequent greedy responses; saved as ``baselines_frequent_<corpus>``."""
    top = metrics.frequent_responses(ev.greedy, 10)[::-1]
    fig, ax = plt.subplots(figsize=(8, 1.6 + 0.35 * len(top)), layout="constrained")
    ax.barh([r or "(empty response)" for r, _ in top], [100 * x for _, x in top], color=plots.model_colour("Baseline"))
    plots.label_bars(ax, "{:.1f} %")
    ax.set(xlabel="share of greedy test responses (%)",
           title=plots.title("Ten most frequent greedy responses of the baseline", nb.corpus, nb.profile,
                             ev.meta["n_inputs"], "test inputs"))
    reports.save_figure(fig, f"baselines_frequent_{nb.corpus}", nb.reports_dir)
    return fig


def beam_diversity(nb: NotebookRun, t: Trained, ev: Evaluation) -> dict:
    """§4.3's look at beam search: the diversity of beam top-1 responses to the first 200 evaluation inputs."""
    beam = decode.respond(t.b.seq2seq, ev.test.src[:BEAM_INPUTS], t.b.data.vocab, method="beam",
                          beam_size=nb.P.decode.beam_size, max_len=nb.P.decode.max_len)
    return metrics.diversity(beam)


def beam_vs_greedy(ev: Evaluation, beam: dict) -> pd.DataFrame:
    """Greedy vs beam top-1 diversity on the same first 200 evaluation inputs."""
    return pd.DataFrame({"greedy": metrics.diversity(ev.greedy[:BEAM_INPUTS]), "beam top-1": beam}).T.round(3)


def bleu_variants(ev: Evaluation) -> pd.DataFrame:
    return tables.bleu_variants_table({"Baseline": ev.rows["Baseline"]})


def table9(nb: NotebookRun, ev: Evaluation) -> pd.DataFrame:
    return tables.table9({}, nb.corpus, {"Baseline": ev.rows["Baseline"]})


def samples(t: Trained, ev: Evaluation) -> pd.DataFrame:
    """Consecutive test inputs, their references and the baseline's greedy responses (Table 5's form)."""
    srcs = metrics.tensor_to_strings(ev.test.src, t.b.data.vocab)
    return pd.DataFrame({"input": srcs[:SAMPLES], "reference": ev.references[:SAMPLES],
                         "baseline (greedy)": ev.greedy[:SAMPLES]})


def write_reports(nb: NotebookRun, t: Trained, p: Perplexity, ev: Evaluation, beam: dict,
                  sample_table: pd.DataFrame) -> BaselinesResults:
    """``results/baselines_<corpus>.json`` and Tables 8, 4, 9 (markdown + CSV); prints T_out, T_in, the time."""
    paper8, paper4 = paper.TABLE8.get(nb.corpus), paper.TABLE4.get(nb.corpus, {})
    res = BaselinesResults(
        profile=nb.profile, corpus=nb.corpus, seed=nb.seed, run_dir=str(t.b.run_dir), train_seconds=t.seconds,
        history=t.history, lm=p.ppl["lm"], seq2seq=p.ppl["seq2seq"], T_out=p.T_out, T_in=p.T_in, ppl_bootstrap=p.bootstrap,
        n_eval_inputs=ev.meta["n_inputs"], rows=ev.rows, beam_top1_first200=beam,
        samples=sample_table.to_dict(orient="records"),
        paper={"table8": paper8, "table4": {r: paper4.get(r) for r in ("Test-set", "Baseline")},
               "table9": paper.TABLE9.get(nb.corpus, {}).get("Baseline", {})},
        seconds=nb.seconds(), provenance=nb.provenance(t.b.run_dir))
    res.write(nb.reports_dir)
    n_ppl = len(t.b.data.test.src)      # PPL / NLL: every test pair; decoding metrics: the evaluation set
    note = (f"ntlib profile `{nb.profile}`; PPL on all {n_ppl} test pairs, the other columns on {ev.meta['n_inputs']} "
            f"test inputs (ids sha {ev.meta['inputs_sha']}); paper's value in parentheses.")
    reports.write_table(table8(nb, p), f"baselines_table8_{nb.corpus}", nb.reports_dir,
                        f"Table 8 · test PPL (NLL), {nb.corpus}",
                        f"ntlib profile `{nb.profile}`, all {n_ppl} test pairs; paper's value in parentheses.")
    reports.write_table(table4(nb, ev), f"baselines_table4_{nb.corpus}", nb.reports_dir,
                        f"Table 4 · Test-set and Baseline rows (greedy decoding), {nb.corpus}", note)
    reports.write_table(table9(nb, ev), f"baselines_table9_{nb.corpus}", nb.reports_dir,
                        f"Table 9 · Baseline row, {nb.corpus}",
                        note + f" BLEU-4: {metrics.BLEU_VARIANTS[metrics.BLEU_CHOSEN]} (`{metrics.BLEU_CHOSEN}`).")
    print(f"T_out = {p.T_out:.3f}, T_in = {p.T_in:.3f}; total {res.seconds:.0f} s")
    return res


def _paper(table, key, pct=False) -> str:
    if not table or table.get(key) is None:
        return "–"
    return f"{100 * table[key]:.1f} %" if pct else f"{table[key]:.3g}"


def findings(res: BaselinesResults) -> str:
    """What this run found, beside Tables 8, 4 and 9, in words."""
    base, ref = res.rows["Baseline"][0], res.rows["Test-set"][0]
    paper8, paper4, paper9 = res.paper["table8"], res.paper["table4"], res.paper["table9"]
    boot = res.ppl_bootstrap
    top_response, top_share = base["top10"][0] if base["top10"] else ("", 0.0)
    verdict = ("better than the LM beyond chance, as in the paper" if boot["hi"] < 0 else
               "worse than the LM beyond chance, unlike the paper" if boot["lo"] > 0 else
               "not distinguishable from the LM on this test set")
    return "\n".join([
        f"{res.corpus}, profile {res.profile}, {res.n_eval_inputs} test inputs:",
        f"- Table 8: test PPL seq2seq {res.seq2seq['ppl']:.2f} (paper {_paper(paper8 and paper8['seq2seq'], 'ppl')}), "
        f"LM {res.lm['ppl']:.2f} (paper {_paper(paper8 and paper8['lm'], 'ppl')}); per-word NLL seq2seq − LM "
        f"{boot['diff']:+.3f} [{boot['lo']:+.3f}, {boot['hi']:+.3f}]: the seq2seq is {verdict}",
        f"- Table 4: the baseline's most frequent greedy response \"{top_response or '(empty response)'}\" is "
        f"{100 * top_share:.1f} % of its responses (max-ratio; paper {_paper(paper4.get('Baseline'), 'max_ratio', True)}, "
        f"references {100 * ref['max_ratio']:.1f} %); Ent-3 {base['ent3']:.2f} vs the references' {ref['ent3']:.2f} "
        f"(paper {_paper(paper4.get('Baseline'), 'ent3')} vs {_paper(paper4.get('Test-set'), 'ent3')})",
        f"- Table 9: BLEU-4 ({base['bleu4_variant']}) {base['bleu4']:.3f} (paper {_paper(paper9, 'bleu4')})",
        f"- T_out = {res.T_out:.3f}, T_in = {res.T_in:.3f} nats per word: the hit thresholds of notebook 03"])
