"""Evaluation of a model on data: NLL and PPL (eq. 1, Table 8), the average word log-likelihoods
T_out / T_in (§3.2, App. C), and the Table 4 / Table 9 columns of its greedy test responses.

Depends on the models' ``token_logprobs``, the data tensors, decoding and the response
metrics of :mod:`ntlib.results.metrics` — never on the training loop: training (``ntlib.methods.train``)
minimises the NLL defined here. Shown in notebooks/02_baselines.ipynb and 04_frequent.ipynb.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ntlib.data.dataset import PAD, PairTensors, Vocab, make_pairs, trim
from ntlib.machine.device import model_device
from ntlib.methods.decode import respond
from ntlib.methods.models import eval_mode
from ntlib.results.metrics import (
    BLEU_CHOSEN,
    bleu4_variants,
    diversity,
    frequent_responses,
    sentence_bleu4_scores,
    tensor_to_strings,
)
from ntlib.results.stats import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, paired_cluster_bootstrap


# -- NLL (eq. 1) ------------------------------------------------------------------------
def seq2seq_nll(model, src: torch.Tensor, tgt: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Summed NLL of ``tgt`` given ``src`` (eq. 1) and the number of scored tokens (incl. <eos>).

    Sources keep their full width (App. B: padded to 15): the encoder reads the left padding,
    so trimming it per batch would make a source's encoding depend on its batch-mates.
    """
    dev = model_device(model)
    src, tgt = src.to(dev), trim(tgt).to(dev)
    lp = model.token_logprobs(src, tgt)                                   # (B, T)
    return -lp.sum(), int((tgt != PAD).sum())


