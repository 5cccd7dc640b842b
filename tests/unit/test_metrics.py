"""ntlib.results.metrics and ntlib.methods.evaluate: every metric against a value computed by hand."""
import math

import pytest
import torch

from ntlib.data.dataset import EOS, PAD, PairTensors, Vocab
from ntlib.methods import evaluate
from ntlib.methods.models import build_model
from ntlib.results import metrics
from ntlib.run.config import ModelConfig

torch.set_num_threads(1)


def uniform(kind, V=10):
    """A model whose output layer is zero: P(w) = 1/V for every word, so PPL = V exactly."""
    torch.manual_seed(0)
    m = build_model(kind, V, ModelConfig(emb=4, hidden=6, dropout=0.0))
    with torch.no_grad():
        m.out.weight.zero_()
        m.out.bias.zero_()
    return m


TGT = torch.tensor([[5, 6, EOS, PAD], [7, EOS, PAD, PAD], [4, 5, 6, EOS]])   # 9 tokens


def test_perplexity_of_a_uniform_model_is_the_vocabulary_size():
    for kind, data in (("seq2seq", PairTensors(torch.tensor([[PAD, 4], [5, 6], [7, 8]]), TGT)),
                       ("lm", TGT)):
        out = evaluate.perplexity(uniform(kind), data, batch_size=2)
        assert out["tokens"] == 9                                # words + <eos> (Table 8)
        assert out["nll"] == pytest.approx(math.log(10), rel=1e-6)
        assert out["ppl"] == pytest.approx(10.0, rel=1e-6)
        assert evaluate.avg_word_logprob(uniform(kind), data) == pytest.approx(-math.log(10))


def test_perplexity_weights_sentences_by_their_tokens():
    # LM with P(5) = 1/2 everywhere else spread: per-token average, not per-sentence.
    m = uniform("lm", V=10)
    with torch.no_grad():
        m.out.bias[5] = math.log(9)                  # p(5) = 9/18 = 1/2, others 1/18
    out = evaluate.perplexity(m, TGT)
    nll = (2 * math.log(2) + 7 * math.log(18)) / 9   # two 5s, seven other tokens
    assert out["nll"] == pytest.approx(nll, rel=1e-5)


def test_max_ratio():
    assert metrics.max_ratio(["i do n't know", "yeah", "i do n't know", "oh"]) == 0.5
    assert metrics.max_ratio(["a", "b", "c", "d"]) == 0.25
    with pytest.raises(ValueError):
        metrics.max_ratio([])


def test_ent_n_matches_hand_computation():
    # the authors' text_eval example: 'i am you </s>', 'hello guys </s>', 'come on </s>',
    # 'i like you </s>' → 10 bigrams, "you </s>" twice, 8 others once.
    resp = ["i am you", "hello guys", "come on", "i like you"]
    assert metrics.ent_n(resp, 2) == pytest.approx(-(0.2 * math.log(0.2) + 8 * 0.1 * math.log(0.1)))
    # unigrams without <eos>: i×2, you×2, am, hello, guys, come, on, like → 10 tokens
    h = -(2 * 0.2 * math.log(0.2) + 6 * 0.1 * math.log(0.1))
    assert metrics.ent_n(resp, 1, eos=False) == pytest.approx(h)
    assert metrics.ent_n(["yeah"] * 5, 2) == 0.0                 # one bigram "yeah <eos>"


def test_distinct_n():
    assert metrics.distinct_n(["a b a", "a"], 1) == 0.5          # {a, b} / 4 tokens
    assert metrics.distinct_n(["a b a", "a"], 2) == 1.0          # {ab, ba} / 2 bigrams
    assert metrics.distinct_n(["a b", "a b"], 2) == 0.5


