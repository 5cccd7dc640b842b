"""Stage 03 (notebooks/03_malicious.ipynb): negative training for the malicious response problem
(§3.2, §4.2) — Tables 1–3, Figure 1 and the 10-best check.

The search is :mod:`ntlib.methods.gibbs_enum` (App. A, the hit criteria of §3.2), Algorithm 1 and the target
lists :mod:`ntlib.methods.malicious`. This driver runs them for the notebook, one call per cell: the
baseline's hit rates on the training and test lists, Algorithm 1 on each training list and hit type
(each run then searched afresh), the warm-start + stop-when-hit ablation, the no-FWA run of Figure 1
and the 10-best overlap; it writes ``table3_<corpus>.*``, two figures and
``results/malicious_<corpus>.json`` (:class:`MaliciousResults`).
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import pandas as pd

from ntlib.data.targets import load_targets
from ntlib.methods import decode, evaluate, gibbs_enum, malicious
from ntlib.results import metrics, paper, plots, reports, tables
from ntlib.results.stats import FAILS, HOLDS, INCONCLUSIVE
from ntlib.results.verdicts import malicious_verdicts, verdict_markdown
from ntlib.run import pipeline
from ntlib.run.config import override
from ntlib.run.params import NotebookRun, apply
from ntlib.stages import StageResults

LIST_NAMES = {"train": "train (0.5k)", "train_1k": "train (1k)", "train_2.5k": "train (2.5k)", "test": "test (0.5k)"}
ROW_LABELS = {"train": "+neg-tr(0.5k)", "train_1k": "+neg-tr(1k)", "train_2.5k": "+neg-tr(2.5k)"}
KNOBS = ("hit_types", "iterations", "max_targets", "lists")     # notebook 03's parameters (ntlib.run.params.KNOBS)
EXAMPLES = 5                 # Table 1 / 2 examples shown
FIGURE1_TARGETS = 4          # Figure 1: test-list targets (baseline hits first) and test samples plotted


@dataclass
class MaliciousResults(StageResults):
    """``results/malicious_<corpus>.json``: notebook 03's hit records (per target, so the tests can be
    rebuilt: ``baseline``, ``neg_train`` {"<row> <hit type>": {train, test, ppl, ppl_change, history}},
    ``ablation``), its verdicts, Figure 1's word NLLs, the 10-best overlap and where the time went."""
    RESULTS = "malicious"
    profile: str
    corpus: str
    seed: int
    threads: int | None
    gibbs: dict
    malicious: dict
    thresholds: dict
    targets: dict
    baseline: dict
    neg_train: dict
    ablation: dict
    verdicts: list
    no_fwa_history: list
    nbest_overlap: dict
    word_nll: dict
    timing: dict
    seconds: float
    provenance: dict


@dataclass
class Setup:
    """The search and Algorithm 1 configs (the notebook's knobs applied), the baselines, the hit types
    searched (o-greedy is checked on the o- search's triggers) and the thresholds (App. C)."""
    gcfg: object
    mcfg: object
    b: object
    hit_types: tuple
    thr: object = None
    timing: dict = field(default_factory=dict)


def setup(nb: NotebookRun) -> Setup:
    """The profile's gibbs-enum and Algorithm 1 configs with the notebook's knobs, and the baselines."""
    gcfg = override(nb.P.gibbs, seed=nb.seed)
    mcfg = apply(override(nb.P.malicious, seed=nb.seed), nb.values, *KNOBS)
    b = pipeline.baselines(nb.P, run_root=nb.run_root, data_dir=nb.data_dir, device=nb.device)
    return Setup(gcfg, mcfg, b, tuple(dict.fromkeys(("o_greedy",) + tuple(mcfg.hit_types))))


