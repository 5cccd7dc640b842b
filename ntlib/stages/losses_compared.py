"""Negative losses compared on the paper's two problems, and what they cost the model (beyond the paper).

He & Glass (2020) push a model away from bad outputs with the negative log-likelihood (eq. 3).
Later work proposed other negative losses: token unlikelihood (Welleck et al. 2020) and CRINGE
(Adolphs et al. 2022); :mod:`ntlib.methods.negative_losses` has all three behind one interface. This module
runs each of them through both of the paper's algorithms with everything else equal — same baseline,
same targets and triggers, same seeds, same data stream, same number of mini-batches, same learning
rates — and measures:

* **the malicious problem** (Algorithm 1, :func:`run_malicious`): training- and test-list hit rates
  after training (per-target hits, paired with the baseline's on the same targets and the same
  evaluation search: exact McNemar / binomial verdicts, as notebook 03), test PPL, and the
  **collateral damage**: for each training target, benign near-neighbours (one word replaced,
  :func:`benign_neighbours`) and the change of their average word log-probability given the
  target's baseline trigger, beside the target's own change;
* **the frequent problem** (Algorithm 2, :func:`run_frequent`): Table 4's and 9's columns
  (max-ratio, Ent-2/3, BLEU-4, distinct-n, seq-rep-4, PPL) of greedy test responses, as notebook 04.

:class:`CompareLossesConfig` is the stage's config (presets ``smoke``, ``small``, ``paper``:
:func:`compare_config`); the results schema is documented at :func:`loss_comparison`.
Shown in notebooks/07_negative_losses.ipynb — an opt-in stage (``make compare-losses``).
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass

import pandas as pd

from ntlib.data.targets import load_targets
from ntlib.methods import evaluate, frequent, malicious
from ntlib.methods.collateral import benign_neighbours, collateral, malicious_words
from ntlib.methods.gibbs_enum import Thresholds, thresholds
from ntlib.methods.negative_losses import NEGATIVE_LOSSES
from ntlib.results import reports
from ntlib.results.loss_tables import loss_comparison, loss_summary, tradeoff_figure
from ntlib.results.loss_verdicts import loss_verdicts
from ntlib.results.stats import FAILS, HOLDS, INCONCLUSIVE
from ntlib.results.tables import seed_table
from ntlib.results.verdicts import verdict_markdown
from ntlib.run import pipeline
from ntlib.run.config import HIT_TYPES, TRAINING_LISTS, Profile, override
from ntlib.run.params import NotebookRun
from ntlib.run.rules import Checked, boolean, choice, integer, number, registered, tuple_of
from ntlib.stages import StageResults


@dataclass(frozen=True)
class CompareLossesConfig(Checked):
    """Notebook 07: which losses, how many seeds, and how much of each algorithm (None: the profile's)."""
    losses: tuple[str, ...] = ("nll", "unlikelihood", "cringe")
    seeds: int = 3                    # seeds seed, seed+1, ...: every loss trained once per seed
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

    _RULES = dict(losses=tuple_of(registered(NEGATIVE_LOSSES, "negative loss (ntlib.methods.negative_losses)")),
                  seeds=integer(1), training_list=choice(TRAINING_LISTS),
                  hit_type=choice(tuple(h for h in HIT_TYPES if h != "o_greedy"), none=True),
                  iterations=integer(1, none=True), max_targets=integer(1, none=True), neighbours=integer(1),
                  neighbour_pool=integer(1), r_thres=number(0, 1, lo_open=True, none=True),
                  frequent_passes=number(0, lo_open=True, none=True), frequent=boolean, malicious=boolean)


COMPARE_PRESETS = {
    # tests: 2 seeds, a handful of targets (the smoke profile's own sizes)
    "smoke": CompareLossesConfig(seeds=2, max_targets=8, neighbours=2, neighbour_pool=20),
    # ≤ 15 min on 2 cores with cached baselines: one training list, one hit type, one iteration of
    # Algorithm 1 on 50 targets (+ 50 test targets), Algorithm 2 at 1 % with the small profile's 0.05 passes
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
def _record(r: dict) -> dict:
    """A hit-rate result without its triggers; hits as a list (the unit of the paired tests)."""
    return {k: (v.int().tolist() if k == "hits" else v) for k, v in r.items() if k != "triggers"}


def run_malicious(b, P: Profile, ccfg: CompareLossesConfig, corpus: str, seed: int, thr: Thresholds,
                  data_dir=None, progress: bool = True) -> dict:
    """Algorithm 1 with every loss of ``ccfg`` and every seed, on the same targets, evaluated by the same
    search (GibbsConfig seed ``seed``, as notebook 03) on the training and test lists; collateral damage
    on the training targets' benign neighbours given the baseline's triggers. Returns the ``malicious``
    part of the results (:func:`loss_comparison`)."""
    s = resolved(ccfg, P, corpus)
    ht, crop = s["hit_type"], P.data.max_tgt_len
    vocab = b.data.vocab
    lists = {split: load_targets(name, vocab, data_dir, max_targets=s["max_targets"], seed=seed, max_len=crop)
             for split, name in (("train", ccfg.training_list), ("test", "test"))}
    geval = override(P.gibbs, seed=seed)
    t0 = time.time()
    base = {split: malicious.evaluate_hits(b.seq2seq, b.lm, lists[split].tensor, thr, (ht,), geval)[ht] for split in lists}
    base_ppl = evaluate.perplexity(b.seq2seq, b.data.test)["ppl"]
    nb = benign_neighbours(lists["train"].sentences, vocab, malicious_words(data_dir), ccfg.neighbours,
                           ccfg.neighbour_pool, seed, crop)
    triggers = base["train"]["triggers"]
    out = {"hit_type": ht, "training_list": ccfg.training_list, "iterations": s["iterations"],
           "targets": {split: len(lists[split].sentences) for split in lists},
           "baseline": {"train": _record(base["train"]), "test": _record(base["test"]), "ppl": base_ppl},
           "neighbours": {"per_target": ccfg.neighbours, "pool": ccfg.neighbour_pool, "n": len(nb.sentences),
                          "examples": nb.examples(8)},
           "runs": {}, "seconds": {"baseline": time.time() - t0}}
    for loss in ccfg.losses:
        out["runs"][loss] = []
        for sd in (seed + i for i in range(ccfg.seeds)):
            t0 = time.time()
            mcfg = override(P.malicious, seed=sd, iterations=s["iterations"])
            res = malicious.negative_train(b.seq2seq, b.lm, lists["train"].tensor, b.data.train, thr, ht, vocab, mcfg,
                                   override(P.gibbs, seed=sd), progress=progress, negative_loss=loss)
            after = {split: malicious.evaluate_hits(res.model, b.lm, lists[split].tensor, thr, (ht,), geval)[ht]
                     for split in lists}
            out["runs"][loss].append({
                "seed": sd, "train": _record(after["train"]), "test": _record(after["test"]),
                "ppl": evaluate.perplexity(res.model, b.data.test)["ppl"],
                "collateral": collateral(b.seq2seq, res.model, triggers, lists["train"].tensor, nb),
                "neg_updates": sum(h["neg_updates"] for h in res.history),
                "rounds": sum(h["rounds"] for h in res.history), "history": res.history,
                "seconds": time.time() - t0})
    return out


def run_frequent(b, P: Profile, ccfg: CompareLossesConfig, corpus: str, seed: int, profile: str,
                 progress: bool = True) -> dict:
    """Algorithm 2 with every loss of ``ccfg`` and every seed at one threshold, each the same
    FrequentConfig but for ``negative_loss`` (same data stream, same mini-batches), cached in the
    baselines' run folder as notebook 04's models (the nll models are notebook 04's when it ran);
    Table 4 / 9 rows of greedy responses to the one evaluation set. Returns the ``frequent`` part of the
    results (:func:`loss_comparison`)."""
    s = resolved(ccfg, P, corpus)
    vocab, test, max_len, n_eval = b.data.vocab, b.data.test, P.decode.max_len, P.decode.max_eval_inputs
    sub = evaluate.eval_set(test, n_eval)
    meta = evaluate.provenance(profile, corpus, seed, sub)
    raw_refs = evaluate.raw_references(b.data.corpus.test, P.data)
    t0 = time.time()
    rows = {"Test-set": [evaluate.test_set_row(sub, vocab, meta)],
            "Baseline": [evaluate.table4_row(b.seq2seq, test, vocab, max_len, n_eval, meta, raw_refs)]}
    seconds = {"baseline": time.time() - t0}
    histories = {}
    for loss in ccfg.losses:
        rows[loss] = []
        t0 = time.time()
        for sd in (seed + i for i in range(ccfg.seeds)):
            cfg = override(P.frequent, seed=sd, r_thres=s["r_thres"], passes=s["frequent_passes"], negative_loss=loss)
            m, histories[f"{loss} seed={sd}"] = frequent.negative_train_cached(b.seq2seq, b.data, cfg, b.run_dir, max_len,
                                                                         progress)
            row = evaluate.table4_row(m, test, vocab, max_len, n_eval, {**meta, "seed": sd}, raw_refs)
            rows[loss].append({**row, "r_thres": s["r_thres"], "negative_loss": loss})
        seconds[loss] = time.time() - t0
    return {"r_thres": s["r_thres"], "passes": s["frequent_passes"], "rows": rows, "histories": histories,
            "seconds": seconds}


# -- notebook 07, one call per cell ------------------------------------------------------------------------
@dataclass
class NegativeLossesResults(StageResults):
    """``results/negative_losses_<corpus>.json``: the settings that ran, per problem the runs of every loss
    and seed (``malicious``: hit records, PPL, collateral damage; ``frequent``: Table 4 / 9 row records),
    and the verdicts. A problem not run is left out."""
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
class Setup:
    """Notebook 07's config (its profile's preset), the settings resolved against the profile, the seeds
    and the baselines."""
    ccfg: CompareLossesConfig
    settings: dict
    seeds: list
    b: object
    thr: Thresholds = None


def setup(nb: NotebookRun) -> Setup:
    ccfg = compare_config(nb.profile)
    b = pipeline.baselines(nb.P, run_root=nb.run_root, data_dir=nb.data_dir, device=nb.device)
    return Setup(ccfg, resolved(ccfg, nb.P, nb.corpus), [nb.seed + i for i in range(ccfg.seeds)], b)


def settings_table(s: Setup) -> pd.DataFrame:
    return pd.Series({**s.ccfg.__dict__, **s.settings, "seeds run": s.seeds}, name="notebook 07 settings").to_frame()


def hit_thresholds(s: Setup) -> pd.DataFrame:
    """T_out / T_in (§3.2), as notebook 03."""
    s.thr = thresholds(s.b.seq2seq, s.b.lm, s.b.data.test)
    return pd.DataFrame({"value": [s.thr.t_out, s.thr.t_in]}, index=["T_out (seq2seq)", "T_in (LM)"])


def malicious_problem(nb: NotebookRun, s: Setup) -> dict | None:
    """:func:`run_malicious` with every loss and seed (None when the preset leaves the problem out); prints
    the baseline's hits."""
    mal = run_malicious(s.b, nb.P, s.ccfg, nb.corpus, nb.seed, s.thr, data_dir=nb.data_dir) if s.ccfg.malicious else None
    print(f"baseline: train {mal['baseline']['train']['k']}/{mal['baseline']['train']['n']}, "
          f"test {mal['baseline']['test']['k']}/{mal['baseline']['test']['n']} ({mal['hit_type']}), "
          f"PPL {mal['baseline']['ppl']:.2f}" if mal else "malicious problem not run")
    return mal


def malicious_runs_table(mal: dict | None) -> pd.DataFrame | None:
    """Each loss and seed: hits on the training and test lists, PPL, negative updates."""
    if not mal:
        return None
    return pd.DataFrame({f"{loss} seed {r['seed']}": {"train hits": f"{r['train']['k']}/{r['train']['n']}",
                                                       "test hits": f"{r['test']['k']}/{r['test']['n']}",
                                                       "PPL": round(r["ppl"], 2), "negative updates": r["neg_updates"]}
                         for loss, runs in mal["runs"].items() for r in runs}).T


def neighbour_examples(mal: dict | None) -> pd.DataFrame | None:
    return pd.DataFrame(mal["neighbours"]["examples"]) if mal else None


def frequent_problem(nb: NotebookRun, s: Setup) -> dict | None:
    """:func:`run_frequent` with every loss and seed (None when the preset leaves the problem out)."""
    return run_frequent(s.b, nb.P, s.ccfg, nb.corpus, nb.seed, nb.profile) if s.ccfg.frequent else None


def frequent_seed_table(freq: dict | None) -> pd.DataFrame | None:
    return seed_table({k: v for k, v in freq["rows"].items() if k not in ("Test-set", "Baseline")}) if freq else None


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


def write_reports(nb: NotebookRun, s: Setup, res: NegativeLossesResults, verdict_list: list) -> NegativeLossesResults:
    """``results/negative_losses_<corpus>.json`` and the comparison table (markdown + CSV, with the verdicts)."""
    res.seconds, res.provenance = nb.seconds(), nb.provenance(s.b.run_dir)
    res.verdicts = [v.__dict__ for v in verdict_list]
    res.write(nb.reports_dir)
    mal, st = res.malicious, s.settings
    note = (f"Seeds {s.seeds}. Algorithm 1: {st['iterations']} iteration(s) on {mal['targets']['train'] if mal else 0} "
            f"{s.ccfg.training_list} targets, {st['hit_type']}, hits searched afresh on {mal['targets']['test'] if mal else 0} "
            f"test targets; Algorithm 2: r_thres {st['r_thres']:g}, {st['frequent_passes']:g} passes. Mean [95 % interval "
            "across seeds].\n\n" + verdict_markdown(verdict_list))
    reports.write_table(comparison_table(res), f"negative_losses_{nb.corpus}", nb.reports_dir,
                        title=f"Negative losses compared ({nb.corpus}, {nb.profile}): both problems, cost and collateral "
                              "damage", note=note)
    print(f"notebook 07 took {res.seconds:.0f} s on {nb.threads} thread(s)")
    return res


def findings(res: NegativeLossesResults, verdict_list: list) -> str:
    """Per loss, what bought what at which cost, in words (means across seeds; the verdicts decide)."""
    summ, counts = loss_summary(res.as_dict()), Counter(v.outcome for v in verdict_list)
    lines = [f"{res.corpus}, profile {res.profile}, seeds {res.seeds}: {len(verdict_list)} claims tested: "
             + ", ".join(f"{counts[o]} {o}" for o in (HOLDS, FAILS, INCONCLUSIVE))]
    for problem, what in (("malicious", "training-list hit rate"), ("frequent", "max-ratio")):
        part = summ.get(problem)
        if not part:
            continue
        lines.append(f"- {problem} problem, {what} (baseline {100 * part['baseline_y']:.1f} %):")
        lines += [f"  {loss}: {100 * r['y']['mean']:.1f} %, PPL change {100 * r['ppl_change']['mean']:+.1f} %"
                  + (f", neighbours Δ log p {r['neighbours']['mean']:+.3f} (targets {r['targets']['mean']:+.3f})"
                     if "neighbours" in r else "") for loss, r in part["losses"].items()]
    lines += ["  " + v.markdown() for v in verdict_list if v.outcome != INCONCLUSIVE]
    return "\n".join(lines)