def test_corpus_bleu4_against_hand_computation():
    # p1..p4 = 4/5, 3/4, 2/3, 1/2, equal lengths → BP = 1, BLEU = 0.2 ** (1/4)
    assert metrics.corpus_bleu4(["a b c d e"], ["a b c d f"]) == pytest.approx(0.2 ** 0.25, abs=1e-4)
    # all precisions 1, hypothesis 4 vs reference 6 words → BP = exp(1 - 6/4)
    assert metrics.corpus_bleu4(["a b c d"], ["a b c d e f"]) == pytest.approx(math.exp(-0.5), abs=1e-4)
    assert metrics.corpus_bleu4(["x y z w"], ["x y z w"]) == pytest.approx(1.0)
    # corpus level: n-gram counts are pooled over sentences before the ratio
    both = metrics.corpus_bleu4(["a b c d e", "a b c d"], ["a b c d f", "a b c d"])
    p = (8 / 9) * (6 / 7) * (4 / 5) * (2 / 3)
    assert both == pytest.approx(p ** 0.25, abs=1e-4)
    with pytest.raises(ValueError):
        metrics.corpus_bleu4(["a"], [])


def test_sentence_bleu4_backs_off_like_nltk_3_2():
    s = metrics.sentence_bleu4
    # all four orders match: ordinary BLEU, p = 4/5, 3/4, 2/3, 1/2
    assert s("a b c d e".split(), "a b c d f".split()) == pytest.approx(0.2 ** 0.25)
    # one-word answer equal to a one-word reference: only p1 = 1 is kept → 1.0
    assert s(["yeah"], ["yeah"]) == 1.0
    # p1 = 2/4, no bigram match → orders 2-4 left out: (1/2)^(1/4), BP = 1 (equal lengths)
    assert s("x a y b".split(), "a b c d".split()) == pytest.approx(0.5 ** 0.25)
    # p1 = 1, p2 = 1/2, no trigram: (1 · 1/2)^(1/4); hypothesis 3 vs reference 5 → BP e^(1-5/3)
    assert s("a b d".split(), "a b c d e".split()) == pytest.approx(0.5 ** 0.25 * math.exp(1 - 5 / 3))
    # clipping: "the the the" vs one "the" → p1 = 1/3, no bigram
    assert s("the the the".split(), "the cat sat".split()) == pytest.approx((1 / 3) ** 0.25)
    assert s(["no"], ["yeah"]) == 0.0 and s([], ["yeah"]) == 0.0


def test_bleu4_averages_sentence_scores_and_agrees_with_nltk_when_all_orders_match():
    from nltk.translate.bleu_score import sentence_bleu
    assert metrics.bleu4(["yeah", "uh-huh"], ["yeah", "yeah"]) == 0.5
    hyp, ref = "i think it is a good idea".split(), "i think it is a very good idea".split()
    assert metrics.sentence_bleu4(hyp, ref) == pytest.approx(sentence_bleu([ref], hyp))
    with pytest.raises(ValueError):
        metrics.bleu4(["a"], [])


def test_nbest_overlap():
    a = [[([4, 3], -1.0), ([5, 3], -2.0)], [([6, 3], -1.0), ([7, 3], -2.0)]]
    b = [[([5, 3], -1.5), ([4, 3], -2.5)], [([6, 3], -1.0), ([8, 3], -2.0)]]
    assert metrics.nbest_overlap(a, b) == pytest.approx((2 / 2 + 1 / 2) / 2)
    assert metrics.nbest_overlap([["x", "y"]], [["y", "z"]]) == 0.5


def test_diversity_and_frequent_responses():
    resp = ["yeah", "yeah", "oh really", "i know"]
    d = metrics.diversity(resp)
    assert d["max_ratio"] == 0.5 and d["ent2"] == pytest.approx(metrics.ent_n(resp, 2))
    assert metrics.frequent_responses(resp, 2) == [("yeah", 0.5), ("oh really", 0.25)]
    vocab = Vocab(["yeah", "oh"])
    ids = torch.tensor([[vocab.stoi["yeah"], EOS, PAD], [vocab.stoi["oh"], vocab.stoi["yeah"], EOS]])
    assert metrics.tensor_to_strings(ids, vocab) == ["yeah", "oh yeah"]


