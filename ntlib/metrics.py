"""Evaluation metrics of the paper: PPL / NLL (Table 8), max-ratio and Ent-n (§3.3, §4.3,
eq. 5), BLEU-4 (App. F, Table 9), distinct-n, 10-best overlap (§4.2), and the average word
log-likelihoods T_out / T_in used as hit thresholds (§3.2, App. C).

Responses are strings of space-separated tokens, as :func:`ntlib.decode.respond` returns.
Shown in notebooks/02_baselines.ipynb.
"""
from __future__ import annotations

import math
from collections import Counter

import sacrebleu
import torch

from .data import PairTensors
from .train import evaluate_nll


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


def max_ratio(responses: list[str]) -> float:
    """§3.3: the fraction of responses equal to the most frequent response."""
    if not responses:
        raise ValueError("max_ratio of an empty response list")
    return Counter(responses).most_common(1)[0][1] / len(responses)


def _ngrams(responses: list[str], n: int, eos: bool) -> Counter:
    counts = Counter()
    for r in responses:
        toks = r.split() + (["<eos>"] if eos else [])
        counts.update(tuple(toks[i:i + n]) for i in range(len(toks) - n + 1))
    return counts


def ent_n(responses: list[str], n: int, eos: bool = True) -> float:
    """Ent-n (eq. 5): entropy, natural log, of the n-gram distribution of the responses.

    With ``eos=True`` each response ends with an ``<eos>`` token before counting n-grams, as
    the authors' ``text_eval.text_entropy`` is applied to sentences ending in ``</s>``.
    """
    counts = _ngrams(responses, n, eos)
    total = sum(counts.values())
    return -sum(c / total * math.log(c / total) for c in counts.values()) if total else 0.0


def distinct_n(responses: list[str], n: int) -> float:
    """Distinct-n: number of distinct n-grams / number of n-grams (words only, no <eos>)."""
    counts = _ngrams(responses, n, eos=False)
    total = sum(counts.values())
    return len(counts) / total if total else 0.0


def bleu4(hyps: list[str], refs: list[str]) -> float:
    """Corpus BLEU-4 (App. F, Table 9) with one reference per hypothesis, on a 0–1 scale.

    sacrebleu ``corpus_bleu`` with ``tokenize="none"`` (the text is already lower-cased
    Treebank tokens), ``smooth_method="exp"`` (sacrebleu's default), standard brevity penalty,
    divided by 100. Not the authors' number: their code averages NLTK sentence-level BLEU,
    whose values (0.476 on Switchboard) are far above corpus BLEU on dialogue data, so only
    before/after comparisons within ntlib are meaningful.
    """
    if len(hyps) != len(refs):
        raise ValueError(f"bleu4: {len(hyps)} hypotheses but {len(refs)} references")
    return sacrebleu.corpus_bleu(hyps, [refs], tokenize="none", smooth_method="exp").score / 100


def nbest_overlap(lists_a: list[list], lists_b: list[list]) -> float:
    """§4.2: mean over inputs of |A ∩ B| / |A| for two models' n-best lists (e.g. 10-best).

    Items may be ``(ids, score)`` pairs as :func:`ntlib.decode.beam_search` returns, or the
    hypotheses themselves; only the hypotheses are compared.
    """
    if len(lists_a) != len(lists_b):
        raise ValueError(f"nbest_overlap: {len(lists_a)} vs {len(lists_b)} inputs")

    def hyps(lst):
        return {tuple(h[0]) if isinstance(h, tuple) else tuple(h) if isinstance(h, list) else h
                for h in lst}
    ratios = [len(hyps(a) & hyps(b)) / len(hyps(a)) for a, b in zip(lists_a, lists_b) if a]
    return sum(ratios) / len(ratios) if ratios else 0.0


def frequent_responses(responses: list[str], k: int = 10) -> list[tuple[str, float]]:
    """The ``k`` most frequent responses with their ratios (§3.3, Table 4's max-ratio)."""
    return [(r, c / len(responses)) for r, c in Counter(responses).most_common(k)]


def diversity(responses: list[str]) -> dict:
    """Table 4's columns for a response set: max-ratio, Ent-2, Ent-3 (+ distinct-1/2)."""
    return {"max_ratio": max_ratio(responses), "ent2": ent_n(responses, 2),
            "ent3": ent_n(responses, 3), "distinct1": distinct_n(responses, 1),
            "distinct2": distinct_n(responses, 2)}


def tensor_to_strings(ids: torch.Tensor, vocab) -> list[str]:
    """Reference responses (N, T) as strings (up to <eos>), for Table 4's Test-set row."""
    return [" ".join(vocab.decode(row)) for row in ids]
