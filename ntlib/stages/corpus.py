"""Stage 01 (notebooks/01_data.ipynb): the corpus as the paper preprocesses it, beside Appendix B.

Split statistics, a Table 7-style sample, our Switchboard valid/test against the authors' released
files, vocabulary coverage and the length distributions behind App. B's 15/20-token crops. The corpus
logic is :mod:`ntlib.data.dataset` / :mod:`ntlib.data.corpora` / :mod:`ntlib.data.corpus_stats`; this driver runs it for
the notebook, one call per cell, and writes ``data_stats.*``, the length figure and
``results/data_<corpus>.json`` (:class:`DataResults`).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import pandas as pd

from ntlib.data import corpus_stats, dataset
from ntlib.results import figures, reports
from ntlib.results.paper import APPENDIX_B
from ntlib.run.config import override
from ntlib.run.params import NotebookRun
from ntlib.stages import StageResults

SPECIAL_COUNT = 5          # <pad> <unk> <bos> <eos> and <eou>: the vocabulary's non-words


@dataclass
class DataResults(StageResults):
    """``results/data_<corpus>.json``: what notebook 01 measured."""
    RESULTS = "data"
    profile: str
    corpus: str
    load_seconds: float
    seconds: float
    sample: list
    splits: dict
    paper: dict | None
    vocab_size: int
    oov: dict
    lengths: dict
    verify_switchboard: dict | None
    provenance: dict


@dataclass
class Loaded:
    """The preprocessed corpus, its vocabulary and how long loading took."""
    corpus: object            # ntlib.data.dataset.Corpus
    vocab: object             # ntlib.data.dataset.Vocab
    load_seconds: float


def load(nb: NotebookRun) -> Loaded:
    """Read and preprocess the profile's corpus (App. B) and build its vocabulary; prints the time."""
    t0 = time.time()
    c = dataset.load_corpus(nb.P.data, nb.data_dir)
    seconds = time.time() - t0
    print(f"{nb.corpus} ({nb.profile}): loaded in {seconds:.1f} s")
    return Loaded(c, dataset.build_vocab(c, nb.P.data, nb.data_dir), seconds)


def sample(loaded: Loaded, utterances: int = 6) -> list[str]:
    """The first test dialogue's first utterances, A:/B: alternating by position (Table 7)."""
    return [f"{'AB'[i % 2]}: {' '.join(u)}" for i, u in enumerate(loaded.corpus.test[0][:utterances])]


def statistics(loaded: Loaded) -> pd.DataFrame:
    """Split statistics beside Appendix B's (:func:`ntlib.data.corpus_stats.stats_beside_paper`)."""
    return corpus_stats.stats_beside_paper(loaded.corpus, len(loaded.vocab) - SPECIAL_COUNT)


def verify(nb: NotebookRun) -> dict | None:
    """Our Switchboard valid/test against the authors' files (None for other corpora); prints the share."""
    v = corpus_stats.verify_switchboard(nb.data_dir) if nb.corpus == "switchboard" else None
    if v:
        print(f"identical utterances {v['total']['utterances_identical']}/{v['total']['utterances']} "
              f"= {v['utterance_pct']:.2f} %, identical dialogues {v['dialogue_pct']:.2f} %")
    return v


def mismatches(verified: dict | None) -> pd.DataFrame | None:
    """The utterances of our valid/test that differ from the authors' files (None: not Switchboard)."""
    return pd.DataFrame(verified["mismatches"]) if verified else None


def oov(nb: NotebookRun, loaded: Loaded) -> pd.DataFrame:
    """OOV rate per split for our vocabulary and, on Switchboard, the authors' ``vocab_h10k.txt``."""
    vocabs = {f"ours (top {len(loaded.vocab) - SPECIAL_COUNT})": loaded.vocab}
    if nb.corpus == "switchboard":
        vocabs["authors' vocab_h10k"] = dataset.build_vocab(loaded.corpus, override(nb.P.data, vocab_file="official"),
                                                         nb.data_dir)
    return corpus_stats.oov_table(loaded.corpus, vocabs)


