"""The algorithms' interface (ntlib.methods.adapter) on the LSTM models: the same bits as the code before it.

``candidate_losses_before``, ``generate_before`` and ``lm_sample_before`` are gibbs-enum's candidate scorer,
decoding's token loop and the io- start sampler as of commit 62a7602 (before the adapter), verbatim but for
names and comments: the LSTM models' adapter methods must return their bits exactly (on this CPU a row's
float result can depend on its batch, so nothing here is a tolerance). The generic forms of the base classes
(full forward passes, used by models without the LSTMs' prefix reuse) agree with the LSTMs' to rounding.
The rest of the search (``onehot_gradient`` and the search loop) is held to its earlier form by
tests/unit/test_gibbs_enum_lockstep.py.
"""
import pytest
import torch
import torch.nn.functional as F
from toys import train_toy  # the planted toy model (tests/ is on sys.path)

from ntlib.data.dataset import BOS, EOS, PAD, encode_sentences, trim
from ntlib.machine.device import multinomial
from ntlib.methods.adapter import DialogueModel, SourceLM, eval_mode, lm_view, shift_right
from ntlib.methods.decode import NEVER, greedy, sample
from ntlib.methods.gibbs_enum import _candidate_losses, _top_candidates, gibbs_enum
from ntlib.methods.models import LSTMLM, Seq2Seq, project_logprobs
from ntlib.methods.triggers import SPECIALS_AND_EOU, close_with_eou, lm_sample_triggers, random_triggers
from ntlib.run.config import GibbsConfig, ModelConfig

torch.set_num_threads(1)


# -- the code before the adapter (62a7602) ------------------------------------------------
@torch.no_grad()
def candidate_losses_before(seq2seq, lm, x, tgt, lambda_in, pos, cand, chunk_size):
    B, n = x.shape
    G = cand.shape[1]
    m = (tgt != PAD).sum(1).clamp(min=1)
    emb = seq2seq.src_embedding
    if pos > 0:
        enc_pre, (h0, c0) = seq2seq.encoder(emb(x[:, :pos]))
    if lambda_in:
        lm_logits, (lh, lc) = lm(torch.cat([torch.full_like(x[:, :1], BOS), x[:, :pos]], 1))
        lm_lp = F.log_softmax(lm_logits, -1)
        lm_pre = lm_lp[:, :pos].gather(-1, x[:, :pos].unsqueeze(-1)).sum((1, 2))
        lm_at = lm_lp[:, pos].gather(1, cand)
    dev = x.device
    row_t = torch.arange(B, device=dev).repeat_interleave(G)
    flat = cand.reshape(-1)
    out = torch.empty(B * G, device=dev)
    for i in range(0, B * G, chunk_size):
        r, c = row_t[i:i + chunk_size], flat[i:i + chunk_size]
        suffix = x[r, pos:].clone()
        suffix[:, 0] = c
        state = None if pos == 0 else (h0[:, r], c0[:, r])
        enc_suf, state = seq2seq.encoder(emb(suffix), state)
        enc = enc_suf if pos == 0 else torch.cat([enc_pre[r], enc_suf], 1)
        t = trim(tgt[r])
        mask = torch.ones(enc.shape[:2], dtype=torch.bool, device=dev)
        h_att, _ = seq2seq.attentional_states(shift_right(t), enc, state, mask)
        real = t != PAD
        lp = project_logprobs(seq2seq.out, h_att[real], t[real])
        loss = -torch.zeros(len(r), device=dev).index_add_(0, real.nonzero()[:, 0], lp) / m[r]
        if lambda_in:
            lm_lp_sum = lm_pre[r] + lm_at.reshape(-1)[i:i + chunk_size]
            if pos < n - 1:
                hs, _ = lm.hidden_states(suffix[:, :-1], state=(lh[:, r], lc[:, r]))
                nxt = lm_view(suffix[:, 1:])
                lm_lp_sum = lm_lp_sum + project_logprobs(
                    lm.out, hs.reshape(-1, hs.shape[-1]), nxt.reshape(-1)).view(nxt.shape).sum(1)
            loss = loss - lambda_in * lm_lp_sum / n
        out[i:i + len(r)] = loss
    return out.view(B, G)


@torch.no_grad()
def generate_before(model, src, max_len, pick):
    with eval_mode(model):
        enc, state, mask = model.encode(src)
        B = src.shape[0]
        y = torch.full((B,), BOS, dtype=torch.long)
        done = torch.zeros(B, dtype=torch.bool)
        out = []
        for _ in range(max_len):
            logprobs, state = model.step(y, state, enc, mask)
            logprobs[:, list(NEVER)] = float("-inf")
            y = pick(logprobs).masked_fill(done, PAD)
            out.append(y)
            done |= y == EOS
            if bool(done.all()):
                break
        if not bool(done.all()):
            out.append(torch.where(done, PAD, EOS))
        return torch.stack(out, dim=1)


@torch.no_grad()
def lm_sample_before(lm, rows, n, generator):
    x = torch.full((rows, 1), BOS, dtype=torch.long)
    state, out = None, []
    for _ in range(n - 1):
        logits, state = lm(x[:, -1:], state=state)
        logits = logits[:, -1].clone()
        logits[:, list(SPECIALS_AND_EOU)] = float("-inf")
        nxt = multinomial(torch.softmax(logits, -1), generator).unsqueeze(1)
        out.append(nxt)
        x = nxt
    return close_with_eou(torch.cat(out, 1))