def test_seq_rep_n_and_rep_share_by_hand():
    # "a b a b a": 2-grams ab ba ab ba → 2 distinct of 4 → 0.5; "a b c": no repeat → 0; "a": no 2-gram → 0
    assert metrics.seq_rep_n(["a b a b a"], 2) == 0.5
    assert metrics.seq_rep_n(["a b a b a", "a b c", "a"], 2) == pytest.approx(0.5 / 3)
    # the degenerate answer of the 1 % model: "to be able to" occurs twice among its 4-grams
    loop = "going to be able to be able to do it"
    grams = [tuple(loop.split()[i:i + 4]) for i in range(len(loop.split()) - 3)]   # 7 4-grams, 6 distinct
    assert len(grams) == 7 and len(set(grams)) == 6
    assert metrics.seq_rep_n([loop], 4) == pytest.approx(1 - 6 / 7)
    assert metrics.repeats_ngram(loop, 4) and not metrics.repeats_ngram("i do n't know", 4)
    assert metrics.rep_share([loop, "i do n't know", "yeah", loop], 4) == 0.5
    assert metrics.distinct_n([loop], 4) == pytest.approx(6 / 7)
    d = metrics.diversity([loop, "yeah"])
    assert d["seq_rep4"] == pytest.approx((1 - 6 / 7) / 2) and d["rep4_share"] == 0.5


def test_bleu4_variants_eos_and_raw_references():
    # one-word match: without </s> 1-gram only (orders 2-4 left out, NLTK 3.2) → 1.0; with </s>: 2/2, 1/1 → 1.0
    v = metrics.bleu4_variants(["yeah"], ["yeah"], ["yeah"])
    assert v["sent_raw"] == v["sent_eos_raw"] == 1.0
    # a miss on the only word: 0 without </s>; with </s> the shared </s> gives 1/2 unigram precision
    v = metrics.bleu4_variants(["no"], ["<unk>"], ["yes"])
    assert v["sent_unk"] == 0.0 and v["sent_eos_unk"] == pytest.approx(0.5 ** 0.25)
    # <unk> matches an <unk>-mapped reference but not the raw word
    v = metrics.bleu4_variants(["<unk>"], ["<unk>"], ["zyzzyva"])
    assert v["sent_unk"] == 1.0 and v["sent_raw"] == 0.0
    assert list(v) == list(metrics.BLEU_VARIANTS) and metrics.BLEU_CHOSEN in v
    assert set(metrics.bleu4_variants(["a"], ["a"], None)) == {"sent_eos_unk", "sent_unk", "corpus_unk"}


def test_the_verdicts_bleu_is_the_authors_no_eos_on_either_side():
    """Issue 29: the authors' response BLEU cuts both sides at </s> (myutil.clean_sen); with </s> on both
    sides a miss still scored by matching </s> alone. Every variant stays reported, labelled."""
    from ntlib.methods.evaluate import response_scores
    assert metrics.BLEU_CHOSEN == "sent_raw"
    assert metrics.BLEU_VARIANTS["sent_raw"] == "averaged sentence BLEU-4, no </s>, raw references"
    assert all("</s>" in label for k, label in metrics.BLEU_VARIANTS.items() if k.startswith("sent_"))
    s = response_scores(["uh-huh", "yeah"], ["yeah", "yeah"], ["yeah", "yeah"])
    assert s["bleu4_variant"] == "sent_raw" and s["bleu4_sentences"] == [0.0, 1.0] and s["bleu4"] == 0.5
    assert s["bleu4_variants"]["sent_eos_raw"] == pytest.approx((0.5 ** 0.25 + 1.0) / 2)   # </s> alone: 0.84
    assert set(s["bleu4_variants"]) == set(metrics.BLEU_VARIANTS)
