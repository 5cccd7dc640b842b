"""Hugging Face models behind the algorithms' interface (ntlib.methods.adapter_hf, the hf extra): a tiny GPT-2
and a tiny T5 (d = 64) built from a config with random weights over the toy's vocabulary — nothing is
downloaded — and trained briefly on the toy tasks of tests/toys.py. gibbs-enum finds the planted malicious
target and Algorithm 1 removes it; Algorithm 2 lowers a planted frequent response. Skipped without transformers.
"""
import pytest
import torch
import torch.nn.functional as F

pytest.importorskip("transformers")

from toys import WORDS, generic_pairs, tiny_hf, train_hf, train_toy_hf  # noqa: E402 (after the skip)

from ntlib.data.dataset import BOS, PAD, UNK, PairTensors, Vocab, encode_sentences, trim  # noqa: E402
from ntlib.methods import frequent  # noqa: E402
from ntlib.methods.adapter import DialogueModel, SourceLM, lm_view  # noqa: E402
from ntlib.methods.adapter_hf import word_level_tokenizer  # noqa: E402
from ntlib.methods.decode import NEVER, greedy  # noqa: E402
from ntlib.methods.evaluate import perplexity  # noqa: E402
from ntlib.methods.gibbs_enum import _target_mean, gibbs_enum, onehot_gradient  # noqa: E402
from ntlib.methods.hits import Thresholds, hits  # noqa: E402
from ntlib.methods.malicious import evaluate_hits, negative_train  # noqa: E402
from ntlib.methods.triggers import random_triggers  # noqa: E402
from ntlib.run.config import FrequentConfig, GibbsConfig, MaliciousConfig  # noqa: E402

torch.set_num_threads(1)
VOCAB = Vocab(WORDS)
KINDS = ["gpt2", "t5"]


@pytest.fixture(scope="module")
def trained():
    """The planted toy task: GPT-2 (150 Adam steps) and T5 (150, lr 1e-2: it learns the planted rule first).
    GPT-2 from seed 1: seed 0's was still mid-way at 150 steps — its clean PPL 1.60, 2.48 and 1.02 on the AVX2,
    AVX-512 and default float paths, and Algorithm 1's collateral damage with it (issue 26) —; seed 1's has
    converged on all three (1.005)."""
    return {"gpt2": train_toy_hf("gpt2", steps=150, lr=3e-3, seed=1), "t5": train_toy_hf("t5", steps=150, lr=1e-2)}


def random_model(kind, seed=3):
    return tiny_hf(kind, VOCAB, seed=seed).eval()


def test_word_level_tokenizer_has_the_vocabularys_ids():
    tok = word_level_tokenizer(VOCAB)
    assert tok("a1 r2 hate <eou>")["input_ids"] == [VOCAB.stoi[w] for w in ("a1", "r2", "hate", "<eou>")]
    assert tok("zebra")["input_ids"] == [UNK] and tok.pad_token_id == PAD and tok.bos_token_id == BOS


@pytest.mark.parametrize("kind", KINDS)
def test_models_implement_the_interface_and_left_padding_changes_nothing(kind):
    m = random_model(kind)
    assert isinstance(m, DialogueModel) and isinstance(random_model("lm"), SourceLM)
    src = torch.tensor([[PAD, PAD, 6, 7, 4], [5, 9, 8, 21, 4]])
    tgt = torch.tensor([[13, 14, 3, PAD], [22, 23, 15, 3]])
    with torch.no_grad():
        batch = m.token_logprobs(src, tgt)
        alone = m.token_logprobs(src[:1, 2:], tgt[:1, :3])
    torch.testing.assert_close(batch[0, :3], alone[0], rtol=0, atol=1e-5)
    assert (batch[0, 3] == 0) and bool((batch[:, :3] < 0).all())


