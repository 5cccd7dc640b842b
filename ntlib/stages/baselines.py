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

import pandas as pd

from ntlib.methods import decode, evaluate, train
from ntlib.results import figures, metrics, paper, reports, stats, tables, verdicts
from ntlib.run import pipeline
from ntlib.run.params import NotebookRun
from ntlib.stages import StageResults

MODELS = ("lm", "seq2seq")
BEAM_INPUTS = 200            # §4.3's beam-vs-greedy look: the first 200 evaluation inputs
SAMPLES = 8                  # Table 5-style consecutive samples shown


@dataclass
class BaselinesResults(StageResults):
    """``results/baselines_<corpus>.json``: notebook 02's models, perplexities and Table 4 / 9 rows.
    One LM; one seq2seq per baseline seed (``seeds``), each list in seed order. ``rows`` {"Test-set":
    [record], "Baseline": [a record per baseline]} are :func:`ntlib.methods.evaluate.table4_row` records
    (their schema: :mod:`ntlib.results.tables`); ``ppl_bootstrap`` per baseline: the paired bootstrap over
    test dialogues of the per-word NLL, seq2seq − LM (Table 8's verdict)."""
    RESULTS = "baselines"
    profile: str
    corpus: str
    seed: int
    seeds: list
    run_dirs: list
    lm_dir: str
    train_seconds: float
    history: dict
    lm: dict
    seq2seq: list
    T_out: list
    T_in: float
    ppl_bootstrap: list
    n_eval_inputs: int
    rows: dict
    beam_top1_first200: dict
    samples: list
    paper: dict
    seconds: float
    provenance: dict


@dataclass
class Trained:
    """The baselines (:class:`ntlib.run.pipeline.Baselines`, one per seed), the seconds it took to train or
    load them and each model's per-epoch training history ({"lm": …, "seq2seq seed=<s>": …})."""
    bs: list
    seconds: float
    history: dict

    @property
    def b(self):
        """The first baseline (the shared LM, the data)."""
        return self.bs[0]


def train_baselines(nb: NotebookRun) -> Trained:
    """Train the LM and one seq2seq per baseline seed (§4.1), or load them from their run folders; prints each
    epoch's time."""
    t0 = time.time()
    bs = pipeline.all_baselines(nb.P, run_root=nb.run_root, data_dir=nb.data_dir, device=nb.device)
    seconds = time.time() - t0
    history = {"lm": train.load_checkpoint(bs[0].lm_dir / "lm.pt")["history"]}
    history.update({f"seq2seq seed={b.seed}": train.load_checkpoint(b.run_dir / "seq2seq.pt")["history"] for b in bs})
    print(f"{bs[0].lm_dir}\n" + "\n".join(str(b.run_dir) for b in bs)
          + f"\n({seconds:.0f} s; {len(bs[0].data.train)} training pairs, V = {len(bs[0].data.vocab)})")
    for k, h in history.items():     # timings as text: a table column's width would follow the machine's speed
        print(f"{k}: " + "; ".join(f"epoch {e} {s:.1f} s at {t:.0f} tok/s"
                                   for e, s, t in zip(h["epoch"], h["seconds"], h["tokens_per_s"])))
    return Trained(bs, seconds, history)


def history_table(t: Trained) -> pd.DataFrame:
    """Each model's training history, a row per epoch (timings left out: they are printed)."""
    return pd.concat({k: pd.DataFrame(h).set_index("epoch").drop(columns=["tokens_per_s", "seconds"]).round(3)
                      for k, h in t.history.items()}, axis=1)


def training_figure(nb: NotebookRun, t: Trained):
    """Training NLL and validation perplexity per epoch, one marker and dash per baseline seed; saved as
    ``baselines_curves_<corpus>``."""
    fig = figures.baselines_curves(t.history, corpus=nb.corpus, profile=nb.profile, n_pairs=len(t.b.data.train))
    reports.save_figure(fig, f"baselines_curves_{nb.corpus}", nb.reports_dir)
    return fig


@dataclass
class Perplexity:
    """Table 8: the LM's test PPL and NLL, each seq2seq's (a list in seed order), the hit thresholds T_out
    (per baseline) / T_in (App. C) and per baseline the paired bootstrap of the per-word NLL, seq2seq − LM."""
    lm: dict
    seq2seq: list
    T_out: list
    T_in: float
    bootstrap: list


