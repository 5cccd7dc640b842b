"""Metrics of the paper on responses: max-ratio and Ent-n (§3.3, §4.3, eq. 5), BLEU-4 (App. F,
Table 9) in its labelled variants, distinct-n, seq-rep-n (Welleck et al. 2020), 10-best overlap (§4.2). PPL / NLL (Table 8) and T_out / T_in (App. C)
are computed from a model, in :mod:`ntlib.methods.evaluate`.

Responses are strings of space-separated tokens, as :func:`ntlib.methods.decode.respond` returns.
Shown in notebooks/02_baselines.ipynb.
"""
from __future__ import annotations

import math
from collections import Counter

import sacrebleu
import torch

from ntlib.data.dataset import EOS, SPECIALS


def max_ratio(responses: list[str]) -> float:
    """§3.3: the fraction of responses equal to the most frequent response."""
    if not responses:
        raise ValueError("max_ratio of an empty response list")
    return Counter(responses).most_common(1)[0][1] / len(responses)


def _ngram_counts(toks: list[str], n: int) -> Counter:
    """Counts of the n-grams of one token list."""
    return Counter(tuple(toks[i:i + n]) for i in range(len(toks) - n + 1))


def _ngrams(responses: list[str], n: int, eos: bool) -> Counter:
    counts = Counter()
    for r in responses:
        counts.update(_ngram_counts(r.split() + ([SPECIALS[EOS]] if eos else []), n))
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


def seq_rep_n(responses: list[str], n: int = 4) -> float:
    """seq-rep-n of Welleck et al. (2020): per response, the share of its n-grams that repeat an
    earlier n-gram of the same response (1 − distinct/total), averaged over responses (a response
    shorter than n counts 0). "a b a b a" → 2-grams ab ba ab ba: 1 − 2/4 = 0.5."""
    if not responses:
        raise ValueError("seq_rep_n of an empty response list")
    return sum(_seq_rep_one(r.split(), n) for r in responses) / len(responses)


def _seq_rep_one(toks: list[str], n: int) -> float:
    grams = _ngram_counts(toks, n)
    total = sum(grams.values())
    return 1 - len(grams) / total if total else 0.0


def repeats_ngram(response: str, n: int = 4) -> bool:
    """Whether one response repeats an n-gram ("to be able to be able to" repeats "to be able to")."""
    return _seq_rep_one(response.split(), n) > 0


def rep_share(responses: list[str], n: int = 4) -> float:
    """The share of responses that repeat an n-gram within themselves (:func:`repeats_ngram`): our
    measure of *degenerate* responses (the looping outputs Welleck et al. 2020 count with seq-rep-n)."""
    if not responses:
        raise ValueError("rep_share of an empty response list")
    return sum(repeats_ngram(r, n) for r in responses) / len(responses)


def _modified_precision(hyp: list[str], ref: list[str], n: int) -> tuple[int, int]:
    """Clipped n-gram matches and the n-gram count of ``hyp`` (denominator at least 1)."""
    h, r = _ngram_counts(hyp, n), _ngram_counts(ref, n)
    return sum(min(c, r[g]) for g, c in h.items()), max(1, sum(h.values()))


def sentence_bleu4(hyp: list[str], ref: list[str]) -> float:
    """Sentence BLEU-4 as the authors' NLTK (3.2.x, default "no smoothing") computed it.

    Weights 1/4 per order and the brevity penalty as in BLEU, but the geometric mean stops at
    the first order with no match: those orders are *left out*, not counted as zero, and the
    weights are not renormalised (NLTK 3.2's ``method0``, changed in 3.3; nltk issue #1838:
    ``sentence_bleu([[1,2,3,4]], [5,6,8,1], weights=(0.5, 0.5))`` gave 0.5). So a one-word
    answer that matches a one-word reference ("yeah" / "yeah") scores 1.0, and so sentence
    BLEU on backchannel-heavy data sits far above corpus BLEU. Whether ``</s>`` ends both
    sides changes it a lot (:data:`BLEU_VARIANTS`). No unigram match, or an empty hypothesis, scores 0.
    """
    if not hyp:
        return 0.0
    log_sum = 0.0
    for n in range(1, 5):
        match, total = _modified_precision(hyp, ref, n)
        if match == 0:
            if n == 1:
                return 0.0
            break
        log_sum += 0.25 * math.log(match / total)
    c, r = len(hyp), len(ref)
    bp = 1.0 if c > r else math.exp(1 - r / c)
    return bp * math.exp(log_sum)


def bleu4(hyps: list[str], refs: list[str]) -> float:
    """The mean of :func:`sentence_bleu4` over responses against one reference each, as given
    (no ``</s>`` added): variants ``sent_raw`` / ``sent_unk`` of :data:`BLEU_VARIANTS`.
    Table 9's verdicts use :data:`BLEU_CHOSEN` (:func:`bleu4_variants`).
    """
    if len(hyps) != len(refs):
        raise ValueError(f"bleu4: {len(hyps)} hypotheses but {len(refs)} references")
    if not hyps:
        return 0.0
    return sum(sentence_bleu4(h.split(), r.split()) for h, r in zip(hyps, refs)) / len(hyps)


