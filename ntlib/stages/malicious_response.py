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

import pandas as pd

from ntlib.data.targets import load_targets
from ntlib.methods import evaluate, hits, malicious
from ntlib.results import display, figures, hit_verdicts, paper, reports, tables
from ntlib.results.hit_verdicts import malicious_verdicts
from ntlib.results.stats import FAILS, HOLDS, INCONCLUSIVE
from ntlib.results.verdicts import verdict_markdown
from ntlib.run.config import override
from ntlib.run.params import NotebookRun, apply
from ntlib.stages import StageResults
from ntlib.stages.baselines import OnEachBaseline, by_seed
from ntlib.stages.malicious_figure1 import Figure1, mean_word_nll

LIST_NAMES = {"train": "train (0.5k)", "train_1k": "train (1k)", "train_2.5k": "train (2.5k)", "test": "test (0.5k)"}
ROW_LABELS = {"train": "+neg-tr(0.5k)", "train_1k": "+neg-tr(1k)", "train_2.5k": "+neg-tr(2.5k)"}
KNOBS = ("hit_types", "iterations", "max_targets", "lists")     # notebook 03's parameters (ntlib.run.params.KNOBS)
EXAMPLES = 5                 # Table 1 / 2 examples shown


@dataclass
class MaliciousResults(StageResults):
    """``results/malicious_<corpus>.json``: notebook 03's hit records, per baseline (``per_baseline``: a list in
    seed order of {seed, thresholds, search_seeds, baseline, neg_train {"<row> <hit type>": {train, test, ppl,
    ppl_change, history}}, ablation}; per-target hits, so every test can be rebuilt), the verdicts across
    baselines, Figure 1's word NLLs, the 10-best overlap (first baseline) and where the time went."""
    RESULTS = "malicious"
    profile: str
    corpus: str
    seed: int
    seeds: list
    threads: int | None
    gibbs: dict
    malicious: dict
    targets: dict
    per_baseline: list
    verdicts: list
    no_fwa_history: list
    nbest_overlap: dict
    word_nll: dict
    timing: dict
    seconds: float
    provenance: dict


@dataclass
class Setup(OnEachBaseline):
    """The search and Algorithm 1 configs (the notebook's knobs applied) and the baselines: per baseline seed,
    its :class:`ntlib.run.pipeline.Baselines`, the training search's config and the evaluation search's (another
    seed, :func:`ntlib.methods.malicious.evaluation_seed`); the hit types searched (o-greedy is checked on
    the o- search's triggers) and the thresholds (App. C) per baseline."""
    gcfg: object                 # the first baseline's training search (the notebook shows it)
    mcfg: object                 # the first baseline's Algorithm 1 config
    bs: dict                     # {seed: Baselines}
    gcfgs: dict                  # {seed: training search config}
    mcfgs: dict                  # {seed: Algorithm 1 config}
    eval_gcfgs: dict             # {seed: evaluation search config}
    hit_types: tuple
    thr: dict = field(default_factory=dict)
    timing: dict = field(default_factory=dict)

    @property
    def seed(self) -> int:
        return next(iter(self.bs))


def setup(nb: NotebookRun) -> Setup:
    """Each baseline with the profile's gibbs-enum and Algorithm 1 configs (seeded with its seed), the notebook's
    knobs applied; the evaluation searches seeded apart from every training search."""
    bs = by_seed(nb)
    gcfgs = {seed: override(nb.P.gibbs, seed=seed) for seed in bs}
    mcfgs = {seed: apply(override(nb.P.malicious, seed=seed), nb.values, *KNOBS) for seed in bs}
    eval_gcfgs = {seed: override(nb.P.gibbs, seed=malicious.evaluation_seed(seed)) for seed in bs}
    clash = {g.seed for g in eval_gcfgs.values()} & ({g.seed for g in gcfgs.values()} | {m.seed for m in mcfgs.values()})
    if clash:
        raise ValueError(f"evaluation search seed(s) {sorted(clash)} are also training seeds: choose baseline seeds "
                         f"below {malicious.EVALUATION_SEED_OFFSET}")
    first = next(iter(bs))
    hit_types = tuple(dict.fromkeys(("o_greedy",) + tuple(mcfgs[first].hit_types)
                                    + tuple(mcfgs[first].first_baseline_hit_types or ())))
    return Setup(gcfgs[first], mcfgs[first], bs, gcfgs, mcfgs, eval_gcfgs, hit_types)


def search_seeds(s: Setup) -> dict:
    """{baseline seed: {"training": seed of Algorithm 1's searches, "evaluation": seed of the attacks that
    measure hit rates}} — disjoint (tested)."""
    return {seed: {"training": s.mcfgs[seed].seed, "evaluation": s.eval_gcfgs[seed].seed} for seed in s.bs}