def test_perplexity(t: Trained) -> Perplexity:
    """The LM and every seq2seq on the same test responses (the LM scores them as sentences); prints the
    bootstraps (over test dialogues)."""
    data = t.b.data
    lm = evaluate.perplexity(t.b.lm, data.lm_test)
    lm_nll = evaluate.sequence_nll(t.b.lm, data.lm_test)
    seq, boots = [], []
    for b in t.bs:
        seq.append({**evaluate.perplexity(b.seq2seq, data.test), "seed": b.seed})
        boot = evaluate.nll_bootstrap(lm_nll, evaluate.sequence_nll(b.seq2seq, data.test), data.test_dialogues)
        boots.append({**boot, "baseline_seed": b.seed})
        print("seed {baseline_seed}: per-word NLL, seq2seq − LM: {diff:.3f} [{lo:.3f}, {hi:.3f}] (paired bootstrap "
              "over {clusters} test dialogues, {n} responses)".format(**boots[-1]))
    return Perplexity(lm, seq, [-x["nll"] for x in seq], -lm["nll"], boots)


def table8(nb: NotebookRun, p: Perplexity) -> pd.DataFrame:
    return tables.table8({"baselines": {"lm": p.lm, "seq2seq": p.seq2seq}}, nb.corpus)


@dataclass
class Evaluation:
    """The Test-set row and the Baseline rows (one record per baseline) of Tables 4 / 9 on the one evaluation
    set, and what produced them."""
    rows: dict
    meta: dict               # evaluate.provenance: profile, corpus, seed, n_inputs, inputs_sha, dialogues
    test: object             # the evaluation set (evaluate.EvalSet)

    @property
    def greedy(self) -> list[str]:
        """The first baseline's greedy responses."""
        return self.rows["Baseline"][0]["responses"]

    @property
    def references(self) -> list[str]:
        return self.rows["Test-set"][0]["responses"]


def by_seed(nb: NotebookRun) -> dict:
    """Every baseline of ``nb``'s profile, trained or loaded: ``{seed: ntlib.run.pipeline.Baselines}``, in seed order."""
    return {b.seed: b for b in pipeline.all_baselines(nb.P, run_root=nb.run_root, data_dir=nb.data_dir, device=nb.device)}


class OnEachBaseline:
    """What a downstream stage's Setup derives from its ``bs`` (:func:`by_seed`): the seeds and the first baseline
    (the data, vocabulary, samples and figures' model)."""

    @property
    def seeds(self) -> list:
        return list(self.bs)

    @property
    def b(self):
        return next(iter(self.bs.values()))


@dataclass
class EvalInputs:
    """Tables 4 / 9's evaluation set (:class:`ntlib.methods.evaluate.EvalSet`), its provenance (profile, corpus,
    seed, n_inputs, inputs_sha, dialogues) and every test pair's raw reference (before <unk> mapping)."""
    ev: object
    meta: dict
    raw_refs: list


def evaluation_inputs(nb: NotebookRun, data) -> EvalInputs:
    """The one evaluation set of every Table 4 / 9 row (notebooks 02, 04, 05): ``DecodeConfig.max_eval_inputs``
    test pairs spread over every test dialogue."""
    ev = evaluate.eval_set(data, nb.P.decode.max_eval_inputs)
    raw_refs = evaluate.raw_references(data.corpus.test, nb.P.data)
    if len(raw_refs) != len(data.test):
        raise ValueError(f"{len(raw_refs)} raw references for {len(data.test)} test pairs")
    return EvalInputs(ev, evaluate.provenance(nb.profile, nb.corpus, nb.seed, ev), raw_refs)


def reference_rows(nb: NotebookRun, bs: list, inputs: EvalInputs) -> dict:
    """The Test-set row (the references) and the Baseline row (one record per baseline, greedy) on the
    evaluation set: every stage's first rows."""
    data, max_len = bs[0].data, nb.P.decode.max_len
    return {"Test-set": [evaluate.test_set_row(inputs.ev, data.vocab, inputs.meta)],
            "Baseline": [evaluate.table4_row(b.seq2seq, data, inputs.ev, max_len, {**inputs.meta, "seed": b.seed},
                                             inputs.raw_refs) for b in bs]}


def evaluate_rows(nb: NotebookRun, t: Trained) -> Evaluation:
    """Greedy responses of every baseline to the evaluation set (:func:`evaluation_inputs`) scored as Table 4 /
    9's Baseline row, beside the references' Test-set row; prints the inputs' hash."""
    inputs = evaluation_inputs(nb, t.b.data)
    rows = reference_rows(nb, t.bs, inputs)
    print(f"greedy decoding of {inputs.meta['n_inputs']} test inputs from {len(set(inputs.ev.dialogues))} test "
          f"dialogues (ids sha {inputs.meta['inputs_sha']}) by {len(t.bs)} baseline(s)")
    return Evaluation(rows, inputs.meta, inputs.ev)