def lm_nll(model, tgt: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Summed NLL of LM sentences ``tgt`` (B, T) and the number of scored tokens."""
    tgt = trim(tgt).to(model_device(model))
    return -model.token_logprobs(tgt).sum(), int((tgt != PAD).sum())


LOSSES = {   # kind → loss(model, batch) -> (summed NLL, n_tokens); batch as ``take`` returns it
    "lm": lambda model, batch: lm_nll(model, batch),
    "seq2seq": lambda model, batch: seq2seq_nll(model, batch.src, batch.tgt),
}


def take(data, idx):
    """Rows ``idx`` of LM sentences ``(N, T)`` or of :class:`PairTensors`."""
    return data.subset(idx) if isinstance(data, PairTensors) else data[idx]


def check_data(kind: str, data, name: str) -> None:
    """A clear error when ``data`` is not what a model of ``kind`` reads."""
    if kind not in LOSSES:
        raise ValueError(f"unknown model kind {kind!r}; choose one of {sorted(LOSSES)}")
    want = PairTensors if kind == "seq2seq" else torch.Tensor
    if not isinstance(data, want):
        raise TypeError(f"{name}: kind {kind!r} needs {want.__name__}, got {type(data).__name__}")


def sort_lengths(data) -> torch.Tensor:
    """Sort key per row: target length (× 100 + source length for pairs)."""  # (N,)
    tgt = data.tgt if isinstance(data, PairTensors) else data
    key = (tgt != PAD).sum(1) * 100
    return key + (data.src != PAD).sum(1) if isinstance(data, PairTensors) else key


@torch.no_grad()
def evaluate_nll(model: nn.Module, kind: str, data, batch_size: int = 256) -> tuple[float, int]:
    """Summed NLL and token count (incl. <eos>) of ``data`` under ``model`` in eval mode."""
    check_data(kind, data, "data")
    order = torch.argsort(sort_lengths(data), stable=True)   # similar lengths → less padding
    total, count = 0.0, 0
    with eval_mode(model):
        for idx in order.split(batch_size):
            nll, n = LOSSES[kind](model, take(data, idx))
            total, count = total + float(nll), count + n
    return total, count


def perplexity(model, pairs_or_tensor, batch_size: int = 256) -> dict:
    """Per-word NLL and PPL = exp(NLL), every <eos> counted as a word (Table 8).

    ``pairs_or_tensor``: :class:`PairTensors` for a seq2seq, LM sentences ``(N, T)`` for an LM.
    Returns ``{"nll", "ppl", "tokens"}``.
    """
    kind = "seq2seq" if isinstance(pairs_or_tensor, PairTensors) else "lm"
    total, n = evaluate_nll(model, kind, pairs_or_tensor, batch_size)
    return {"nll": total / n, "ppl": math.exp(total / n), "tokens": n}


def avg_word_logprob(model, pairs_or_tensor, batch_size: int = 256) -> float:
    """Average word log-likelihood on data (= −NLL): T_out for the seq2seq, T_in for the LM
    on the test set (App. C: T_in = −4.19, T_out = −4.08 on Ubuntu)."""
    return -perplexity(model, pairs_or_tensor, batch_size)["nll"]


# -- Table 4 / Table 9 ---------------------------------------------------------------------
def sequence_nll(model, data, batch_size: int = 256) -> tuple[list[float], list[int]]:
    """Per-row summed NLL and token count (incl. <eos>), in the rows' order: the units a paired
    bootstrap over test responses resamples (Table 8's "seq2seq below the LM" verdict)."""
    kind = "seq2seq" if isinstance(data, PairTensors) else "lm"
    check_data(kind, data, "data")
    nll, count = [0.0] * len(data), [0] * len(data)
    with torch.no_grad(), eval_mode(model):
        for idx in torch.arange(len(data)).split(batch_size):
            batch = take(data, idx)
            tgt = trim(batch.tgt if kind == "seq2seq" else batch)
            lp = (model.token_logprobs(batch.src, tgt) if kind == "seq2seq"
                  else model.token_logprobs(tgt))                          # (B, T)
            for i, row, n in zip(idx.tolist(), (-lp.sum(1)).tolist(), (tgt != PAD).sum(1).tolist()):
                nll[i], count[i] = row, n
    return nll, count


def inputs_sha(src: torch.Tensor) -> str:
    """A short sha256 of the input ids a row was scored on: rows with another hash saw other inputs."""
    return hashlib.sha256(src.to(torch.int64).contiguous().numpy().tobytes()).hexdigest()[:16]


@dataclass
class EvalSet:
    """Table 4 / 9's evaluation set: which test pairs (``idx`` into the test set), the test dialogue each
    comes from (the bootstraps resample dialogues) and the pairs themselves."""
    idx: list[int]
    dialogues: list[int]
    pairs: PairTensors

    def __len__(self) -> int:
        return len(self.idx)


def eval_set(data, max_inputs: int | None) -> EvalSet:
    """Table 4 / 9's evaluation set, the same for every row of every notebook (``DecodeConfig.max_eval_inputs``):
    every test pair (None, or at least as many as there are), else ``max_inputs`` pairs spread over the test
    dialogues — one from each dialogue first (when there are at least as many inputs as dialogues), the rest
    in proportion to each dialogue's remaining pairs (largest remainders, ties by dialogue), each dialogue's
    pairs evenly spaced within it — so no dialogue is left out and a long one does not dominate."""
    dialogues = list(data.test_dialogues)
    n = len(dialogues)
    if max_inputs is None or max_inputs >= n:
        idx = list(range(n))
    else:
        members: dict[int, list[int]] = {}
        for i, d in enumerate(dialogues):
            members.setdefault(d, []).append(i)
        first = 1 if max_inputs >= len(members) else 0           # one per dialogue, then in proportion
        rest, pool = max_inputs - first * len(members), n - first * len(members)
        quota = {d: first + rest * (len(m) - first) / pool for d, m in members.items()}
        take = {d: int(q) for d, q in quota.items()}
        for d in sorted(quota, key=lambda d: (take[d] - quota[d], d))[:max_inputs - sum(take.values())]:
            take[d] += 1                                          # largest remainders, ties by dialogue
        idx = sorted(m[round(j * (len(m) - 1) / max(1, take[d] - 1))] if take[d] > 1 else m[len(m) // 2]
                     for d, m in members.items() for j in range(take[d]))
    return EvalSet(idx, [dialogues[i] for i in idx], data.test.subset(torch.tensor(idx, dtype=torch.long)))


def raw_references(dialogues, data_cfg) -> list[str]:
    """The test responses as the data file has them (before <unk> mapping), cropped as the pairs are,
    in the order of :func:`ntlib.data.dataset.load_dataset`'s pairs."""
    return [" ".join(t) for d in dialogues
            for _, t in make_pairs(d, data_cfg.context_utterances, data_cfg.max_src_len, data_cfg.max_tgt_len)]


def provenance(profile: str, corpus: str, seed: int | None, ev: EvalSet) -> dict:
    """Where a Table 4 / 9 row comes from: profile, corpus, the baseline's seed and the inputs scored (count,
    hash, each one's test dialogue). ``provenance`` is left for the run's code, torch, threads and device."""
    return {"profile": profile, "corpus": corpus, "seed": seed, "n_inputs": len(ev),
            "inputs_sha": inputs_sha(ev.pairs.src), "dialogues": ev.dialogues, "provenance": {}}


def response_scores(responses: list[str], refs: list[str], raw_refs: list[str] | None = None) -> dict:
    """Table 4's max-ratio, Ent-2, Ent-3 and fluency columns (distinct-n, seq-rep-4, share repeating
    a 4-gram), the top-10 responses, and Table 9's BLEU-4 variants (``bleu4`` = the chosen one,
    :data:`ntlib.results.metrics.BLEU_CHOSEN`; without raw references the chosen variant's <unk> twin)."""
    variants = bleu4_variants(responses, refs, raw_refs)
    chosen = BLEU_CHOSEN if BLEU_CHOSEN in variants else BLEU_CHOSEN.replace("_raw", "_unk")
    sentences = sentence_bleu4_scores(responses, raw_refs if chosen.endswith("_raw") else refs,
                                      eos="_eos_" in chosen)
    return {**diversity(responses), "bleu4": variants[chosen], "bleu4_variant": chosen,
            "bleu4_variants": variants, "corpus_bleu4": variants.get("corpus_raw", variants["corpus_unk"]),
            "bleu4_sentences": [round(x, 6) for x in sentences], "top10": frequent_responses(responses, 10)}


def test_set_row(ev: EvalSet, vocab: Vocab, meta: dict) -> dict:
    """Table 4's Test-set row: the reference responses of the evaluation set, scored as responses."""
    refs = tensor_to_strings(ev.pairs.tgt, vocab)
    return {**meta, "ppl": None, **diversity(refs), "bleu4": None, "corpus_bleu4": None,
            "top10": frequent_responses(refs, 10), "responses": refs}


def table4_row(model, data, ev: EvalSet, max_len: int, meta: dict | None = None,
               raw_refs: list[str] | None = None) -> dict:
    """Table 4 / Table 9 columns: PPL on every test pair, and :func:`response_scores` of greedy responses to
    the evaluation set ``ev``, with the row's provenance ``meta`` (:func:`provenance`) and its responses
    (the unit of the paired bootstrap). ``raw_refs``: every test pair's raw reference (:func:`raw_references`)."""
    responses = respond(model, ev.pairs.src, data.vocab, max_len=max_len)
    refs = tensor_to_strings(ev.pairs.tgt, data.vocab)
    raw = None if raw_refs is None else [raw_refs[i] for i in ev.idx]
    return {**(meta or {}), "ppl": perplexity(model, data.test)["ppl"], **response_scores(responses, refs, raw),
            "responses": responses}


def ppl_of(seq: tuple[list[float], list[int]]) -> float:
    """PPL = exp(Σ NLL / Σ tokens) from :func:`sequence_nll`'s per-row sums and counts."""
    return math.exp(sum(seq[0]) / sum(seq[1]))


def ppl_change_bootstrap(a: tuple[list[float], list[int]], b: tuple[list[float], list[int]], dialogues: list[int],
                         resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED, level: float = 0.95) -> dict:
    """Paired bootstrap of PPL(b) / PPL(a) − 1 over the test *dialogues* (``dialogues[i]``: response i's),
    from :func:`sequence_nll` of models ``a`` and ``b`` on the same responses: each resample draws dialogues
    with replacement, the same for both (:func:`ntlib.results.stats.paired_cluster_bootstrap`). Returns the
    observed change, the percentile interval (``lo``, ``hi``), ``n``, ``clusters``, ``resamples``, ``seed``."""
    if len(a[0]) != len(b[0]) or list(a[1]) != list(b[1]) or not a[0] or len(dialogues) != len(a[0]):
        raise ValueError("ppl_change_bootstrap: the two models must score the same non-empty responses "
                         f"(same token counts), one dialogue each: {len(a[0])} vs {len(b[0])} rows, "
                         f"{len(dialogues)} dialogue labels")
    nll_a, nll_b, tok = (np.asarray(v, dtype=np.float64) for v in (a[0], b[0], a[1]))

    def change(idx):
        return math.expm1((nll_b[idx].sum() - nll_a[idx].sum()) / tok[idx].sum())
    return paired_cluster_bootstrap(change, dialogues, resamples, seed, level)


def nll_bootstrap(a: tuple[list[float], list[int]], b: tuple[list[float], list[int]], dialogues: list[int]) -> dict:
    """Paired bootstrap over the test dialogues of the per-word NLL of model ``b`` minus model ``a``, from
    :func:`sequence_nll` of both on the same responses (the LM and the seq2seq score the same tokens: Table 8)."""
    if len(a[0]) != len(b[0]) or list(a[1]) != list(b[1]) or len(dialogues) != len(a[0]):
        raise ValueError("nll_bootstrap: the two models must score the same responses (same token counts), "
                         "one dialogue each")
    nll_a, nll_b, tok = (np.asarray(v, dtype=np.float64) for v in (a[0], b[0], a[1]))

    def difference(idx):
        return (nll_b[idx].sum() - nll_a[idx].sum()) / tok[idx].sum()
    return paired_cluster_bootstrap(difference, dialogues)