def thresholds(nb: NotebookRun, s: Setup) -> pd.DataFrame:
    """T_out / T_in (§3.2, App. C): each seq2seq's and the LM's average word log-likelihood on the test data."""
    s.thr = {seed: hits.thresholds(b.seq2seq, b.lm, b.data.test) for seed, b in s.bs.items()}
    t8 = paper.TABLE8.get(nb.corpus)
    out = pd.DataFrame({f"baseline seed {seed}": [thr.t_out, thr.t_in] for seed, thr in s.thr.items()},
                       index=["T_out (seq2seq)", "T_in (LM)"])
    out["paper"] = [-t8["seq2seq"]["nll"], -t8["lm"]["nll"]] if t8 else [None, None]
    return out


@dataclass
class Targets:
    """Each list in full (for its counts) and as used (subsampled: ``MaliciousConfig.max_targets``; the same
    targets for every baseline)."""
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
    """Each baseline's hits on the training (0.5k) and test lists: one gibbs-enum per search kind, from the
    evaluation seed ({seed: {list: {hit type: record}}})."""
    t0 = time.time()
    base = {seed: {n: malicious.evaluate_hits(b.seq2seq, b.lm, t.used[n].tensor, s.thr[seed], s.hit_types,
                                              s.eval_gcfgs[seed], progress=True)
                   for n in ("train", "test")} for seed, b in s.bs.items()}
    s.timing["baseline hit rates"] = time.time() - t0
    return base


def hit_table(s: Setup, base: dict) -> pd.DataFrame:
    """The baselines' hit rates, one column per (list, baseline seed)."""
    return pd.DataFrame({(n, f"seed {seed}"): {ht: _rate(by_list[n][ht]) for ht in s.hit_types}
                         for seed, by_list in base.items() for n in by_list})


def trigger_examples(s: Setup, t: Targets, base: dict) -> pd.DataFrame:
    """Table 1's form: triggers found for hit training targets of the first baseline (the io- type's when it
    hit any)."""
    first = base[s.seed]
    ex_type = next((ht for ht in reversed(s.hit_types) if first["train"][ht]["k"]), s.hit_types[-1])
    r = first["train"][ex_type]
    idx = r["hits"].nonzero().squeeze(1)[:EXAMPLES].tolist()
    return pd.DataFrame({"trigger input": [" ".join(s.b.data.vocab.decode(r["triggers"][i])) for i in idx],
                         "malicious target": [" ".join(t.used["train"].sentences[i]) for i in idx]}).assign(hit_type=ex_type)


def planned_runs(s: Setup) -> list[tuple[int, str, str]]:
    """(baseline seed, training list, hit type) of every Algorithm 1 run: ``MaliciousConfig.lists`` on every
    baseline, ``first_baseline_lists`` on the first only."""
    runs = [(seed, n, ht) for seed in s.bs for n in s.mcfgs[seed].lists for ht in s.mcfgs[seed].hit_types]
    extra_types = s.mcfg.first_baseline_hit_types or s.mcfg.hit_types
    runs += [(s.seed, n, ht) for n in s.mcfg.first_baseline_lists for ht in extra_types
             if (s.seed, n, ht) not in runs]
    return runs


@dataclass
class Trained:
    """Algorithm 1's runs {(baseline seed, list, hit type): NegTrainResult} and each run's attack after it
    (the evaluation seed), its per-response test NLL, PPL and paired-bootstrap PPL change (each baseline's
    own under key (seed, "baseline"))."""
    runs: dict
    after: dict
    seq_nll: dict
    ppl: dict
    ppl_change: dict


def negative_training(s: Setup, t: Targets, base: dict) -> Trained:
    """Algorithm 1 for every planned run (:func:`planned_runs`), then each model attacked afresh — the
    evaluation seed's searches, as the baseline was — on the training (0.5k) and test lists and scored on
    every test pair."""
    runs = {}
    for seed, n, ht in planned_runs(s):
        b, t0 = s.bs[seed], time.time()
        runs[seed, n, ht] = malicious.negative_train(b.seq2seq, b.lm, t.used[n].tensor, b.data.train, s.thr[seed], ht,
                                                     b.data.vocab, s.mcfgs[seed], s.gcfgs[seed])
        s.timing[f"train seed {seed} {n} {ht}"] = time.time() - t0
    t0 = time.time()
    after = {key: {m: malicious.evaluate_hits(res.model, s.bs[key[0]].lm, t.used[m].tensor, s.thr[key[0]], (key[2],),
                                              s.eval_gcfgs[key[0]])[key[2]] for m in ("train", "test")}
             for key, res in runs.items()}
    test, dialogues = s.b.data.test, s.b.data.test_dialogues
    seq_nll = {key: evaluate.sequence_nll(res.model, test) for key, res in runs.items()}
    seq_nll.update({(seed, "baseline"): evaluate.sequence_nll(b.seq2seq, test) for seed, b in s.bs.items()})
    ppl = {key: evaluate.ppl_of(v) for key, v in seq_nll.items()}
    change = {key: evaluate.ppl_change_bootstrap(seq_nll[key[0], "baseline"], v, dialogues) for key, v in seq_nll.items()}
    s.timing["evaluate all runs"] = time.time() - t0
    return Trained(runs, after, seq_nll, ppl, change)