def table4(nb: NotebookRun, ev: Evaluation) -> pd.DataFrame:
    return tables.table4({}, nb.corpus, ev.rows)


def top10_table(ev: Evaluation) -> pd.DataFrame:
    """The ten most frequent responses of the references and of each baseline."""
    return tables.top10_table({"Test-set": ev.rows["Test-set"],
                               **{f"Baseline seed {r['seed']}": [r] for r in ev.rows["Baseline"]}})


def frequent_figure(nb: NotebookRun, ev: Evaluation):
    """The responses among each baseline's ten most frequent greedy ones, their share under every baseline and
    in the references; saved as ``baselines_frequent_<corpus>``."""
    fig = figures.baselines_frequent(ev.rows["Test-set"][0]["responses"],
                                     {rec["seed"]: rec["responses"] for rec in ev.rows["Baseline"]},
                                     corpus=nb.corpus, profile=nb.profile, n_inputs=ev.meta["n_inputs"])
    reports.save_figure(fig, f"baselines_frequent_{nb.corpus}", nb.reports_dir)
    return fig


def beam_diversity(nb: NotebookRun, t: Trained, ev: Evaluation) -> dict:
    """§4.3's look at beam search: the diversity of the first baseline's beam top-1 responses to the first
    200 evaluation inputs."""
    beam = decode.respond(t.b.seq2seq, ev.test.pairs.src[:BEAM_INPUTS], t.b.data.vocab, method="beam",
                          beam_size=nb.P.decode.beam_size, max_len=nb.P.decode.max_len)
    return metrics.diversity(beam)


def beam_vs_greedy(ev: Evaluation, beam: dict) -> pd.DataFrame:
    """Greedy vs beam top-1 diversity of the first baseline on the same first 200 evaluation inputs."""
    return pd.DataFrame({"greedy": metrics.diversity(ev.greedy[:BEAM_INPUTS]), "beam top-1": beam}).T.round(3)


def bleu_variants(ev: Evaluation) -> pd.DataFrame:
    return tables.bleu_variants_table({"Baseline": ev.rows["Baseline"]})


def table9(nb: NotebookRun, ev: Evaluation) -> pd.DataFrame:
    return tables.table9({}, nb.corpus, {"Baseline": ev.rows["Baseline"]})


def samples(t: Trained, ev: Evaluation) -> pd.DataFrame:
    """Consecutive evaluation inputs, their references and each baseline's greedy responses (Table 5's form)."""
    srcs = metrics.tensor_to_strings(ev.test.pairs.src, t.b.data.vocab)
    return pd.DataFrame({"input": srcs[:SAMPLES], "reference": ev.references[:SAMPLES],
                         **{f"baseline seed {r['seed']}": r["responses"][:SAMPLES] for r in ev.rows["Baseline"]}})


