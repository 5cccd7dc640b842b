"""Evaluation of a model on data: NLL and PPL (eq. 1, Table 8), the average word log-likelihoods
T_out / T_in (§3.2, App. C), and the Table 4 / Table 9 columns of its greedy test responses.

Depends on the models' ``token_logprobs``, the data tensors, decoding and the response
metrics of :mod:`ntlib.results.metrics` — never on the training loop: training (``ntlib.methods.train``)
minimises the NLL defined here. Shown in notebooks/02_baselines.ipynb and 04_frequent.ipynb.
"""
from __future__ import annotations

import hashlib
import math

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
from ntlib.results.stats import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, paired_bootstrap, percentile_interval


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


def eval_set(test: PairTensors, max_inputs: int | None) -> PairTensors:
    """Table 4 / 9's evaluation set: the first ``max_inputs`` test pairs (all if None), the same for
    every row of every notebook (``DecodeConfig.max_eval_inputs``)."""
    return test if max_inputs is None else test.subset(slice(0, max_inputs))


def raw_references(dialogues, data_cfg) -> list[str]:
    """The test responses as the data file has them (before <unk> mapping), cropped as the pairs are,
    in the order of :func:`ntlib.run.pipeline.load_dataset`'s pairs."""
    return [" ".join(t) for d in dialogues
            for _, t in make_pairs(d, data_cfg.context_utterances, data_cfg.max_src_len, data_cfg.max_tgt_len)]


def provenance(profile: str, corpus: str, seed: int | None, sub: PairTensors) -> dict:
    """Where a Table 4 / 9 row comes from: profile, corpus, seed and the inputs scored (count, hash).
    ``provenance`` is left for the run's code version, torch version, threads and device."""
    return {"profile": profile, "corpus": corpus, "seed": seed, "n_inputs": len(sub),
            "inputs_sha": inputs_sha(sub.src), "provenance": {}}


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


def test_set_row(sub: PairTensors, vocab: Vocab, meta: dict) -> dict:
    """Table 4's Test-set row: the reference responses of the evaluation set, scored as responses."""
    refs = tensor_to_strings(sub.tgt, vocab)
    return {**meta, "ppl": None, **diversity(refs), "bleu4": None, "corpus_bleu4": None,
            "top10": frequent_responses(refs, 10), "responses": refs}


def table4_row(model, test: PairTensors, vocab: Vocab, max_len: int, max_inputs: int | None,
               meta: dict | None = None, raw_refs: list[str] | None = None) -> dict:
    """Table 4 / Table 9 columns on the test set: PPL (all pairs), and :func:`response_scores`
    of greedy responses to the evaluation set (:func:`eval_set`), with the row's provenance
    ``meta`` (:func:`provenance`) and its responses (the unit of the paired bootstrap)."""
    sub = eval_set(test, max_inputs)
    responses = respond(model, sub.src, vocab, max_len=max_len)
    refs = tensor_to_strings(sub.tgt, vocab)
    raw = None if raw_refs is None else raw_refs[:len(sub)]
    return {**(meta or {}), "ppl": perplexity(model, test)["ppl"], **response_scores(responses, refs, raw),
            "responses": responses}


def ppl_of(seq: tuple[list[float], list[int]]) -> float:
    """PPL = exp(Σ NLL / Σ tokens) from :func:`sequence_nll`'s per-row sums and counts."""
    return math.exp(sum(seq[0]) / sum(seq[1]))


def ppl_change_bootstrap(a: tuple[list[float], list[int]], b: tuple[list[float], list[int]],
                         resamples: int | None = None, seed: int | None = None, level: float = 0.95) -> dict:
    """Paired bootstrap over test responses of PPL(b) / PPL(a) − 1, from :func:`sequence_nll` of
    models ``a`` and ``b`` on the same responses: each resample draws the same responses for both
    (numpy, vectorised: 1,000 resamples of 4,199 responses take ~0.1 s). Returns the observed
    change, the percentile interval (``lo``, ``hi``), ``n``, ``resamples`` and ``seed``."""
    resamples = BOOTSTRAP_RESAMPLES if resamples is None else resamples
    seed = BOOTSTRAP_SEED if seed is None else seed
    if len(a[0]) != len(b[0]) or list(a[1]) != list(b[1]) or not a[0]:
        raise ValueError("ppl_change_bootstrap: the two models must score the same non-empty responses "
                         f"(same token counts): {len(a[0])} vs {len(b[0])} rows")
    nll_a, nll_b, tok = (np.asarray(v, dtype=np.float64) for v in (a[0], b[0], a[1]))
    idx = np.random.default_rng(seed).integers(0, len(tok), size=(resamples, len(tok)))
    lo, hi = percentile_interval(np.sort(np.expm1((nll_b[idx].sum(1) - nll_a[idx].sum(1)) / tok[idx].sum(1))), level)
    return {"diff": math.expm1((nll_b.sum() - nll_a.sum()) / tok.sum()), "lo": float(lo), "hi": float(hi),
            "n": len(tok), "resamples": resamples, "seed": seed}


def nll_bootstrap(a: tuple[list[float], list[int]], b: tuple[list[float], list[int]]) -> dict:
    """Paired bootstrap over test responses (``stats.paired_bootstrap``) of the per-word NLL of
    model ``b`` minus model ``a``, from :func:`sequence_nll` of both on the same responses
    (the LM and the seq2seq score the same tokens: Table 8)."""
    if len(a[0]) != len(b[0]) or a[1] != b[1]:
        raise ValueError("nll_bootstrap: the two models must score the same responses (same token counts)")

    def per_word(items):
        return sum(x for x, _ in items) / sum(n for _, n in items)
    return paired_bootstrap(per_word, list(zip(*a)), list(zip(*b)))