def thresholds(nb: NotebookRun, s: Setup) -> pd.DataFrame:
    """T_out / T_in (§3.2, App. C): the seq2seq's and the LM's average word log-likelihood on the test data."""
    s.thr = gibbs_enum.thresholds(s.b.seq2seq, s.b.lm, s.b.data.test)
    t8 = paper.TABLE8.get(nb.corpus)
    return pd.DataFrame({"ours": [s.thr.t_out, s.thr.t_in],
                         "paper": [-t8["seq2seq"]["nll"], -t8["lm"]["nll"]] if t8 else [None, None]},
                        index=["T_out (seq2seq)", "T_in (LM)"])


@dataclass
class Targets:
    """Each list in full (for its counts) and as used (subsampled: ``MaliciousConfig.max_targets``)."""
    full: dict
    used: dict


def target_lists(nb: NotebookRun, s: Setup) -> Targets:
    """The authors' lists (§4.2), cropped as responses (App. B); OOV targets dropped (``load_targets``)."""
    crop = nb.P.data.max_tgt_len
    vocab = s.b.data.vocab
    return Targets({n: load_targets(n, vocab, nb.data_dir, max_len=crop) for n in LIST_NAMES},
                   {n: load_targets(n, vocab, nb.data_dir, max_targets=s.mcfg.max_targets, seed=nb.seed,
                                              max_len=crop) for n in LIST_NAMES})


def target_counts(t: Targets) -> pd.DataFrame:
    return pd.DataFrame({"lines": [t.full[n].source_lines for n in LIST_NAMES],
                         "dropped (OOV)": [len(t.full[n].dropped_oov) for n in LIST_NAMES],
                         "used here": [len(t.used[n].sentences) for n in LIST_NAMES]}, index=list(LIST_NAMES.values()))


def target_examples(t: Targets) -> pd.DataFrame:
    """Table 2's form: training and test targets, and the 2.5k list's originals with their paraphrases."""
    k = min(EXAMPLES, len(t.used["train"].sentences), len(t.used["test"].sentences))
    return pd.DataFrame({name: [" ".join(x) for x in t.used[n].sentences[:k]] for n, name in
                         (("train", "train"), ("test", "test"),
                          ("train_2.5k", "train (2.5k): targets, then their paraphrases"))})


def _rate(r: dict) -> str:
    return f"{100 * r['rate']:.1f}% [{100 * r['lo']:.1f}, {100 * r['hi']:.1f}] ({r['k']}/{r['n']})"


def baseline_hits(s: Setup, t: Targets) -> dict:
    """The baseline's hits on the training (0.5k) and test lists, one gibbs-enum per search kind."""
    t0 = time.time()
    base = {n: malicious.evaluate_hits(s.b.seq2seq, s.b.lm, t.used[n].tensor, s.thr, s.hit_types, s.gcfg, progress=True)
            for n in ("train", "test")}
    s.timing["baseline hit rates"] = time.time() - t0
    return base


def hit_table(s: Setup, base: dict) -> pd.DataFrame:
    return pd.DataFrame({n: {ht: _rate(base[n][ht]) for ht in s.hit_types} for n in base})


def trigger_examples(s: Setup, t: Targets, base: dict) -> pd.DataFrame:
    """Table 1's form: triggers found for hit training targets (the io- type's when it hit any)."""
    ex_type = next((ht for ht in reversed(s.hit_types) if base["train"][ht]["k"]), s.hit_types[-1])
    r = base["train"][ex_type]
    idx = r["hits"].nonzero().squeeze(1)[:EXAMPLES].tolist()
    return pd.DataFrame({"trigger input": [" ".join(s.b.data.vocab.decode(r["triggers"][i])) for i in idx],
                         "malicious target": [" ".join(t.used["train"].sentences[i]) for i in idx]}).assign(hit_type=ex_type)