@pytest.mark.parametrize("kind", KINDS)
def test_cached_decoding_steps_are_the_teacher_forced_arg_max(kind):
    """Greedy decoding (decode_start / decode_step, with the model's cache) = arg-max of the full forward."""
    m = random_model(kind)
    src = torch.tensor([[PAD, PAD, 6, 7, 4], [5, 9, 8, 21, 4], [PAD, 11, 12, 10, 4]])
    out = frequent.as_targets(greedy(m, src, 6))                       # (B, T) y + <eos>, PAD after
    with torch.no_grad():
        logits = m(src, out)
    logits[..., list(NEVER)] = float("-inf")
    real = out != PAD
    real[:, 6:] = False                                                # the <eos> forced after max_len words
    assert real.sum() >= 12 and torch.equal(logits.argmax(-1)[real], out[real])


@pytest.mark.parametrize("kind", KINDS + ["gpt2+lm"])
def test_onehot_gradient_is_the_embedding_gradient_times_E(kind):
    """Eq. 10: autograd of eq. 7 w.r.t. a (B, n, V) one-hot input = (∂L/∂e) · Eᵀ, as onehot_gradient computes it
    (with the LM term of io- searches for ``gpt2+lm``)."""
    m = random_model(kind.split("+")[0])
    lm = random_model("lm", seed=4) if kind.endswith("+lm") else None
    lam = 1.0 if lm is not None else 0.0
    x = random_triggers(3, 15, len(VOCAB), torch.Generator().manual_seed(0))
    tgt = trim(encode_sentences([["hate", "you"], ["r1"], ["a2", "r3", "p"]], VOCAB, max_len=20))
    onehot = F.one_hot(x, len(VOCAB)).float().requires_grad_(True)
    neg_loss = _target_mean(m.token_logprobs(None, tgt, src_onehot=onehot), tgt)
    inputs = [onehot]
    if lm is not None:                  # the LM reads <bos> x_<n and scores x with <eou> as <eos>
        oh_lm = F.one_hot(lm_view(x), len(VOCAB)).float().requires_grad_(True)
        E = lm.embedding_matrix()
        e_in = torch.cat([E[BOS].expand(3, 1, -1), oh_lm[:, :-1] @ E], 1)
        neg_loss = neg_loss + lam * (lm.logprobs_from_input_embeddings(e_in) * oh_lm).sum(-1).mean(1)
        inputs.append(oh_lm)
    full = sum(torch.autograd.grad(neg_loss.sum(), inputs))
    for pos in (0, 7, 13):
        torch.testing.assert_close(onehot_gradient(m, lm, x, tgt, lam, pos), full[:, pos], rtol=0, atol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_gibbs_enum_finds_the_planted_malicious_target(trained, kind):
    vocab, m, pairs, plant = trained[kind]
    tgt = encode_sentences([["hate", "you"]], vocab, max_len=20)
    gcfg = GibbsConfig(sweeps=3, candidates=10, restarts=2)
    starts = random_triggers(2, 15, len(vocab), torch.Generator().manual_seed(gcfg.seed))
    thr = Thresholds(t_out=-1.0, t_in=-100.0)
    assert not hits(m, None, starts, tgt.expand(2, -1), "o_greedy", thr).any()   # random inputs do not say it
    res = gibbs_enum(m, tgt, gcfg)
    assert res.triggers[0, -1] == VOCAB.stoi["<eou>"]
    assert hits(m, None, res.triggers, tgt, "o_greedy", thr).all()
    assert float(res.loss) < 0.5                                      # -1/m Σ log P(hate you <eos> | x*)


def test_io_search_with_a_hugging_face_lm(trained):
    """io- gibbs-enum (λ_in = 1, eq. 7) with a GPT-2 LM trained on the toy's sources as sentences: its trigger
    still makes the model say the planted target, and reads far likelier to the LM than the o- search's."""
    vocab, m, pairs, plant = trained["gpt2"]
    lm = train_hf(tiny_hf("lm", vocab, seed=1), PairTensors(lm_view(pairs.src), pairs.tgt), steps=100, lr=3e-3,
                  lm=True)
    tgt = encode_sentences([["hate", "you"]], vocab, max_len=20)
    gcfg = GibbsConfig(sweeps=3, candidates=10, restarts=2)
    thr = Thresholds(t_out=-1.0, t_in=-100.0)
    o, io = gibbs_enum(m, tgt, gcfg), gibbs_enum(m, tgt, gcfg, lm=lm, io=True)
    assert hits(m, lm, io.triggers, tgt, "o_greedy", thr).all() and io.triggers[0, -1] == VOCAB.stoi["<eou>"]
    with torch.no_grad():
        lm_o, lm_io = lm.trigger_logprobs(o.triggers).mean(), lm.trigger_logprobs(io.triggers).mean()
    assert float(lm_io) > float(lm_o) + 0.5


@pytest.mark.parametrize("kind", KINDS)
def test_algorithm1_removes_the_planted_target(trained, kind):
    vocab, m, pairs, plant = trained[kind]
    tgt = encode_sentences([["hate", "you"], ["r3", "r5"]], vocab, max_len=20)
    gcfg = GibbsConfig(sweeps=3, candidates=10, restarts=2)
    thr = Thresholds(t_out=-1.0, t_in=-100.0)
    before = evaluate_hits(m, None, tgt, thr, ("o_greedy", "o_sample_avg"), gcfg)
    assert before["o_sample_avg"]["hits"][0]
    clean = pairs.subset(~plant)                                      # positive data: no planted pairs
    # SGD steps below the LSTMs' 0.3: at 0.1 seed 0's GPT-2 went from clean PPL 1.6 to 7.1; at 0.03 this T5
    # was still hit after 5 iterations. T5: 8 iterations (at 5 it was still hit on the AVX-512 float path).
    mcfg = MaliciousConfig(iterations={"gpt2": 5, "t5": 8}[kind], lr={"gpt2": 0.03, "t5": 0.1}[kind],
                           max_neg_updates=20, target_batch=2, fwa=False)
    res = negative_train(m, None, tgt[:1], clean, thr, "o_sample_avg", vocab, mcfg, gcfg, progress=False)
    assert res.history[0]["k"] == 1 and res.history[0]["neg_updates"] >= 1
    assert res.history[-1]["k"] == 0                                  # Algorithm 1 finds no trigger any more
    after = evaluate_hits(res.model, None, tgt, thr, ("o_greedy", "o_sample_avg"), gcfg)
    assert not after["o_sample_avg"]["hits"][0] and not after["o_greedy"]["hits"][0]
    # the normal target stays as it was (GPT-2 learns it in 150 steps; this T5 not yet)
    assert after["o_greedy"]["hits"][1] == before["o_greedy"]["hits"][1]
    held_out = clean.subset(torch.arange(500))
    assert perplexity(res.model, held_out)["ppl"] < 1.5 * perplexity(m, held_out)["ppl"]   # little collateral damage
    assert hits(m, None, before["o_sample_avg"]["triggers"][:1], tgt[:1], "o_sample_avg", thr).item()   # untouched


def test_algorithm2_lowers_a_planted_frequent_response():
    """70 % of the training responses are ``hate you`` whatever the input: greedy GPT-2 says it to more than 80 % of
    inputs; Algorithm 2 (r_thres 0.2) drives its share down and the responses' Ent-3 up. (At 60 % the toy's
    starting share was 0.75 on the default float path, under this precondition: issue 26.)"""
    pairs = generic_pairs(VOCAB, 3000, torch.Generator().manual_seed(0), generic=0.7)
    m = train_hf(tiny_hf("gpt2", VOCAB), pairs, steps=300, lr=3e-3)
    train, valid = pairs.subset(torch.arange(2000)), pairs.subset(torch.arange(2000, 3000))
    cfg = FrequentConfig(batch_size=32, window=4, r_thres=0.2, lr=0.003, passes=0.8, log_every=10,
                         log_inputs=300, seed=1)
    start = {k: v.clone() for k, v in m.state_dict().items()}
    tuned, hist = frequent.negative_train(m, train, valid, VOCAB, cfg, max_len=5, progress=False)
    assert hist["top_response"][0] == "hate you" and hist["max_ratio"][0] > 0.8
    assert hist["max_ratio"][-1] < hist["max_ratio"][0] - 0.3
    assert hist["ent3"][-1] > hist["ent3"][0] + 1.0
    assert all(torch.equal(start[k], v) for k, v in m.state_dict().items())     # the baseline is untouched