def lengths(nb: NotebookRun, loaded: Loaded):
    """(figure, lengths record, table): source and response lengths of the training pairs before the crops."""
    cfg = nb.P.data
    raw = [p for d in loaded.corpus.train for p in dataset.make_pairs(d, cfg.context_utterances, 10**6, 10**6)]
    src_len = pd.Series([len(s) for s, _ in raw])
    tgt_len = pd.Series([len(t) for _, t in raw])
    fig = figures.data_lengths(src_len.tolist(), tgt_len.tolist(), cfg.max_src_len, cfg.max_tgt_len, corpus=nb.corpus,
                               profile=nb.profile)
    record = {"source_mean": src_len.mean(), "response_mean": tgt_len.mean(),
              "source_cropped": (src_len > cfg.max_src_len).mean(), "response_cropped": (tgt_len > cfg.max_tgt_len).mean()}
    table = pd.DataFrame({"mean length (tokens)": [record["source_mean"], record["response_mean"]],
                          "cropped (% of pairs)": [100 * record["source_cropped"], 100 * record["response_cropped"]]},
                         index=[f"source (crop at {cfg.max_src_len})", f"response (crop at {cfg.max_tgt_len})"]).round(1)
    return fig, record, table


def write_reports(nb: NotebookRun, loaded: Loaded, stats: pd.DataFrame, oov_rates: pd.DataFrame, verified: dict | None,
                  length_record: dict, fig) -> DataResults:
    """``data_stats.md`` / ``.csv``, the length figure and ``results/data_<corpus>.json``; prints what was written."""
    note = (f"Profile {nb.profile}; corpus loaded in {loaded.load_seconds:.1f} s. Paper: Appendix B. OOV rates "
            "(train/valid/test): " + "; ".join(f"{k}: " + " / ".join(f"{x:.2%}" for x in oov_rates[k]) for k in oov_rates.columns)
            + (f". Switchboard valid+test vs the authors' files: {verified['utterance_pct']:.2f} % identical utterances, "
               f"{verified['dialogue_pct']:.2f} % identical dialogues." if verified else "."))
    reports.write_table(stats, "data_stats", nb.reports_dir, title=f"Data statistics: {nb.corpus} (ours vs Appendix B)",
                        note=note)
    reports.save_figure(fig, f"data_lengths_{nb.corpus}", nb.reports_dir)
    res = DataResults(profile=nb.profile, corpus=nb.corpus, load_seconds=loaded.load_seconds, seconds=nb.seconds(),
                      sample=sample(loaded),
                      splits=corpus_stats.split_stats(loaded.corpus).to_dict(orient="index"),
                      paper=APPENDIX_B.get(nb.corpus), vocab_size=len(loaded.vocab) - SPECIAL_COUNT,
                      oov=oov_rates.to_dict(), lengths=length_record,
                      verify_switchboard={k: verified[k] for k in ("valid", "test", "total", "utterance_pct", "dialogue_pct")}
                      if verified else None, provenance=nb.provenance())
    path = res.write(nb.reports_dir)
    print(f"wrote data_stats.md / .csv, figures/data_lengths_{nb.corpus}.png / .pdf and results/{path.name} "
          f"under {nb.reports_dir}")
    return res


def findings(nb: NotebookRun, stats: pd.DataFrame, oov_rates: pd.DataFrame, res: DataResults) -> str:
    """What this run found, beside Appendix B, in words."""
    ours, theirs = stats["ours"], stats["paper"]

    def n(v):
        return v if v == "–" else f"{v:,}"             # the paper has no number for some cells
    lines = [f"{nb.corpus}, profile {nb.profile}:"]
    for split in ("train", "valid", "test"):
        lines.append(f"- {split}: {n(ours[f'{split}_dialogues'])} dialogues (paper: {n(theirs[f'{split}_dialogues'])}), "
                     f"{n(ours[f'{split}_sentences'])} sentences, {n(ours[f'{split}_pairs'])} pairs, "
                     f"{n(ours[f'{split}_words'])} words (paper: {n(theirs[f'{split}_words'])})")
    lines.append(f"- vocabulary: {n(ours['vocab'])} words (paper: {n(theirs['vocab'])})")
    lines += [f"- OOV with {name}: " + ", ".join(f"{split} {100 * oov_rates.loc[split, name]:.2f} %"
                                                 for split in oov_rates.index) for name in oov_rates.columns]
    cfg, lengths_ = nb.P.data, res.lengths
    lines.append(f"- crops at {cfg.max_src_len} / {cfg.max_tgt_len} tokens (App. B): "
                 f"{100 * lengths_['source_cropped']:.1f} % of the training sources and "
                 f"{100 * lengths_['response_cropped']:.1f} % of the responses are longer")
    v = res.verify_switchboard
    lines.append(f"- Switchboard valid + test against the authors' files: {v['utterance_pct']:.2f} % identical "
                 f"utterances, {v['dialogue_pct']:.2f} % identical dialogues" if v else
                 "- no check against the authors' files: ntlib checks Switchboard only (corpus_stats.verify_switchboard)")
    return "\n".join(lines)