EOS_WORD = "</s>"    # the authors' end token, as their decode lists keep it


# The variants of Table 9's BLEU-4, each labelled; BLEU_CHOSEN is the one the verdicts use.
BLEU_VARIANTS = {
    "sent_eos_raw": "averaged sentence BLEU-4, </s> on hypothesis and reference, raw references",
    "sent_eos_unk": "averaged sentence BLEU-4, </s> on hypothesis and reference, <unk>-mapped references",
    "sent_raw": "averaged sentence BLEU-4, no </s>, raw references",
    "sent_unk": "averaged sentence BLEU-4, no </s>, <unk>-mapped references",
    "corpus_raw": "sacrebleu corpus BLEU-4 / 100, raw references",
    "corpus_unk": "sacrebleu corpus BLEU-4 / 100, <unk>-mapped references",
}
# The authors' response-BLEU code (seq2seq/latent_baseline.py and neg_mal_advtrain_seq2seq.py) passes both
# the sample and the reference (the data file's words, not <unk>-mapped) through myutil.clean_sen, which cuts
# each at its first ``</s>`` — so neither side ends in ``</s>`` — then averages NLTK ``sentence_bleu``.
# That is ``sent_raw``, the variant of every verdict. With ``</s>`` on both sides (``sent_eos_*``, our
# choice before issue 29) most of a baseline's BLEU came from matching ``</s>`` alone. Table 9 itself has
# no released script.
BLEU_CHOSEN = "sent_raw"


def sentence_bleu4_scores(hyps: list[str], refs: list[str], eos: bool = False) -> list[float]:
    """:func:`sentence_bleu4` of each response against its reference; with ``eos`` both end in ``</s>``."""
    if len(hyps) != len(refs):
        raise ValueError(f"sentence_bleu4_scores: {len(hyps)} hypotheses but {len(refs)} references")
    tail = [EOS_WORD] if eos else []
    return [sentence_bleu4(h.split() + tail, r.split() + tail) for h, r in zip(hyps, refs)]


def bleu4_variants(hyps: list[str], refs_unk: list[str], refs_raw: list[str] | None) -> dict:
    """Every variant of :data:`BLEU_VARIANTS` (the raw-reference ones only when ``refs_raw`` is given)."""
    out = {}
    for key, refs in (("unk", refs_unk), ("raw", refs_raw)):
        if refs is None:
            continue
        for eos in (True, False):
            scores = sentence_bleu4_scores(hyps, refs, eos)
            out[f"sent_{'eos_' if eos else ''}{key}"] = sum(scores) / len(scores) if scores else 0.0
        out[f"corpus_{key}"] = corpus_bleu4(hyps, refs)
    return {k: out[k] for k in BLEU_VARIANTS if k in out}


def corpus_bleu4(hyps: list[str], refs: list[str]) -> float:
    """Standard corpus BLEU-4 with one reference per hypothesis, on a 0–1 scale.

    sacrebleu ``corpus_bleu`` with ``tokenize="none"`` (the text is already lower-cased
    Treebank tokens), ``smooth_method="exp"`` (sacrebleu's default), standard brevity penalty,
    divided by 100. Shown beside :func:`bleu4` (the paper's measure); on dialogue data it
    sits near 0, so it resolves little.
    """
    if len(hyps) != len(refs):
        raise ValueError(f"corpus_bleu4: {len(hyps)} hypotheses but {len(refs)} references")
    return sacrebleu.corpus_bleu(hyps, [refs], tokenize="none", smooth_method="exp").score / 100


def nbest_overlap(lists_a: list[list], lists_b: list[list]) -> float:
    """§4.2: mean over inputs of |A ∩ B| / |A| for two models' n-best lists (e.g. 10-best).

    Items may be ``(ids, score)`` pairs as :func:`ntlib.methods.decode.beam_search` returns, or the
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
    """Table 4's columns for a response set: max-ratio, Ent-2, Ent-3, and the fluency columns
    distinct-1/2, seq-rep-4 and the share of responses repeating a 4-gram."""
    return {"max_ratio": max_ratio(responses), "ent2": ent_n(responses, 2),
            "ent3": ent_n(responses, 3), "distinct1": distinct_n(responses, 1),
            "distinct2": distinct_n(responses, 2), "seq_rep4": seq_rep_n(responses, 4),
            "rep4_share": rep_share(responses, 4)}


def tensor_to_strings(ids: torch.Tensor, vocab) -> list[str]:
    """Reference responses (N, T) as strings (up to <eos>), for Table 4's Test-set row."""
    return [" ".join(vocab.decode(row)) for row in ids]
