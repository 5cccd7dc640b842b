"""NPO (Zhang et al. 2024) and SimNPO (Fan et al. 2024) in ntlib.methods.negative_losses: hand-computed values on a
2-row example, NPO at θ = ref is (2/β)·log 2 per row with nll's gradient, the negative step lowers the negative's
log-probability on a tiny seq2seq, and both algorithms run them (NPO against a frozen copy of the baseline)."""
import math
from collections import Counter

import pytest
import torch

from ntlib.data.dataset import EOS, PAD, Vocab
from ntlib.methods import frequent, malicious, negative_losses
from ntlib.methods.decode import respond
from ntlib.methods.evaluate import seq2seq_nll
from ntlib.methods.models import build_model
from ntlib.methods.train import sgd_step
from ntlib.run.config import FrequentConfig, ModelConfig

NEW = ("npo", "simnpo")


def _softplus(z):
    return math.log1p(math.exp(z))


# 2 rows, V = 4 (id 0 is PAD): row 0 the tokens (1, 3) with P = 0.25 and 0.7; row 1 the token 3 with P = 0.5, PAD
P = [[[0.1, 0.25, 0.4, 0.25], [0.1, 0.1, 0.1, 0.7]], [[0.1, 0.2, 0.2, 0.5], [0.4, 0.2, 0.2, 0.2]]]
LOGITS = torch.log(torch.tensor(P))                       # (2, 2, 4)
SAMPLES = torch.tensor([[1, 3], [3, PAD]])
LP = [[math.log(0.25), math.log(0.7)], [math.log(0.5), 0.0]]


def test_npo_hand_computed_on_two_rows():
    ref = torch.tensor([[math.log(0.5), math.log(0.5)], [math.log(0.25), 0.0]])     # the reference's log P
    w = torch.tensor([[1.0, 0.1], [1.0, 0.0]])                                        # <eos>-like 0.1, PAD 0
    beta = 0.1
    r0 = (LP[0][0] - math.log(0.5)) + 0.1 * (LP[0][1] - math.log(0.5))
    r1 = LP[1][0] - math.log(0.25)
    rows = [2 / beta * _softplus(beta * r0), 2 / beta * _softplus(beta * r1)]
    got = negative_losses.npo_rows(LOGITS, SAMPLES, w, ref, beta)
    assert got.tolist() == pytest.approx(rows, rel=1e-5)
    assert float(negative_losses.npo_negative_loss(LOGITS, SAMPLES, w, reference=ref)) == pytest.approx(sum(rows), rel=1e-5)
    # Algorithm 1's row weights (1 hit, 0.01 miss); β = 1
    rows1 = [2 * _softplus(r0), 2 * _softplus(r1)]
    got = negative_losses.npo_negative_loss(LOGITS, SAMPLES, w, torch.tensor([1.0, 0.01]), reference=ref, beta=1.0)
    assert float(got) == pytest.approx(rows1[0] + 0.01 * rows1[1], rel=1e-5)


def test_simnpo_hand_computed_on_two_rows():
    w = torch.tensor([[1.0, 1.0], [1.0, 0.0]])
    beta, gamma = 2.5, 0.0
    avg0, avg1 = (LP[0][0] + LP[0][1]) / 2, LP[1][0] / 1                  # |y| = 2 and 1 (PAD not counted)
    rows = [2 / beta * _softplus(beta * avg0 + gamma), 2 / beta * _softplus(beta * avg1 + gamma)]
    assert negative_losses.simnpo_rows(LOGITS, SAMPLES, w).tolist() == pytest.approx(rows, rel=1e-5)
    assert float(negative_losses.simnpo_negative_loss(LOGITS, SAMPLES, w)) == pytest.approx(sum(rows), rel=1e-5)
    rows_g = [2 / 0.5 * _softplus(0.5 * avg0 + 1.0), 2 / 0.5 * _softplus(0.5 * avg1 + 1.0)]
    got = negative_losses.simnpo_negative_loss(LOGITS, SAMPLES, w, beta=0.5, gamma=1.0)
    assert float(got) == pytest.approx(sum(rows_g), rel=1e-5)


def test_rows_that_do_not_count_give_zero_and_errors_are_clear():
    w = torch.tensor([[1.0, 1.0], [0.0, 0.0]])                  # row 1 not flagged (Algorithm 2)
    ref = torch.zeros(2, 2)
    assert float(negative_losses.npo_negative_loss(LOGITS, SAMPLES, w, reference=ref)) == pytest.approx(
        float(negative_losses.npo_rows(LOGITS, SAMPLES, w, ref)[0]), rel=1e-6)
    assert float(negative_losses.simnpo_negative_loss(LOGITS, SAMPLES, w)) == pytest.approx(
        float(negative_losses.simnpo_rows(LOGITS, SAMPLES, w)[0]), rel=1e-6)
    with pytest.raises(ValueError, match="npo needs reference="):
        negative_losses.npo_negative_loss(LOGITS, SAMPLES, w)
    with pytest.raises(ValueError, match="must match the samples"):
        negative_losses.npo_negative_loss(LOGITS, SAMPLES, w, reference=torch.zeros(2, 3))
    with pytest.raises(ValueError, match="beta = 0"):
        negative_losses.simnpo_negative_loss(LOGITS, SAMPLES, w, beta=0)
    assert negative_losses.needs_reference("npo") and not negative_losses.needs_reference("simnpo")
    assert not negative_losses.needs_reference("nll")
    assert set(NEW) <= set(negative_losses.NEGATIVE_LOSSES)


