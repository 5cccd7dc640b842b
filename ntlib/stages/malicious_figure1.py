"""Figure 1 (App. D) and §4.2's 10-best check, on the first baseline of notebook 03 (its driver,
:mod:`ntlib.stages.malicious_response`, calls these): Algorithm 1 without frequent word avoiding, each word's NLL
before and after negative training, and the share of the baseline's 10-best lists the trained models keep.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from ntlib.methods import decode, malicious
from ntlib.results import figures, metrics, reports
from ntlib.run.config import override
from ntlib.run.params import NotebookRun

if TYPE_CHECKING:
    from ntlib.stages.malicious_response import Setup, Targets, Trained

FIGURE1_TARGETS = 4          # Figure 1: test-list targets (baseline hits first) and test samples plotted


@dataclass
class Figure1:
    """The no-FWA run and Figure 1's per-word NLLs of test-list targets and test samples, per model (first
    baseline)."""
    no_fwa: object
    models: dict
    malicious: dict
    test_data: dict
    picked: list


def no_fwa_and_word_nll(s: Setup, t: Targets, base: dict, tr: Trained) -> Figure1:
    """Algorithm 1 without frequent word avoiding (§4.2) on the first baseline, then each word's NLL (App. D)
    under the baseline, neg-train with FWA and without, on test-list targets given the baseline's triggers
    and on test samples."""
    ht0, b, seed = s.mcfg.hit_types[0], s.b, s.seed
    t0 = time.time()
    no_fwa = malicious.negative_train(b.seq2seq, b.lm, t.used["train"].tensor, b.data.train, s.thr[seed], ht0,
                                      b.data.vocab, override(s.mcfg, fwa=False), s.gcfg)
    s.timing["no-FWA run"] = time.time() - t0
    models = {"baseline": b.seq2seq, "neg-train (FWA)": tr.runs[seed, "train", ht0].model,
              "neg-train (no FWA)": no_fwa.model}
    bt = base[seed]["test"][ht0]
    pick = (bt["hits"].nonzero().squeeze(1).tolist() or list(range(len(t.used["test"].sentences))))[:FIGURE1_TARGETS]
    mal = {name: malicious.per_word_nll(m, bt["triggers"][pick], t.used["test"].tensor[pick], b.data.vocab)
           for name, m in models.items()}
    test = b.data.test
    dat = {name: malicious.per_word_nll(m, test.src[:FIGURE1_TARGETS], test.tgt[:FIGURE1_TARGETS], b.data.vocab)
           for name, m in models.items()}
    return Figure1(no_fwa, models, mal, dat, pick)


def figure1(nb: NotebookRun, s: Setup, base: dict, tr: Trained, f1: Figure1):
    """Figure 1: each word's NLL before / after negative training; saved as ``malicious_word_nll``. Prints
    the mean word NLL on the plotted targets and Algorithm 1's negative updates with and without FWA."""
    ht0 = s.mcfg.hit_types[0]
    n_mal = len(f1.picked)
    fig = figures.malicious_word_nll(f1.malicious, f1.test_data, corpus=nb.corpus, profile=nb.profile, hit_type=ht0)
    path = reports.save_figure(fig, f"malicious_word_nll_{nb.corpus}", nb.reports_dir)
    steps = {"neg-train (FWA)": tr.runs[s.seed, "train", ht0].history, "neg-train (no FWA)": f1.no_fwa.history}
    print(f"saved figures/{path.name} and its PDF twin (first baseline, seed {s.seed})")
    print(f"targets plotted: {n_mal}, of which the baseline hits "
          f"{int(base[s.seed]['test'][ht0]['hits'][f1.picked].sum())} ({ht0})")
    print("mean word NLL on them: " + ", ".join(f"{name} {v:.2f} nats" for name, v in mean_word_nll(f1).items()))
    print("negative target updates in Algorithm 1 (0.5k list): " + ", ".join(
        f"{name} {sum(h['neg_updates'] for h in hist)} over {len(hist)} iteration(s)" for name, hist in steps.items()))
    return fig


def mean_word_nll(f1: Figure1) -> dict:
    return {name: sum(v for _, v in pairs) / len(pairs) for name, pairs in f1.malicious.items()}


def nbest_overlap(nb: NotebookRun, s: Setup, f1: Figure1) -> dict:
    """§4.2: the share of the first baseline's 10-best list each negatively trained model of it keeps."""
    src = s.b.data.test.src[:s.mcfg.overlap_inputs]
    nbest = {name: decode.beam_search(m, src, beam_size=nb.P.decode.beam_size, max_len=nb.P.decode.max_len)
             for name, m in f1.models.items()}
    return {name: metrics.nbest_overlap(nbest["baseline"], nbest[name]) for name in f1.models if name != "baseline"}


def overlap_table(nb: NotebookRun, s: Setup, overlap: dict) -> pd.DataFrame:
    return pd.DataFrame({f"{nb.P.decode.beam_size}-best overlap with the baseline (%)":
                         {name: 100 * v for name, v in overlap.items()}}
                        ).rename_axis(f"{min(s.mcfg.overlap_inputs, len(s.b.data.test))} test inputs").round(1)