def _first_search(s: Setup, t: Targets, base: dict, name: str, ht: str):
    """Iteration 1 searches the untouched baseline with the seed of the baseline's search: on the 0.5k list
    (one mini-batch) that search is the one already run, so Algorithm 1 takes its triggers (same run, tested)."""
    return (base["train"][ht]["triggers"] if name == "train" and len(t.used[name].sentences) <= s.mcfg.target_batch
            else None)


@dataclass
class Trained:
    """Algorithm 1's runs {(list, hit type): NegTrainResult} and each run's searches afresh after it, its
    per-response test NLL, PPL and paired-bootstrap PPL change (the baseline's under key "baseline")."""
    runs: dict
    after: dict
    seq_nll: dict
    ppl: dict
    ppl_change: dict


def negative_training(s: Setup, t: Targets, base: dict) -> Trained:
    """Algorithm 1 on each training list (``MaliciousConfig.lists``) and hit type, then every run searched
    afresh on the training (0.5k) and test lists and scored on every test pair."""
    runs, b = {}, s.b
    for n in s.mcfg.lists:
        for ht in s.mcfg.hit_types:
            t0 = time.time()
            runs[n, ht] = malicious.negative_train(b.seq2seq, b.lm, t.used[n].tensor, b.data.train, s.thr, ht,
                                                   b.data.vocab, s.mcfg, s.gcfg, first_triggers=_first_search(s, t, base, n, ht))
            s.timing[f"train {n} {ht}"] = time.time() - t0
    t0 = time.time()
    after = {key: {m: malicious.evaluate_hits(res.model, b.lm, t.used[m].tensor, s.thr, (key[1],), s.gcfg)[key[1]]
                   for m in ("train", "test")} for key, res in runs.items()}
    seq_nll = {key: evaluate.sequence_nll(res.model, b.data.test) for key, res in runs.items()}
    seq_nll["baseline"] = evaluate.sequence_nll(b.seq2seq, b.data.test)
    ppl = {key: evaluate.ppl_of(v) for key, v in seq_nll.items()}
    change = {key: evaluate.ppl_change_bootstrap(seq_nll["baseline"], v) for key, v in seq_nll.items()}
    s.timing["evaluate all runs"] = time.time() - t0
    return Trained(runs, after, seq_nll, ppl, change)


def _record(r: dict) -> dict:
    """A hit record for the results JSON: per-target hits as 0/1, no triggers."""
    return {k: (v.int().tolist() if k == "hits" else v) for k, v in r.items() if k != "triggers"}


@dataclass
class Ablation:
    """The warm-start + stop-when-hit run on the 0.5k list (Algorithm 1's ablation, first hit type)."""
    result: object
    after: dict
    ppl: float
    ppl_change: dict


def ablation(s: Setup, t: Targets, tr: Trained) -> Ablation:
    """Same targets, same seed: each search starts from the last iteration's trigger and stops at a hit."""
    ht0, b = s.mcfg.hit_types[0], s.b
    t0 = time.time()
    res = malicious.negative_train(b.seq2seq, b.lm, t.used["train"].tensor, b.data.train, s.thr, ht0, b.data.vocab,
                                   override(s.mcfg, warm_start=True), override(s.gcfg, stop_when_hit=True))
    after = {m: malicious.evaluate_hits(res.model, b.lm, t.used[m].tensor, s.thr, (ht0,), s.gcfg)[ht0]
             for m in ("train", "test")}
    nll = evaluate.sequence_nll(res.model, b.data.test)
    out = Ablation(res, after, evaluate.ppl_of(nll), evaluate.ppl_change_bootstrap(tr.seq_nll["baseline"], nll))
    s.timing["ablation (train + evaluate)"] = time.time() - t0
    return out