# -- on a tiny seq2seq ----------------------------------------------------------------------------------
def _tiny():
    torch.manual_seed(0)
    model = build_model("seq2seq", 12, ModelConfig(emb=8, hidden=16, dropout=0.0))
    x = torch.tensor([[5, 6, 7, 3], [8, 9, 10, 11]])
    y = torch.tensor([[8, 9, EOS], [6, EOS, PAD]])
    return model, x, y


def test_npo_at_the_reference_is_two_over_beta_log_two_per_row_with_nlls_gradient():
    model, x, y = _tiny()
    ref = negative_losses.frozen_reference(model)
    assert not any(p.requires_grad for p in ref.parameters()) and not ref.training
    ref_lp = negative_losses.reference_logprobs(ref, x, y)
    w = (y != PAD).float()
    for beta in (0.1, 1.0):
        rows = negative_losses.npo_rows(model(x, y), y, w, ref_lp, beta)
        assert rows.tolist() == pytest.approx([2 / beta * math.log(2)] * 2, rel=1e-6)
    # ∇ NPO = 2σ(β·0)·∇ Σ log P = ∇ nll at θ = ref
    params = [p for p in model.parameters() if p.requires_grad]
    g_npo = torch.autograd.grad(negative_losses.npo_negative_loss(model(x, y), y, w, reference=ref_lp), params)
    g_nll = torch.autograd.grad(negative_losses.nll_negative_loss(model(x, y), y, w), params)
    for a, b in zip(g_npo, g_nll):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", NEW)
def test_the_negative_step_lowers_the_negatives_logprob(name):
    model, x, y = _tiny()
    ref_lp = negative_losses.reference_logprobs(negative_losses.frozen_reference(model), x, y)
    kw = {"reference": ref_lp} if negative_losses.needs_reference(name) else {}
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    before = model.token_logprobs(x, y).sum(1).detach()
    for step in range(3):
        opt.zero_grad()
        negative_losses.get_negative_loss(name)(model(x, y), y, (y != PAD).float(), **kw).backward()
        opt.step()
        after = model.token_logprobs(x, y).sum(1).detach()
        assert (after < before).all(), f"{name}: step {step} did not lower every row's log P"
        before = after


@pytest.mark.parametrize("name", NEW)
def test_algorithm_1_loss_takes_the_new_losses(name):
    model, x, y = _tiny()
    ref_lp = negative_losses.reference_logprobs(negative_losses.frozen_reference(model), x, y)
    ref_arg = ref_lp if name == "npo" else None
    v = malicious.negative_loss(model(x, y), y, torch.tensor([EOS]), torch.tensor([1.0, 0.01]), name, ref_arg)
    w = ((y != PAD) & (y != EOS)).float()
    kw = {"reference": ref_lp} if name == "npo" else {}
    want = negative_losses.get_negative_loss(name)(model(x, y), y, w, torch.tensor([1.0, 0.01]), **kw) / 5   # 5 tokens
    assert v.item() == pytest.approx(want.item(), rel=1e-6)


# -- Algorithm 2 on the toy model of test_frequent --------------------------------------------------------
@pytest.mark.parametrize("name", NEW)
def test_algorithm_2_with_npo_and_simnpo_lowers_the_frequent_response(name):
    from test_frequent import _toy_data  # tests/ is on sys.path
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    vocab = Vocab([f"w{i}" for i in range(4, 25)])
    train, valid = _toy_data(2048, gen), _toy_data(256, gen)
    model = build_model("seq2seq", len(vocab), ModelConfig(emb=16, hidden=32, dropout=0.0))
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    for _ in range(300):
        idx = torch.randint(0, len(train), (64,), generator=gen)
        nll, n = seq2seq_nll(model, train.src[idx], train.tgt[idx])
        sgd_step(model, opt, nll / n, 5.0)
    generic = "w19 w20"
    before = Counter(respond(model, valid.src, vocab, max_len=20))[generic] / len(valid)
    assert before > 0.9
    snapshot = [p.detach().clone() for p in model.parameters()]
    # test_frequent's nll run. SimNPO's gradient is 2σ(β·avg log P)/|y| times nll's direction: on this toy's
    # flagged "w19 w20 <eos>" (|y| = 3) 0.30 of nll's norm (measured: 17.4 vs 57.8; NPO starts at nll's), and the
    # learning rate scales the positive step too, so under λ_POS = 1 the positive step wins (measured: max-ratio
    # stays 1.0 at lr 0.02-0.2); the same balance as nll's needs λ_POS ≈ 0.3. Measured max-ratio, 1.0 before:
    # npo min 0.45 (λ_POS 1), simnpo min 0.75 (λ_POS 0.3)
    cfg = FrequentConfig(r_thres=0.3, window=4, lr=0.02, batch_size=64, passes=1.0, log_every=10, log_inputs=64,
                         seed=1, negative_loss=name, lambda_pos=0.3 if name == "simnpo" else 1.0)
    tuned, hist = frequent.negative_train(model, train, valid, vocab, cfg, max_len=5, progress=False)
    assert min(hist["max_ratio"][1:]) < before - 0.2, f"{name}: {hist['max_ratio']}"
    assert all(torch.equal(a, b) for a, b in zip(snapshot, model.parameters()))     # the baseline untouched
