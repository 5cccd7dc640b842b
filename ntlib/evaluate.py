"""Evaluation of a model on data: NLL and PPL (eq. 1, Table 8), the average word log-likelihoods
T_out / T_in (§3.2, App. C), and the Table 4 / Table 9 columns of its greedy test responses.

Depends on the models' ``token_logprobs``, the data tensors, decoding and the response
metrics of :mod:`ntlib.metrics` — never on the training loop: training (``ntlib.train``)
minimises the NLL defined here. Shown in notebooks/02_baselines.ipynb and 04_frequent.ipynb.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .data import PAD, PairTensors, Vocab, trim
from .decode import respond
from .device import model_device
from .metrics import bleu4, corpus_bleu4, diversity, tensor_to_strings
from .models import eval_mode


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
def response_scores(responses: list[str], refs: list[str]) -> dict:
    """Table 4's max-ratio, Ent-2, Ent-3 (+ distinct-n) and Table 9's BLEU-4 (the paper's
    averaged sentence BLEU, and corpus BLEU) of responses against their references."""
    return {**diversity(responses), "bleu4": bleu4(responses, refs),
            "corpus_bleu4": corpus_bleu4(responses, refs)}


def table4_row(model, test: PairTensors, vocab: Vocab, max_len: int,
               max_inputs: int | None) -> dict:
    """Table 4 / Table 9 columns on the test set: PPL (all pairs), and :func:`response_scores`
    of greedy responses to the first ``max_inputs`` test inputs (all if None)."""
    sub = test if max_inputs is None else test.subset(slice(0, max_inputs))
    responses = respond(model, sub.src, vocab, max_len=max_len)
    refs = tensor_to_strings(sub.tgt, vocab)
    return {"ppl": perplexity(model, test)["ppl"], **response_scores(responses, refs),
            "responses": responses}
