"""Negative losses compared on the paper's two problems, and what they cost the model (beyond the paper).

He & Glass (2020) push a model away from bad outputs with the negative log-likelihood (eq. 3).
Later work proposed other negative losses: token unlikelihood (Welleck et al. 2020), CRINGE (Adolphs et al.
2022) and, from LLM unlearning, NPO (Zhang et al. 2024; against a frozen copy of the baseline) and SimNPO (Fan et
al. 2024); :mod:`ntlib.methods.negative_losses` has all five behind one interface. This module
runs each of them through both of the paper's algorithms from EACH of the profile's independently trained
baselines (``Profile.baselines``; every run seeded with its baseline's seed, so a verdict about a loss must
survive retraining the baseline), with everything else equal — same targets and triggers, same searches,
same data stream, same number of mini-batches, same learning rates — and measures:

* **the malicious problem** (Algorithm 1, :func:`run_malicious`): training- and test-list hit rates
  after training (per-target hits, paired with the hits of the baseline the model was trained from, on the
  same targets and that baseline's evaluation search — a seed apart from every training search: exact
  McNemar / binomial per baseline, as notebook 03), test PPL, and the **collateral damage**: for each
  training target, benign near-neighbours (one word replaced, :func:`benign_neighbours`) and the change of
  their average word log-probability given the target's trigger on that baseline, beside the target's own;
* **the frequent problem** (Algorithm 2, :func:`run_frequent`): Table 4's and 9's columns
  (max-ratio, Ent-2/3, BLEU-4, distinct-n, seq-rep-4, PPL) of greedy test responses, as notebook 04.

:class:`CompareLossesConfig` is the stage's config (presets ``smoke``, ``small``, ``paper``:
:func:`compare_config`); the results schema is documented at :class:`NegativeLossesResults`.
Shown in notebooks/07_negative_losses.ipynb — an opt-in stage (``make compare-losses``).
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import ClassVar

import pandas as pd

from ntlib.data.targets import load_targets
from ntlib.methods import evaluate, frequent, malicious
from ntlib.methods.collateral import benign_neighbours, collateral, malicious_words
from ntlib.methods.hits import Thresholds, thresholds
from ntlib.methods.negative_losses import NEGATIVE_LOSSES
from ntlib.results import reports
from ntlib.results.loss_tables import interval_cell, loss_comparison, loss_summary, tradeoff_figure
from ntlib.results.loss_verdicts import loss_verdicts
from ntlib.results.stats import FAILS, HOLDS, INCONCLUSIVE
from ntlib.results.tables import seed_table
from ntlib.results.verdicts import verdict_markdown
from ntlib.run.config import HIT_TYPES, TRAINING_LISTS, Profile, override
from ntlib.run.params import NotebookRun
from ntlib.run.rules import Checked, boolean, choice, integer, number, registered, tuple_of
from ntlib.stages import StageResults
from ntlib.stages.baselines import OnEachBaseline, by_seed


@dataclass(frozen=True)
class CompareLossesConfig(Checked):
    """Notebook 07: which losses and how much of each algorithm (None: the profile's). Every loss is trained
    once from each of the profile's baselines (``Profile.baselines``), seeded with that baseline's seed."""
    losses: tuple[str, ...] = ("nll", "unlikelihood", "cringe", "npo", "simnpo")
    training_list: str = "train"      # the malicious training list (Table 3's 0.5k)
    hit_type: str | None = None       # None: the profile's first Table 3 hit type
    iterations: int | None = None     # Algorithm 1 iterations (None: MaliciousConfig.iterations)
    max_targets: int | None = None    # targets of each list (None: MaliciousConfig.max_targets)
    neighbours: int = 3               # benign near-neighbours per malicious target (collateral damage)
    neighbour_pool: int = 50          # replacement words: the most frequent content words of the vocabulary
    r_thres: float | None = None      # Algorithm 2 threshold (None: the corpus's smaller one, Table 4)
    frequent_passes: float | None = None   # Algorithm 2 passes (None: FrequentConfig.passes)
    frequent: bool = True             # run the frequent problem
    malicious: bool = True            # run the malicious problem

    _RULES: ClassVar[dict] = {
        "losses": tuple_of(registered(NEGATIVE_LOSSES, "negative loss (ntlib.methods.negative_losses)")),
        "training_list": choice(TRAINING_LISTS),
        "hit_type": choice(tuple(h for h in HIT_TYPES if h != "o_greedy"), none=True),
        "iterations": integer(1, none=True), "max_targets": integer(1, none=True), "neighbours": integer(1),
        "neighbour_pool": integer(1), "r_thres": number(0, 1, lo_open=True, none=True),
        "frequent_passes": number(0, lo_open=True, none=True), "frequent": boolean, "malicious": boolean}


COMPARE_PRESETS = {
    # tests: a handful of targets on the smoke profile's 2 baselines
    "smoke": CompareLossesConfig(max_targets=8, neighbours=2, neighbour_pool=20),
    # ≈ 15 min per baseline on 2 cores with cached baselines and 3 losses (5: ≈ 5/3 of it, not measured); one list, one
    # hit type, one iteration of Algorithm 1 on 50 targets (+ 50 test targets), Algorithm 2 at 1 % with the
    # small profile's 0.05 passes
    "small": CompareLossesConfig(iterations=1, max_targets=50),
    # the paper's sizes: every target, the profile's iterations and passes
    "paper": CompareLossesConfig(),
}


def compare_config(profile: str, **fields) -> CompareLossesConfig:
    """The stage's preset for ``profile`` (``fields`` override it); a profile without one is an error."""
    if profile not in COMPARE_PRESETS:
        raise ValueError(f"notebook 07 has no preset for profile {profile!r}; presets: {sorted(COMPARE_PRESETS)} "
                         "(ntlib.stages.losses_compared.COMPARE_PRESETS)")
    return override(COMPARE_PRESETS[profile], **fields) if fields else COMPARE_PRESETS[profile]


def resolved(ccfg: CompareLossesConfig, P: Profile, corpus: str) -> dict:
    """The settings actually run, the profile's where ``ccfg`` says None."""
    return {"hit_type": ccfg.hit_type or P.malicious.hit_types[0],
            "iterations": ccfg.iterations or P.malicious.iterations,
            "max_targets": ccfg.max_targets if ccfg.max_targets is not None else P.malicious.max_targets,
            "r_thres": ccfg.r_thres if ccfg.r_thres is not None else min(P.frequent.sweep),
            "frequent_passes": ccfg.frequent_passes or P.frequent.passes}


# -- the two problems -----------------------------------------------------------------------------------
def search_seeds(seeds: list[int]) -> dict:
    """{baseline seed: {"training": seed of Algorithm 1's searches (the baseline's), "evaluation": seed of the
    attacks that measure hit rates, :func:`ntlib.methods.malicious.evaluation_seed`}}: an attack after training
    must not replay the random starts of the searches the model was trained on, so no evaluation seed may be
    any baseline's training seed (a ValueError)."""
    out = {seed: {"training": seed, "evaluation": malicious.evaluation_seed(seed)} for seed in seeds}
    clash = {v["evaluation"] for v in out.values()} & set(seeds)
    if clash:
        raise ValueError(f"evaluation search seed(s) {sorted(clash)} are also training seeds: choose baseline seeds "
                         f"below {malicious.EVALUATION_SEED_OFFSET}")
    return out


def run_malicious(bs: list, P: Profile, ccfg: CompareLossesConfig, corpus: str, seed: int, thr: dict,
                  data_dir=None, progress: bool = True) -> dict:
    """Algorithm 1 with every loss of ``ccfg`` from every baseline of ``bs`` (seeded with its seed), on the same
    targets and benign neighbours (sampled with ``seed``). Each baseline has its thresholds (``thr``: {seed:
    Thresholds}) and its evaluation search (:func:`search_seeds`), which measures its hits and, after training,
    those of every model trained from it on the training and test lists; collateral damage given its triggers.
    Returns the ``malicious`` part of the results (:class:`NegativeLossesResults`)."""
    s = resolved(ccfg, P, corpus)
    ht, crop, vocab = s["hit_type"], P.data.max_tgt_len, bs[0].data.vocab
    seeds = search_seeds([b.seed for b in bs])
    lists = {split: load_targets(name, vocab, data_dir, max_targets=s["max_targets"], seed=seed, max_len=crop)
             for split, name in (("train", ccfg.training_list), ("test", "test"))}
    nb = benign_neighbours(lists["train"].sentences, vocab, malicious_words(data_dir), ccfg.neighbours,
                           ccfg.neighbour_pool, seed, crop)
    out = {"hit_type": ht, "training_list": ccfg.training_list, "iterations": s["iterations"],
           "targets": {split: len(lists[split].sentences) for split in lists},
           "neighbours": {"per_target": ccfg.neighbours, "pool": ccfg.neighbour_pool, "n": len(nb.sentences),
                          "examples": nb.examples(8)},
           "baseline": [], "runs": {loss: [] for loss in ccfg.losses}, "seconds": {}}
    for b in bs:
        t0 = time.time()
        geval = override(P.gibbs, seed=seeds[b.seed]["evaluation"])
        base = {split: malicious.evaluate_hits(b.seq2seq, b.lm, lists[split].tensor, thr[b.seed], (ht,), geval)[ht]
                for split in lists}
        out["baseline"].append({"seed": b.seed, "search_seeds": {"evaluation": geval.seed},
                                "thresholds": {"t_out": thr[b.seed].t_out, "t_in": thr[b.seed].t_in},
                                "train": malicious.hit_record(base["train"]), "test": malicious.hit_record(base["test"]),
                                "ppl": evaluate.perplexity(b.seq2seq, b.data.test)["ppl"]})
        out["seconds"][f"baseline seed {b.seed}"] = time.time() - t0
        for loss in ccfg.losses:
            t0 = time.time()
            run = _malicious_run(b, P, lists, thr[b.seed], ht, s["iterations"], loss, geval,
                                 base["train"]["triggers"], nb, progress)
            out["runs"][loss].append({**run, "seconds": time.time() - t0})
    return out


def _malicious_run(b, P: Profile, lists: dict, thr: Thresholds, ht: str, iterations: int, loss: str, geval,
                   triggers, nb, progress: bool) -> dict:
    """One loss's Algorithm 1 from baseline ``b`` (its seed for Algorithm 1 and its searches), then the model
    attacked by the baseline's evaluation search ``geval``; collateral damage given the baseline's triggers."""
    mcfg = override(P.malicious, seed=b.seed, iterations=iterations)
    gtrain = override(P.gibbs, seed=b.seed)
    res = malicious.negative_train(b.seq2seq, b.lm, lists["train"].tensor, b.data.train, thr, ht, b.data.vocab, mcfg,
                                   gtrain, progress=progress, negative_loss=loss)
    after = {split: malicious.evaluate_hits(res.model, b.lm, lists[split].tensor, thr, (ht,), geval)[ht]
             for split in lists}
    return {"seed": b.seed, "search_seeds": {"training": gtrain.seed, "evaluation": geval.seed},
            "train": malicious.hit_record(after["train"]), "test": malicious.hit_record(after["test"]),
            "ppl": evaluate.perplexity(res.model, b.data.test)["ppl"],
            "collateral": collateral(b.seq2seq, res.model, triggers, lists["train"].tensor, nb),
            "neg_updates": sum(h["neg_updates"] for h in res.history),
            "rounds": sum(h["rounds"] for h in res.history), "history": res.history}


def run_frequent(bs: list, P: Profile, ccfg: CompareLossesConfig, corpus: str, seed: int, profile: str,
                 progress: bool = True) -> dict:
    """Algorithm 2 with every loss of ``ccfg`` from every baseline of ``bs`` at one threshold, each the same
    FrequentConfig but for ``negative_loss`` (seeded with the baseline's seed: same data stream, same
    mini-batches), cached in that baseline's run folder as notebook 04's models (the nll models are notebook
    04's when it ran); Table 4 / 9 rows of greedy responses to the one evaluation set, a record per baseline
    (``seed``: the baseline's). Returns the ``frequent`` part of the results (:class:`NegativeLossesResults`)."""
    s = resolved(ccfg, P, corpus)
    data, max_len = bs[0].data, P.decode.max_len
    ev = evaluate.eval_set(data, P.decode.max_eval_inputs)
    meta = evaluate.provenance(profile, corpus, seed, ev)
    raw_refs = evaluate.raw_references(data.corpus.test, P.data)
    rows = {"Test-set": [evaluate.test_set_row(ev, data.vocab, meta)], "Baseline": [],
            **{loss: [] for loss in ccfg.losses}}
    seconds, histories = {}, {}
    for b in bs:
        t0 = time.time()
        rows["Baseline"].append(evaluate.table4_row(b.seq2seq, b.data, ev, max_len, {**meta, "seed": b.seed}, raw_refs))
        seconds[f"baseline seed {b.seed}"] = time.time() - t0
        for loss in ccfg.losses:
            t0 = time.time()
            cfg = override(P.frequent, seed=b.seed, r_thres=s["r_thres"], passes=s["frequent_passes"],
                           negative_loss=loss)
            m, histories[f"{loss} seed={b.seed}"] = frequent.negative_train_cached(b.seq2seq, b.data, cfg, b.run_dir,
                                                                                  max_len, progress)
            row = evaluate.table4_row(m, b.data, ev, max_len, {**meta, "seed": b.seed}, raw_refs)
            rows[loss].append({**row, "r_thres": s["r_thres"], "negative_loss": loss})
            seconds[f"{loss} seed {b.seed}"] = time.time() - t0
    return {"r_thres": s["r_thres"], "passes": s["frequent_passes"], "rows": rows, "histories": histories,
            "seconds": seconds}


# -- notebook 07, one call per cell ------------------------------------------------------------------------
@dataclass
class NegativeLossesResults(StageResults):
    """``results/negative_losses_<corpus>.json``: the settings that ran, per problem the runs of every loss from
    every baseline, and the verdicts; a problem not run is left out. ``seed``: the first baseline's (it samples
    the targets and neighbours); ``seeds``: the baselines'. Schema:

    * ``malicious``: ``hit_type``, ``training_list``, ``iterations``, ``targets`` {train, test: n},
      ``baseline`` [per baseline, in seed order: seed, search_seeds {evaluation}, thresholds {t_out, t_in},
      train, test (hit records: k, n, rate, lo, hi, hits per target), ppl], ``runs`` {loss: [per baseline:
      seed, search_seeds {training, evaluation}, train, test (hit records on the same targets, by that
      baseline's evaluation search), ppl, collateral {neighbours, targets, ratio, *_per_item}, neg_updates,
      rounds, history, seconds]}, ``neighbours`` {per_target, pool, n, examples}, ``seconds``;
    * ``frequent``: ``r_thres``, ``passes``, ``rows`` {"Test-set": [row record], "Baseline": [a row record
      per baseline], loss: [a row record per baseline]} (``seed``: the baseline's), ``histories`` {"<loss>
      seed=<seed>": history}, ``seconds``.
    """
    RESULTS = "negative_losses"
    profile: str
    corpus: str
    seed: int
    seeds: list
    config: dict
    settings: dict
    seconds: float
    provenance: dict
    verdicts: list
    malicious: dict | None = None
    frequent: dict | None = None

    def as_dict(self) -> dict:
        return {k: v for k, v in super().as_dict().items() if v is not None or k not in ("malicious", "frequent")}


@dataclass
class Setup(OnEachBaseline):
    """Notebook 07's config (its profile's preset), the settings resolved against the profile, the baselines
    ({seed: :class:`ntlib.run.pipeline.Baselines`}) and each one's thresholds ({seed: Thresholds})."""
    ccfg: CompareLossesConfig
    settings: dict
    bs: dict
    thr: dict = field(default_factory=dict)



def setup(nb: NotebookRun) -> Setup:
    """The preset of ``nb``'s profile and every baseline of the profile, trained or loaded."""
    ccfg = compare_config(nb.profile)
    bs = by_seed(nb)
    return Setup(ccfg, resolved(ccfg, nb.P, nb.corpus), bs)


def settings_table(s: Setup) -> pd.DataFrame:
    seeds = search_seeds(s.seeds)
    return pd.Series({**s.ccfg.__dict__, **s.settings, "baselines (seeds)": s.seeds,
                      "evaluation search seeds": [v["evaluation"] for v in seeds.values()]},
                     name="notebook 07 settings").to_frame()


def hit_thresholds(s: Setup) -> pd.DataFrame:
    """T_out / T_in (§3.2) of each baseline, as notebook 03."""
    s.thr = {seed: thresholds(b.seq2seq, b.lm, b.data.test) for seed, b in s.bs.items()}
    return pd.DataFrame({f"baseline seed {seed}": [thr.t_out, thr.t_in] for seed, thr in s.thr.items()},
                        index=["T_out (seq2seq)", "T_in (LM)"])


def malicious_problem(nb: NotebookRun, s: Setup) -> dict | None:
    """:func:`run_malicious` with every loss from every baseline (None when the preset leaves the problem out);
    prints each baseline's hits."""
    if not s.ccfg.malicious:
        print("malicious problem not run")
        return None
    mal = run_malicious(list(s.bs.values()), nb.P, s.ccfg, nb.corpus, nb.seed, s.thr, data_dir=nb.data_dir)
    for b in mal["baseline"]:
        print(f"baseline seed {b['seed']} (evaluation search seed {b['search_seeds']['evaluation']}): train "
              f"{b['train']['k']}/{b['train']['n']}, test {b['test']['k']}/{b['test']['n']} ({mal['hit_type']}), "
              f"PPL {b['ppl']:.2f}")
    return mal


def malicious_runs_table(mal: dict | None) -> pd.DataFrame | None:
    """Each baseline, then each loss trained from it: hits on the training and test lists, PPL, negative updates."""
    if not mal:
        return None
    rows = {f"baseline seed {b['seed']}": {"train hits": f"{b['train']['k']}/{b['train']['n']}",
                                           "test hits": f"{b['test']['k']}/{b['test']['n']}",
                                           "PPL": round(b["ppl"], 2), "negative updates": "–"}
            for b in mal["baseline"]}
    rows.update({f"{loss}, baseline seed {r['seed']}": {"train hits": f"{r['train']['k']}/{r['train']['n']}",
                                                        "test hits": f"{r['test']['k']}/{r['test']['n']}",
                                                        "PPL": round(r["ppl"], 2), "negative updates": r["neg_updates"]}
                 for loss, runs in mal["runs"].items() for r in runs})
    return pd.DataFrame(rows).T


def neighbour_examples(mal: dict | None) -> pd.DataFrame | None:
    return pd.DataFrame(mal["neighbours"]["examples"]) if mal else None


def frequent_problem(nb: NotebookRun, s: Setup) -> dict | None:
    """:func:`run_frequent` with every loss from every baseline (None when the preset leaves the problem out)."""
    return run_frequent(list(s.bs.values()), nb.P, s.ccfg, nb.corpus, nb.seed, nb.profile) if s.ccfg.frequent else None


def frequent_seed_table(freq: dict | None) -> pd.DataFrame | None:
    """Each baseline's value of the Baseline row and of every loss, their mean and 95 % interval across baselines."""
    return seed_table({k: v for k, v in freq["rows"].items() if k != "Test-set"}) if freq else None


def results(nb: NotebookRun, s: Setup, mal: dict | None, freq: dict | None) -> NegativeLossesResults:
    """The results so far (their verdicts are :func:`verdicts`; written by :func:`write_reports`)."""
    return NegativeLossesResults(profile=nb.profile, corpus=nb.corpus, seed=nb.seed, seeds=s.seeds,
                                 config=s.ccfg.__dict__, settings=s.settings, seconds=0.0, provenance={}, verdicts=[],
                                 malicious=mal, frequent=freq)


def comparison_table(res: NegativeLossesResults) -> pd.DataFrame:
    return loss_comparison(res.as_dict())


def verdicts(res: NegativeLossesResults) -> list:
    """Notebook 07's claims, each with its test (:func:`ntlib.results.loss_verdicts.loss_verdicts`)."""
    return loss_verdicts(res.as_dict())


def verdicts_markdown(verdict_list: list) -> str:
    return verdict_markdown(verdict_list)


def figure(nb: NotebookRun, res: NegativeLossesResults):
    """The trade-off figure, saved as ``negative_losses_tradeoff_<corpus>``."""
    fig = tradeoff_figure(res.as_dict())
    reports.save_figure(fig, f"negative_losses_tradeoff_{nb.corpus}", nb.reports_dir)
    return fig


def _baselines_phrase(seeds: list) -> str:
    return f"{len(seeds)} baseline{'s' if len(seeds) != 1 else ''} (seeds {', '.join(map(str, seeds))})"


def write_reports(nb: NotebookRun, s: Setup, res: NegativeLossesResults, verdict_list: list) -> NegativeLossesResults:
    """``results/negative_losses_<corpus>.json`` and the comparison table (markdown + CSV, with the verdicts)."""
    res.seconds, res.provenance = nb.seconds(), nb.provenance(s.b.run_dir)
    res.verdicts = [v.__dict__ for v in verdict_list]
    res.write(nb.reports_dir)
    mal, st = res.malicious, s.settings
    note = (f"Every loss trained once from each of {_baselines_phrase(s.seeds)}, seeded with its seed. Algorithm 1: "
            f"{st['iterations']} iteration(s) on {mal['targets']['train'] if mal else 0} {s.ccfg.training_list} "
            f"targets, {st['hit_type']}, hits searched afresh on {mal['targets']['test'] if mal else 0} test targets "
            f"by each baseline's evaluation search (seed {malicious.EVALUATION_SEED_OFFSET} + the baseline's; "
            f"Algorithm 1's searches: the baseline's seed); Algorithm 2: r_thres {st['r_thres']:g}, "
            f"{st['frequent_passes']:g} passes. Mean [95 % interval across baselines]; changes measured against "
            "the baseline each model was trained from.\n\n" + verdict_markdown(verdict_list))
    reports.write_table(comparison_table(res), f"negative_losses_{nb.corpus}", nb.reports_dir,
                        title=f"Negative losses compared ({nb.corpus}, {nb.profile}): both problems, cost and "
                              "collateral damage", note=note)
    print(f"notebook 07 took {res.seconds:.0f} s on {nb.threads} thread(s)")
    return res


def findings(res: NegativeLossesResults, verdict_list: list) -> str:
    """Per loss, what bought what at which cost, in words (means [95 % interval across baselines]; the verdicts
    decide)."""
    summ, counts = loss_summary(res.as_dict()), Counter(v.outcome for v in verdict_list)
    lines = [f"{res.corpus}, profile {res.profile}, {_baselines_phrase(res.seeds)}: {len(verdict_list)} claims "
             "tested: " + ", ".join(f"{counts[o]} {o}" for o in (HOLDS, FAILS, INCONCLUSIVE))]
    for problem, what in (("malicious", "training-list hit rate"), ("frequent", "max-ratio")):
        part = summ.get(problem)
        if not part:
            continue
        lines.append(f"- {problem} problem, {what} (baselines {interval_cell(part['baseline']['y'], scale=100)} %):")
        lines += [f"  {loss}: {interval_cell(r['y'], scale=100)} %, PPL change "
                  f"{interval_cell(r['ppl_change'], '{:+.1f}', 100)} %"
                  + (f", neighbours Δ log p {interval_cell(r['neighbours'], '{:+.3f}')} (targets "
                     f"{interval_cell(r['targets'], '{:+.3f}')})" if "neighbours" in r else "")
                  for loss, r in part["losses"].items()]
    lines += ["  " + v.markdown() for v in verdict_list if v.outcome != INCONCLUSIVE]
    return "\n".join(lines)