@dataclass
class Ablation:
    """The warm-start + stop-when-hit run on the 0.5k list (Algorithm 1's ablation, first hit type, first
    baseline)."""
    result: object
    after: dict
    ppl: float
    ppl_change: dict


def ablation(s: Setup, t: Targets, tr: Trained) -> Ablation:
    """Same targets, same seed, first baseline: each search starts from the last iteration's trigger and
    stops at a hit."""
    ht0, b, seed = s.mcfg.hit_types[0], s.b, s.seed
    t0 = time.time()
    res = malicious.negative_train(b.seq2seq, b.lm, t.used["train"].tensor, b.data.train, s.thr[seed], ht0, b.data.vocab,
                                   override(s.mcfg, warm_start=True), override(s.gcfg, stop_when_hit=True))
    after = {m: malicious.evaluate_hits(res.model, b.lm, t.used[m].tensor, s.thr[seed], (ht0,), s.eval_gcfgs[seed])[ht0]
             for m in ("train", "test")}
    nll = evaluate.sequence_nll(res.model, b.data.test)
    out = Ablation(res, after, evaluate.ppl_of(nll),
                   evaluate.ppl_change_bootstrap(tr.seq_nll[seed, "baseline"], nll, b.data.test_dialogues))
    s.timing["ablation (train + evaluate)"] = time.time() - t0
    return out


def hit_records(s: Setup, base: dict, tr: Trained, abl: Ablation) -> dict:
    """The results' per-baseline hit records and the configs: what Table 3 and its verdicts read."""
    ht0, per = s.mcfg.hit_types[0], []
    for seed in s.bs:
        rec = {"seed": seed, "thresholds": {"t_out": s.thr[seed].t_out, "t_in": s.thr[seed].t_in},
               "search_seeds": search_seeds(s)[seed],
               "baseline": {n: {ht: malicious.hit_record(base[seed][n][ht]) for ht in s.hit_types} for n in base[seed]}
               | {"ppl": tr.ppl[seed, "baseline"]},
               "neg_train": {f"{ROW_LABELS[n]} {ht}": {"train": {ht: malicious.hit_record(tr.after[k, n, ht]["train"])},
                                                       "test": {ht: malicious.hit_record(tr.after[k, n, ht]["test"])},
                                                       "ppl": tr.ppl[k, n, ht], "ppl_change": tr.ppl_change[k, n, ht],
                                                       "history": tr.runs[k, n, ht].history}
                             for (k, n, ht) in tr.runs if k == seed},
               "ablation": {}}
        if seed == s.seed:
            rec["ablation"] = {f"+neg-tr(0.5k) {ht0}": {"label": "warm start + stop-when-hit",
                                                        "train": {ht0: malicious.hit_record(abl.after["train"])},
                                                        "test": {ht0: malicious.hit_record(abl.after["test"])},
                                                        "ppl": abl.ppl, "ppl_change": abl.ppl_change,
                                                        "history": abl.result.history}}
        per.append(rec)
    return {"gibbs": s.gcfg.__dict__, "malicious": s.mcfg.__dict__, "per_baseline": per}


def table3(nb: NotebookRun, records: dict) -> pd.DataFrame:
    """Table 3: each row's mean over the baselines it ran on, with its 95 % interval across them."""
    return tables.table3({"malicious": records}, nb.corpus)


def table3_per_baseline(records: dict) -> pd.DataFrame:
    """Table 3 on each baseline: % [95 % Wilson interval] k/n."""
    return tables.table3_per_baseline({"malicious": records})


def verdicts(records: dict) -> list:
    """Table 3's claims: per baseline a Holm-corrected family of exact tests, then across baselines
    (:mod:`ntlib.results.hit_verdicts`)."""
    return malicious_verdicts(records)


def verdicts_markdown(records: dict, verdict_list: list) -> str:
    """The verdicts, under the note on how they were tested."""
    return hit_verdicts.family_note(records) + "\n\n" + verdict_markdown(verdict_list)