def hit_records(s: Setup, base: dict, tr: Trained, abl: Ablation) -> dict:
    """The results' ``baseline``, ``neg_train`` and ``ablation`` entries: what Table 3 and its verdicts read."""
    ht0 = s.mcfg.hit_types[0]
    return {
        "baseline": {n: {ht: _record(base[n][ht]) for ht in s.hit_types} for n in base} | {"ppl": tr.ppl["baseline"]},
        "neg_train": {f"{ROW_LABELS[n]} {ht}": {"train": {ht: _record(tr.after[n, ht]["train"])},
                                                "test": {ht: _record(tr.after[n, ht]["test"])},
                                                "ppl": tr.ppl[n, ht], "ppl_change": tr.ppl_change[n, ht],
                                                "history": tr.runs[n, ht].history} for (n, ht) in tr.runs},
        "ablation": {f"+neg-tr(0.5k) {ht0}": {"label": "warm start + stop-when-hit",
                                              "train": {ht0: _record(abl.after["train"])},
                                              "test": {ht0: _record(abl.after["test"])},
                                              "ppl": abl.ppl, "ppl_change": abl.ppl_change, "history": abl.result.history}}}


def table3(nb: NotebookRun, records: dict) -> pd.DataFrame:
    return tables.table3({"malicious": records}, nb.corpus)


def verdicts(records: dict) -> list:
    """Table 3's claims, each decided by an exact test on the per-target hits (:mod:`ntlib.results.tables`)."""
    return malicious_verdicts(records)


def verdicts_markdown(verdict_list: list) -> str:
    return verdict_markdown(verdict_list)


def iterations_figure(nb: NotebookRun, s: Setup, t: Targets, tr: Trained):
    """The hit rate of each iteration's searches on the list being trained; saved as ``malicious_iterations``."""
    fig, ax = plt.subplots(figsize=(8, 3.8), layout="constrained")
    markers = dict(zip(s.mcfg.hit_types, "osD^v"))
    for (n, ht), res in tr.runs.items():
        h = pd.DataFrame(res.history)
        ax.errorbar(h.iteration, 100 * h.rate, yerr=[100 * (h.rate - h.lo), 100 * (h.hi - h.rate)],
                    marker=markers.get(ht, "o"), capsize=3, color=plots.model_colour(ROW_LABELS[n]),
                    label=f"{ROW_LABELS[n]} {ht} ({len(t.used[n].sentences)} targets)")
    ax.set(xlabel="iteration of Algorithm 1", ylabel="hit rate (%, 95 % Wilson interval)")
    plots.integer_ticks(ax)
    plots.legend_outside(ax)
    trained = list(dict.fromkeys(n for n, _ in tr.runs))
    ax.set_title(plots.title("Hit rate of each iteration's searches on the list being trained", nb.corpus, nb.profile,
                             " / ".join(str(len(t.used[n].sentences)) for n in trained),
                             "targets (" + " / ".join(LIST_NAMES[n] for n in trained) + ")"), fontsize=10)
    reports.save_figure(fig, f"malicious_iterations_{nb.corpus}", nb.reports_dir)
    return fig


@dataclass
class Figure1:
    """The no-FWA run and Figure 1's per-word NLLs of test-list targets and test samples, per model."""
    no_fwa: object
    models: dict
    malicious: dict
    test_data: dict
    picked: list


def no_fwa_and_word_nll(s: Setup, t: Targets, base: dict, tr: Trained) -> Figure1:
    """Algorithm 1 without frequent word avoiding (§4.2), then each word's NLL (App. D) under the baseline,
    neg-train with FWA and without, on test-list targets given the baseline's triggers and on test samples."""
    ht0, b = s.mcfg.hit_types[0], s.b
    t0 = time.time()
    no_fwa = malicious.negative_train(b.seq2seq, b.lm, t.used["train"].tensor, b.data.train, s.thr, ht0, b.data.vocab,
                                      override(s.mcfg, fwa=False), s.gcfg, first_triggers=_first_search(s, t, base, "train", ht0))
    s.timing["no-FWA run"] = time.time() - t0
    models = {"baseline": b.seq2seq, "neg-train (FWA)": tr.runs["train", ht0].model, "neg-train (no FWA)": no_fwa.model}
    bt = base["test"][ht0]
    pick = (bt["hits"].nonzero().squeeze(1).tolist() or list(range(len(t.used["test"].sentences))))[:FIGURE1_TARGETS]
    mal = {name: malicious.per_word_nll(m, bt["triggers"][pick], t.used["test"].tensor[pick], b.data.vocab)
           for name, m in models.items()}
    test = b.data.test
    dat = {name: malicious.per_word_nll(m, test.src[:FIGURE1_TARGETS], test.tgt[:FIGURE1_TARGETS], b.data.vocab)
           for name, m in models.items()}
    return Figure1(no_fwa, models, mal, dat, pick)