# -- models ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def toy():
    return train_toy()


def random_models(vocab_size, seed=5):
    torch.manual_seed(seed)
    cfg = ModelConfig(emb=16, hidden=32, dropout=0.0)
    return Seq2Seq(vocab_size, cfg).eval(), LSTMLM(vocab_size, cfg).eval()


def models(toy):
    return [random_models(len(toy[0])), toy[1:3]]


TARGETS = [["hate", "you"], ["r1", "r2"], ["r7"], ["a1", "you", "r0"], ["p", "r3", "a2", "r5", "you"]]


def test_the_lstm_models_implement_the_interface():
    s2s, lm = random_models(20)
    assert isinstance(s2s, DialogueModel) and isinstance(lm, SourceLM)
    ok = s2s.searchable()
    assert ok.shape == (20,) and not ok[[PAD, BOS, EOS, 4]].any() and ok[[1] + list(range(5, 20))].all()
    x = random_triggers(3, 15, 20, torch.Generator().manual_seed(0))
    assert torch.equal(s2s.source_embeddings(x), s2s.embedding_matrix()[x])        # e = onehot @ E


@pytest.mark.parametrize("lambda_in", [0.0, 1.0])
@pytest.mark.parametrize("pos", [0, 6, 13])
def test_candidate_scoring_is_bitwise_the_scorer_before_the_adapter(toy, lambda_in, pos):
    tgt = trim(encode_sentences(TARGETS, toy[0], max_len=20))
    x = random_triggers(len(tgt), 15, len(toy[0]), torch.Generator().manual_seed(1))
    for s2s, lm in models(toy):
        cand = _top_candidates(s2s, lm, x, tgt, lambda_in, pos, 9)
        for chunk in (7, 1000):                                   # chunks that split targets, and one pass
            assert torch.equal(_candidate_losses(s2s, lm, x, tgt, lambda_in, pos, cand, chunk),
                               candidate_losses_before(s2s, lm, x, tgt, lambda_in, pos, cand, chunk))


@pytest.mark.parametrize("pos", [0, 6, 13])
def test_generic_candidate_scoring_agrees_with_the_lstms_prefix_reuse(toy, pos):
    """The base classes' full-forward scorers (what a model without its own uses) against the LSTMs'."""
    tgt = trim(encode_sentences(TARGETS, toy[0], max_len=20))
    x = random_triggers(len(tgt), 15, len(toy[0]), torch.Generator().manual_seed(2))
    s2s, lm = toy[1:3]
    cand = _top_candidates(s2s, lm, x, tgt, 1.0, pos, 9)
    with eval_mode(s2s, lm):
        torch.testing.assert_close(DialogueModel.candidate_losses(s2s, x, tgt, pos, cand, 7),
                                   s2s.candidate_losses(x, tgt, pos, cand, 7), rtol=0, atol=1e-5)
        torch.testing.assert_close(SourceLM.candidate_logprob_sums(lm, x, pos, cand, 7),
                                   lm.candidate_logprob_sums(x, pos, cand, 7), rtol=0, atol=1e-4)
        assert torch.equal(SourceLM.trigger_input_embeddings(lm, x), lm.trigger_input_embeddings(x))


def test_decoding_through_the_interface_is_bitwise_the_loop_before(toy):
    vocab, s2s, lm, pairs, plant = toy
    src = pairs.src[:40]
    assert torch.equal(greedy(s2s, src, 6), generate_before(s2s, src, 6, lambda lp: lp.argmax(-1)))
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    new = sample(s2s, src, 6, generator=g1)
    old = generate_before(s2s, src, 6, lambda lp: multinomial(torch.softmax(lp, -1), g2))
    assert torch.equal(new, old)
    g1, g2 = torch.Generator().manual_seed(4), torch.Generator().manual_seed(4)
    with eval_mode(lm):
        assert torch.equal(lm_sample_triggers(lm, 6, 15, g1), lm_sample_before(lm, 6, 15, g2))


def test_io_search_runs_on_the_interface_alone(toy):
    """gibbs-enum, io-: every LM call goes through SourceLM (an LM without the LSTM methods would fail)."""
    vocab, s2s, lm = toy[:3]
    tgt = encode_sentences([["hate", "you"]], vocab, max_len=20)
    res = gibbs_enum(s2s, tgt, GibbsConfig(sweeps=1, candidates=4, restarts=1), lm=lm, io=True)
    with eval_mode(lm):
        lp = lm.trigger_logprobs(res.triggers)
    assert res.triggers.shape == (1, 15) and lp.shape == (1, 15) and bool(torch.isfinite(res.loss).all())


def test_hugging_face_models_without_the_extra_say_how_to_install_it(monkeypatch):
    from ntlib.methods import adapter_hf
    monkeypatch.setattr(adapter_hf, "transformers", None)      # as without `pip install -e ".[hf]"`
    with pytest.raises(ImportError, match=r'pip install -e "\.\[hf\]"'):
        adapter_hf.tiny_gpt2(20)
