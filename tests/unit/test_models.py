"""ntlib.methods.models: teacher forcing agrees with step-by-step decoding; one-hot inputs agree with ids."""
import pytest
import torch

from ntlib.data.dataset import BOS, EOS, PAD
from ntlib.methods.models import build_model, shift_right
from ntlib.run.config import ModelConfig

torch.set_num_threads(1)
V, CFG = 12, ModelConfig(emb=8, hidden=10, dropout=0.3)


def model(kind):
    torch.manual_seed(0)
    return build_model(kind, V, CFG).eval()


SRC = torch.tensor([[PAD, PAD, 5, 6, 7], [4, 8, 9, 10, 11]])        # left-padded (B, S)
TGT = torch.tensor([[5, 6, EOS, PAD], [7, 8, 9, EOS]])              # y + <eos>, right-padded


def test_shift_right_prepends_bos():
    assert shift_right(TGT).tolist() == [[BOS, 5, 6, EOS], [BOS, 7, 8, 9]]


def test_seq2seq_teacher_forcing_equals_step_by_step():
    m = model("seq2seq")
    with torch.no_grad():
        lp = m.token_logprobs(SRC, TGT)                                 # (B, T)
        enc, state, mask = m.encode(SRC)
        y, manual = torch.full((2,), BOS), []
        for t in range(TGT.shape[1]):
            step_lp, state = m.step(y, state, enc, mask)                # (B, V)
            manual.append(step_lp.gather(1, TGT[:, t:t + 1]).squeeze(1))
            y = TGT[:, t]
    manual = torch.stack(manual, 1).masked_fill(TGT == PAD, 0.0)
    assert lp.shape == TGT.shape and (lp[TGT == PAD] == 0).all()
    assert torch.allclose(lp, manual, atol=1e-5)
    assert mask.tolist() == (SRC != PAD).tolist()


def test_seq2seq_onehot_source_equals_ids_and_has_gradient():
    m = model("seq2seq")
    src = SRC[1:]                                                       # no padding
    onehot = torch.nn.functional.one_hot(src, V).float().requires_grad_()
    lp_ids = m.token_logprobs(src, TGT[1:])
    lp_onehot = m.token_logprobs(None, TGT[1:], src_onehot=onehot)
    assert torch.allclose(lp_ids, lp_onehot, atol=1e-5)
    lp_onehot.sum().backward()
    assert onehot.grad is not None and onehot.grad.abs().sum() > 0     # App. A eq. 10


def test_attention_ignores_padding_positions():
    m = model("seq2seq")
    enc, state, mask = m.encode(SRC)
    h = torch.randn(2, 3, CFG.hidden)
    ref = m.attend(h, enc, mask)
    enc2 = enc.clone()
    enc2[0, :2] = 100.0                                                 # garbage under the PADs
    assert torch.allclose(m.attend(h, enc2, mask)[0], ref[0], atol=1e-6)


def test_lm_onehot_logprobs_equal_token_logprobs():
    m = model("lm")
    words = torch.tensor([[5, 6, 7], [8, 9, 10]])
    tgt = torch.cat([words, torch.full((2, 1), EOS)], 1)
    lp = m.token_logprobs(tgt)[:, :3]                                  # without the <eos> term
    onehot = torch.nn.functional.one_hot(words, V).float()
    assert torch.allclose(m.onehot_logprobs(onehot), lp, atol=1e-5)


def test_probabilities_are_normalised_and_dropout_only_in_train():
    m = model("seq2seq")
    with torch.no_grad():
        enc, state, mask = m.encode(SRC)
        lp, _ = m.step(torch.full((2,), BOS), state, enc, mask)
        assert torch.allclose(lp.exp().sum(-1), torch.ones(2), atol=1e-5)
        assert torch.equal(m.token_logprobs(SRC, TGT), m.token_logprobs(SRC, TGT))
        m.train()
        assert not torch.equal(m.token_logprobs(SRC, TGT), m.token_logprobs(SRC, TGT))


def test_build_model_rejects_unknown_kind():
    with pytest.raises(ValueError, match="unknown model kind"):
        build_model("transformer", V, CFG)


@pytest.mark.parametrize("kind", ["lm", "seq2seq"])
def test_token_logprobs_project_only_real_tokens_with_the_full_forms_values_and_gradients(kind):
    """token_logprobs skips the output projection at PAD (a speed-up): same values and gradients
    as log_softmax(forward(...)) gathered at the targets, zero at PAD."""
    from ntlib.methods.negative_losses import token_logprobs
    torch.manual_seed(0)
    m = model(kind).eval()
    tgt = torch.tensor([[5, 6, 7, EOS], [8, EOS, PAD, PAD], [9, 9, EOS, PAD]])
    src = torch.tensor([[PAD, 5, 6], [7, 8, 9], [PAD, PAD, 5]])
    packed = m.token_logprobs(tgt) if kind == "lm" else m.token_logprobs(src, tgt)
    g_packed = torch.autograd.grad(packed.sum(), m.out.weight)[0]
    logits = m(shift_right(tgt))[0] if kind == "lm" else m(src, tgt)
    full = token_logprobs(logits, tgt)
    g_full = torch.autograd.grad(full.sum(), m.out.weight)[0]
    assert packed.dtype == torch.float32 and packed.shape == tgt.shape
    assert torch.allclose(packed, full, atol=1e-6) and (packed[tgt == PAD] == 0).all()
    assert torch.allclose(g_packed, g_full, atol=1e-6)