def iterations_figure(nb: NotebookRun, s: Setup, t: Targets, tr: Trained):
    """The hit rate of each iteration's searches on the list being trained, then Table 3's rate on it after the
    last iteration (the evaluation seed's fresh attack), one panel per hit type; saved as ``malicious_iterations``."""
    series = [{"list": n, "hit_type": ht, "seed": seed, "targets": len(t.used[n].sentences), "history": res.history,
               "final": tr.after[seed, n, ht]["train"]} for (seed, n, ht), res in tr.runs.items()]
    fig = figures.malicious_iterations(series, corpus=nb.corpus, profile=nb.profile)
    reports.save_figure(fig, f"malicious_iterations_{nb.corpus}", nb.reports_dir)
    return fig


def write_reports(nb: NotebookRun, s: Setup, t: Targets, records: dict, verdict_list: list, f1: Figure1,
                  overlap: dict) -> MaliciousResults:
    """``results/malicious_<corpus>.json`` and Table 3 (markdown + CSV, with its verdicts and the per-baseline
    table); prints the time."""
    res = MaliciousResults(
        profile=nb.profile, corpus=nb.corpus, seed=nb.seed, seeds=list(s.bs), threads=nb.threads,
        targets={n: {"lines": t.full[n].source_lines, "dropped_oov": len(t.full[n].dropped_oov),
                     "used": len(t.used[n].sentences)} for n in LIST_NAMES},
        **records, verdicts=[v.__dict__ for v in verdict_list], no_fwa_history=f1.no_fwa.history, nbest_overlap=overlap,
        word_nll={"malicious": f1.malicious, "test_data": f1.test_data}, timing=s.timing, seconds=nb.seconds(),
        provenance=nb.provenance(s.b.run_dir))
    res.write(nb.reports_dir)
    g = s.gcfg
    reports.write_table(table3(nb, records), f"table3_{nb.corpus}", nb.reports_dir,
                        title=f"Table 3 ({nb.corpus}, profile {nb.profile}): malicious-target hit rates and PPL",
                        note=f"ours: % mean [95 % interval across the baselines the row ran on, Student t] (paper %); "
                             f"baselines: seeds {list(s.bs)}; {len(t.used['train'].sentences)} train / "
                             f"{len(t.used['test'].sentences)} test targets, gibbs-enum T={g.sweeps} G={g.candidates} "
                             f"restarts={g.restarts}, {s.mcfg.iterations} iterations; hit rates measured by attacks from "
                             f"seed {malicious.EVALUATION_SEED_OFFSET} + the baseline's (Algorithm 1's searches: the "
                             "baseline's seed); last row: warm start + stop-when-hit ablation.\n\n"
                             + verdicts_markdown(records, verdict_list) + "\n\nEach baseline:\n\n"
                             + display.markdown(table3_per_baseline(records)))
    print(f"notebook 03 took {res.seconds:.0f} s on {nb.threads} thread(s)")
    for step, sec in s.timing.items():     # where the time went
        print(f"  {step}: {sec:.1f} s")
    return res


def findings(nb: NotebookRun, s: Setup, t: Targets, base: dict, verdict_list: list, f1: Figure1, overlap: dict) -> str:
    """What this run found, beside §4.2's claims, in words."""
    counts, g = Counter(v.outcome for v in verdict_list), s.gcfg
    lines = [f"{nb.corpus}, profile {nb.profile}, {len(s.bs)} baseline(s) (seeds {list(s.bs)}): "
             f"{len(t.used['train'].sentences)} training / {len(t.used['test'].sentences)} test targets; gibbs-enum "
             f"T={g.sweeps}, G={g.candidates}, {g.restarts} restart(s); {s.mcfg.iterations} iteration(s) of Algorithm 1"]
    lines += [f"- baseline seed {seed} {ht}: train list {_rate(by_list['train'][ht])}, test list {_rate(by_list['test'][ht])}"
              for seed, by_list in base.items() for ht in s.hit_types]
    lines.append(f"- §4.2's claims, {len(verdict_list)} tests across baselines: " + ", ".join(
        f"{counts[o]} {o}" for o in (HOLDS, FAILS, INCONCLUSIVE)))
    lines += ["  " + v.markdown() for v in verdict_list if v.outcome != INCONCLUSIVE]
    lines.append(f"- Figure 1 (baseline seed {s.seed}), mean word NLL on the plotted malicious targets: "
                 + ", ".join(f"{name} {v:.2f} nats" for name, v in mean_word_nll(f1).items()))
    lines.append(f"- beam search after negative training (baseline seed {s.seed}): " + ", ".join(
        f"{name} keeps {100 * v:.1f} % of the baseline's {nb.P.decode.beam_size}-best lists" for name, v in overlap.items())
        + " (paper, 10-best: more than 90 %)")
    return "\n".join(lines)