def _plot_nll(ax, series: dict, title: str) -> None:
    words = [w for w, _ in next(iter(series.values()))]
    for name, pairs in series.items():
        ax.plot(range(len(words)), [v for _, v in pairs], marker="o", ms=4, color=plots.model_colour(name), label=name)
    ax.set_xticks(range(len(words)), words, rotation=75, fontsize=7)
    ax.set(title=title, ylabel="NLL (nats)")


def figure1(nb: NotebookRun, s: Setup, base: dict, tr: Trained, f1: Figure1):
    """Figure 1: each word's NLL before / after negative training; saved as ``malicious_word_nll``. Prints
    the mean word NLL on the plotted targets and Algorithm 1's negative updates with and without FWA."""
    ht0 = s.mcfg.hit_types[0]
    n_mal, n_dat = len(f1.picked), min(FIGURE1_TARGETS, len(s.b.data.test.src))
    fig, axes = plt.subplots(2, 1, figsize=(12, 7), layout="constrained")
    _plot_nll(axes[0], f1.malicious, f"{n_mal} test-list malicious targets, given the baseline's triggers ({ht0}); "
                                     "sentences end in <eos>")
    _plot_nll(axes[1], f1.test_data, f"{n_dat} test data samples given their inputs")
    plots.legend_outside(axes[0])
    fig.suptitle(plots.title("Figure 1: NLL of each word before and after negative training", nb.corpus, nb.profile,
                             f"{n_mal} targets / {n_dat} test samples"))
    path = reports.save_figure(fig, f"malicious_word_nll_{nb.corpus}", nb.reports_dir)
    steps = {"neg-train (FWA)": tr.runs["train", ht0].history, "neg-train (no FWA)": f1.no_fwa.history}
    print(f"saved figures/{path.name} and its PDF twin")
    print(f"targets plotted: {n_mal}, of which the baseline hits {int(base['test'][ht0]['hits'][f1.picked].sum())} ({ht0})")
    print("mean word NLL on them: " + ", ".join(f"{name} {v:.2f} nats" for name, v in mean_word_nll(f1).items()))
    print("negative target updates in Algorithm 1 (0.5k list): " + ", ".join(
        f"{name} {sum(h['neg_updates'] for h in hist)} over {len(hist)} iteration(s)" for name, hist in steps.items()))
    return fig


def mean_word_nll(f1: Figure1) -> dict:
    return {name: sum(v for _, v in pairs) / len(pairs) for name, pairs in f1.malicious.items()}


def nbest_overlap(nb: NotebookRun, s: Setup, f1: Figure1) -> dict:
    """§4.2: the share of the baseline's 10-best list each negatively trained model keeps, per model."""
    src = s.b.data.test.src[:s.mcfg.overlap_inputs]
    nbest = {name: decode.beam_search(m, src, beam_size=nb.P.decode.beam_size, max_len=nb.P.decode.max_len)
             for name, m in f1.models.items()}
    return {name: metrics.nbest_overlap(nbest["baseline"], nbest[name]) for name in f1.models if name != "baseline"}