def write_reports(nb: NotebookRun, t: Trained, p: Perplexity, ev: Evaluation, beam: dict,
                  sample_table: pd.DataFrame) -> BaselinesResults:
    """``results/baselines_<corpus>.json`` and Tables 8, 4, 9 (markdown + CSV); prints T_out, T_in, the time."""
    paper8, paper4 = paper.TABLE8.get(nb.corpus), paper.TABLE4.get(nb.corpus, {})
    res = BaselinesResults(
        profile=nb.profile, corpus=nb.corpus, seed=nb.seed, seeds=[b.seed for b in t.bs],
        run_dirs=[str(b.run_dir) for b in t.bs], lm_dir=str(t.b.lm_dir), train_seconds=t.seconds,
        history=t.history, lm=p.lm, seq2seq=p.seq2seq, T_out=p.T_out, T_in=p.T_in, ppl_bootstrap=p.bootstrap,
        n_eval_inputs=ev.meta["n_inputs"], rows=ev.rows, beam_top1_first200=beam,
        samples=sample_table.to_dict(orient="records"),
        paper={"table8": paper8, "table4": {r: paper4.get(r) for r in ("Test-set", "Baseline")},
               "table9": paper.TABLE9.get(nb.corpus, {}).get("Baseline", {})},
        seconds=nb.seconds(), provenance=nb.provenance(t.b.run_dir))
    res.write(nb.reports_dir)
    n_ppl = len(t.b.data.test.src)      # PPL / NLL: every test pair; decoding metrics: the evaluation set
    across = f"mean [95 % interval] across the {len(t.bs)} baselines (seeds {res.seeds})"
    note = (f"ntlib profile `{nb.profile}`; {across}; PPL on all {n_ppl} test pairs, the other columns on "
            f"{ev.meta['n_inputs']} test inputs spread over all {len(set(ev.test.dialogues))} test dialogues (ids sha "
            f"{ev.meta['inputs_sha']}); paper's value in parentheses.")
    reports.write_table(table8(nb, p), f"baselines_table8_{nb.corpus}", nb.reports_dir,
                        f"Table 8 · test PPL (NLL), {nb.corpus}",
                        f"ntlib profile `{nb.profile}`, all {n_ppl} test pairs; one LM, the seq2seq {across}; "
                        "paper's value in parentheses.")
    reports.write_table(table4(nb, ev), f"baselines_table4_{nb.corpus}", nb.reports_dir,
                        f"Table 4 · Test-set and Baseline rows (greedy decoding), {nb.corpus}", note)
    reports.write_table(table9(nb, ev), f"baselines_table9_{nb.corpus}", nb.reports_dir,
                        f"Table 9 · Baseline row, {nb.corpus}",
                        note + f" BLEU-4: {metrics.BLEU_VARIANTS[metrics.BLEU_CHOSEN]} (`{metrics.BLEU_CHOSEN}`).")
    print(f"T_out = {', '.join(f'{x:.3f}' for x in p.T_out)} (per baseline), T_in = {p.T_in:.3f}; total {res.seconds:.0f} s")
    return res


def _paper(table, key, pct=False) -> str:
    if not table or table.get(key) is None:
        return "–"
    return f"{100 * table[key]:.1f} %" if pct else f"{table[key]:.3g}"


def _spread(values: list[float], fmt: str = "{:.2f}", scale: float = 1.0) -> str:
    """"mean [lo–hi]" across baselines (one value: itself)."""
    vals = [scale * v for v in values]
    if len(vals) == 1:
        return fmt.format(vals[0])
    s = stats.seed_interval(vals)
    return f"{fmt.format(s['mean'])} [{fmt.format(s['lo'])}–{fmt.format(s['hi'])}]"


def findings(res: BaselinesResults) -> str:
    """What this run found, beside Tables 8, 4 and 9, in words (means with 95 % intervals across baselines)."""
    bases, ref = res.rows["Baseline"], res.rows["Test-set"][0]
    paper8, paper4, paper9 = res.paper["table8"], res.paper["table4"], res.paper["table9"]
    verdict = verdicts.table8_verdict(res.as_dict())
    tops = "; ".join(f"seed {r['seed']}: \"{r['top10'][0][0] or '(empty response)'}\" {100 * r['top10'][0][1]:.1f} %"
                     for r in bases if r["top10"])
    return "\n".join([
        f"{res.corpus}, profile {res.profile}, {len(bases)} baseline(s) (seeds {res.seeds}), {res.n_eval_inputs} test inputs:",
        f"- Table 8: test PPL seq2seq {_spread([x['ppl'] for x in res.seq2seq])} (paper "
        f"{_paper(paper8 and paper8['seq2seq'], 'ppl')}), LM {res.lm['ppl']:.2f} (one LM; paper "
        f"{_paper(paper8 and paper8['lm'], 'ppl')}); \"{verdict.claim}\": {verdict.symbol} {verdict.outcome}",
        f"- Table 4: the most frequent greedy response of each baseline — {tops} (max-ratio; paper "
        f"{_paper(paper4.get('Baseline'), 'max_ratio', True)}, references {100 * ref['max_ratio']:.1f} %); Ent-3 "
        f"{_spread([r['ent3'] for r in bases])} vs the references' {ref['ent3']:.2f} (paper "
        f"{_paper(paper4.get('Baseline'), 'ent3')} vs {_paper(paper4.get('Test-set'), 'ent3')})",
        f"- Table 9: BLEU-4 ({bases[0]['bleu4_variant']}) {_spread([r['bleu4'] for r in bases], '{:.3f}')} "
        f"(paper {_paper(paper9, 'bleu4')})",
        f"- T_out = {_spread(res.T_out, '{:.3f}')}, T_in = {res.T_in:.3f} nats per word: the hit thresholds of notebook 03"])