def overlap_table(nb: NotebookRun, s: Setup, overlap: dict) -> pd.DataFrame:
    return pd.DataFrame({f"{nb.P.decode.beam_size}-best overlap with the baseline (%)":
                         {name: 100 * v for name, v in overlap.items()}}
                        ).rename_axis(f"{min(s.mcfg.overlap_inputs, len(s.b.data.test))} test inputs").round(1)


def write_reports(nb: NotebookRun, s: Setup, t: Targets, records: dict, verdict_list: list, f1: Figure1,
                  overlap: dict) -> MaliciousResults:
    """``results/malicious_<corpus>.json`` and Table 3 (markdown + CSV, with its verdicts); prints the time."""
    res = MaliciousResults(
        profile=nb.profile, corpus=nb.corpus, seed=nb.seed, threads=nb.threads, gibbs=s.gcfg.__dict__,
        malicious=s.mcfg.__dict__, thresholds={"t_out": s.thr.t_out, "t_in": s.thr.t_in},
        targets={n: {"lines": t.full[n].source_lines, "dropped_oov": len(t.full[n].dropped_oov),
                     "used": len(t.used[n].sentences)} for n in LIST_NAMES},
        **records, verdicts=[v.__dict__ for v in verdict_list], no_fwa_history=f1.no_fwa.history, nbest_overlap=overlap,
        word_nll={"malicious": f1.malicious, "test_data": f1.test_data}, timing=s.timing, seconds=nb.seconds(),
        provenance=nb.provenance(s.b.run_dir))
    res.write(nb.reports_dir)
    g = s.gcfg
    reports.write_table(table3(nb, records), f"table3_{nb.corpus}", nb.reports_dir,
                        title=f"Table 3 ({nb.corpus}, profile {nb.profile}): malicious-target hit rates and PPL",
                        note=f"ours % [95 % Wilson interval] k/n (paper %); {len(t.used['train'].sentences)} train / "
                             f"{len(t.used['test'].sentences)} test targets, gibbs-enum T={g.sweeps} G={g.candidates} "
                             f"restarts={g.restarts}, {s.mcfg.iterations} iterations; last row: warm start + "
                             f"stop-when-hit ablation.\n\n" + verdict_markdown(verdict_list))
    print(f"notebook 03 took {res.seconds:.0f} s on {nb.threads} thread(s)")
    for step, sec in s.timing.items():     # where the time went
        print(f"  {step}: {sec:.1f} s")
    return res


def findings(nb: NotebookRun, s: Setup, t: Targets, base: dict, verdict_list: list, f1: Figure1, overlap: dict) -> str:
    """What this run found, beside §4.2's claims, in words."""
    counts, g = Counter(v.outcome for v in verdict_list), s.gcfg
    lines = [f"{nb.corpus}, profile {nb.profile}: {len(t.used['train'].sentences)} training / "
             f"{len(t.used['test'].sentences)} test targets; gibbs-enum T={g.sweeps}, G={g.candidates}, {g.restarts} "
             f"restart(s); {s.mcfg.iterations} iteration(s) of Algorithm 1"]
    lines += [f"- baseline {ht}: train list {_rate(base['train'][ht])}, test list {_rate(base['test'][ht])}"
              for ht in s.hit_types]
    lines.append(f"- §4.2's claims, {len(verdict_list)} tests: " + ", ".join(f"{counts[o]} {o}" for o in
                                                                          (HOLDS, FAILS, INCONCLUSIVE)))
    lines += ["  " + v.markdown() for v in verdict_list if v.outcome != INCONCLUSIVE]
    lines.append("- Figure 1, mean word NLL on the plotted malicious targets: "
                 + ", ".join(f"{name} {v:.2f} nats" for name, v in mean_word_nll(f1).items()))
    lines.append("- beam search after negative training: " + ", ".join(
        f"{name} keeps {100 * v:.1f} % of the baseline's {nb.P.decode.beam_size}-best lists" for name, v in overlap.items())
        + " (paper, 10-best: more than 90 %)")
    return "\n".join(lines)
