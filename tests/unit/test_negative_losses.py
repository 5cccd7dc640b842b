"""ntlib.methods.negative_losses: the one interface of Algorithms 1 and 2 — hand-computed values, gradients on a
toy distribution (the negative falls, no leakage across rows, a positive falls by at most a stated
bound), and the paper's loss unchanged bit for bit in both algorithms."""
import math

import pytest
import torch
import torch.nn.functional as F

from ntlib.data.dataset import EOS, PAD
from ntlib.methods import frequent, malicious, negative_losses
from ntlib.methods.models import build_model
from ntlib.run.config import ModelConfig

LOSSES = ("nll", "unlikelihood", "cringe")


def _toy(seed=0, B=3, T=4, V=9):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(B, T, V, generator=g) * 2
    samples = torch.randint(5, V, (B, T), generator=g)     # words (ids ≥ 5: not the specials)
    samples[1 % B, -1] = PAD
    samples[2 % B, -2:] = PAD
    samples[0, -1] = EOS
    return logits, samples


# -- hand-computed values ---------------------------------------------------------------------------
def test_hand_computed_values_on_a_tiny_logits_tensor():
    logits = torch.tensor([[[2.0, 0.0, 1.0, -1.0, 0.5, 0.0]]])     # B = T = 1, V = 6
    y = torch.tensor([[5]])                                          # the negative token: logit 0
    w = torch.ones(1, 1)
    lse = math.log(sum(math.exp(v) for v in (2.0, 0.0, 1.0, -1.0, 0.5, 0.0)))
    lp = 0.0 - lse
    assert negative_losses.nll_negative_loss(logits, y, w).item() == pytest.approx(lp, rel=1e-6)
    assert negative_losses.unlikelihood_negative_loss(logits, y, w).item() == pytest.approx(-math.log(1 - math.exp(lp)), rel=1e-6)
    # CRINGE, k = 1: the positive is the top token that is not the negative (id 0, logit 2)
    terms = negative_losses.cringe_terms(logits, y, k=1)
    assert terms.item() == pytest.approx(-math.log(math.exp(2.0) / (math.exp(2.0) + math.exp(0.0))), rel=1e-6)
    assert terms.item() == pytest.approx(math.log1p(math.exp(0.0 - 2.0)), rel=1e-6)     # softplus(s⁻ − s⁺)
    # the negative is the arg-max: the positive is the runner-up (id 2, logit 1)
    top_neg = torch.tensor([[[0.0, 0.0, 1.0, -1.0, 0.5, 2.0]]])
    assert negative_losses.cringe_terms(top_neg, y, k=1).item() == pytest.approx(math.log1p(math.exp(2.0 - 1.0)), rel=1e-6)
    # weights and row weights (Algorithm 1's form): Σ_b v_b Σ_t w_bt ℓ_bt
    two = logits.expand(2, 1, 6)
    yy = torch.tensor([[5], [5]])
    got = negative_losses.nll_negative_loss(two, yy, torch.tensor([[0.5], [1.0]]), torch.tensor([1.0, 0.01]))
    assert got.item() == pytest.approx(0.5 * lp + 0.01 * lp, rel=1e-6)


def test_cringe_positive_is_one_of_the_top_k_other_tokens():
    logits, samples = _toy(1, B=4, T=6, V=12)
    torch.manual_seed(0)
    for _ in range(20):
        pos = negative_losses.cringe_positives(logits, samples, k=3)
        top4 = logits.topk(4, -1).indices
        for b in range(4):
            for t in range(6):
                allowed = [i for i in top4[b, t].tolist() if i != samples[b, t].item()][:3]
                assert pos[b, t].item() in allowed
    # with k = 5 every one of the 5 candidates is drawn (here: near-equal logits)
    flat = torch.zeros(1, 1, 12)
    flat[0, 0, :6] = torch.tensor([1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    seen = {negative_losses.cringe_positives(flat, torch.tensor([[2]])).item() for _ in range(200)}
    assert seen == {0, 1, 3, 4, 5}


def test_cringe_sampling_follows_the_seed():
    logits, samples = _toy(2, B=3, T=5, V=20)
    torch.manual_seed(7)
    a = negative_losses.cringe_positives(logits, samples)
    torch.manual_seed(7)
    assert torch.equal(a, negative_losses.cringe_positives(logits, samples))


def test_registry_and_clear_errors():
    assert set(negative_losses.NEGATIVE_LOSSES) >= set(LOSSES)
    assert negative_losses.get_negative_loss("cringe") is negative_losses.cringe_negative_loss
    with pytest.raises(ValueError, match=r"malicious.*'nope'.*cringe"):
        negative_losses.get_negative_loss("nope", where="malicious negative loss")
    with pytest.raises(ValueError, match="k = 0"):
        negative_losses.cringe_positives(torch.zeros(1, 1, 5), torch.tensor([[1]]), k=0)


# -- gradients on a toy distribution -----------------------------------------------------------------
@pytest.mark.parametrize("name", LOSSES)
def test_the_negatives_logprob_falls_after_one_sgd_step(name):
    logits, samples = _toy(3)
    s = logits.clone().requires_grad_(True)                  # free logits: the toy distribution
    w = (samples != PAD).float()
    before = negative_losses.token_logprobs(s, samples).detach()
    torch.manual_seed(0)
    negative_losses.get_negative_loss(name)(s, samples, w).backward()
    with torch.no_grad():
        s -= 0.5 * s.grad
    after = negative_losses.token_logprobs(s, samples).detach()
    real = samples != PAD
    assert (after[real] < before[real]).all(), f"{name}: some negative token's log-probability did not fall"
    assert torch.equal(after[~real], before[~real])          # PAD: 0, untouched


@pytest.mark.parametrize("name", LOSSES)
@pytest.mark.parametrize("algorithm", ("alg1_row_weights", "alg2_token_weights"))
def test_no_leakage_across_rows(name, algorithm):
    """A row's loss gives every other row of the batch exactly zero gradient (unlikelihood_training #11)."""
    logits, samples = _toy(4, B=4, T=5, V=10)
    for b in range(4):
        s = logits.clone().requires_grad_(True)
        w = (samples != PAD).float()
        if algorithm == "alg1_row_weights":
            rows = torch.zeros(4)
            rows[b] = 1.0
            torch.manual_seed(0)
            negative_losses.get_negative_loss(name)(s, samples, w, rows).backward()
        else:
            w = w * (torch.arange(4) == b).float().unsqueeze(1)
            torch.manual_seed(0)
            negative_losses.get_negative_loss(name)(s, samples, w).backward()
        others = torch.arange(4) != b
        assert torch.count_nonzero(s.grad[others]) == 0, f"{name}: row {b}'s loss leaks into other rows"
        assert torch.count_nonzero(s.grad[b]) > 0


@pytest.mark.parametrize("name", LOSSES)
def test_positive_tokens_fall_by_at_most_the_stated_bound_free_logits(name):
    """Free logits s, one SGD step of size η: every token j's log-probability changes by
    Δs_j − Δlogsumexp(s) ≥ −2·η·‖∇_s L‖_∞ — the stated bound for any token not the negative; and
    under CRINGE the sampled positive's log-probability rises."""
    logits, samples = _toy(5, B=3, T=3, V=8)
    eta = 0.5
    s = logits.clone().requires_grad_(True)
    w = (samples != PAD).float()
    torch.manual_seed(1)
    pos = negative_losses.cringe_positives(logits, samples)
    if name == "cringe":
        L = negative_losses.reduce(negative_losses.cringe_terms(s, samples, positives=pos), w)
    else:
        L = negative_losses.get_negative_loss(name)(s, samples, w)
    L.backward()
    bound = 2 * eta * s.grad.abs().amax(-1)                              # (B, T)
    before = torch.log_softmax(logits, -1)
    with torch.no_grad():
        s -= eta * s.grad
    after = torch.log_softmax(s.detach(), -1)
    delta = after - before                                               # (B, T, V)
    other = torch.ones_like(delta, dtype=torch.bool).scatter(-1, samples.unsqueeze(-1), False)
    assert (delta[other] >= -bound.unsqueeze(-1).expand_as(delta)[other] - 1e-6).all()
    if name == "cringe":
        real = samples != PAD
        d_pos = delta.gather(-1, pos.unsqueeze(-1)).squeeze(-1)
        assert (d_pos[real] > 0).all()


@pytest.mark.parametrize("name", LOSSES)
def test_tiny_seq2seq_negative_falls_positive_pair_within_bound(name):
    """A real (tiny) seq2seq: one SGD step on a negative pair lowers its log-probability; the log-probability
    f of a positive pair falls by at most 2·η·‖∇f‖·‖∇L‖ (first-order Cauchy–Schwarz bound, ×2 slack)."""
    torch.manual_seed(0)
    model = build_model("seq2seq", 12, ModelConfig(emb=8, hidden=16, dropout=0.0))
    x_neg, y_neg = torch.tensor([[5, 6, 7, 3]]), torch.tensor([[8, 9, EOS]])
    x_pos, y_pos = torch.tensor([[10, 11, 5, 3]]), torch.tensor([[6, 7, 11, EOS]])
    params = [p for p in model.parameters() if p.requires_grad]

    def f_pos():
        return model.token_logprobs(x_pos, y_pos).sum()

    def f_neg():
        return model.token_logprobs(x_neg, y_neg).sum()
    g_f = torch.autograd.grad(f_pos(), params)
    torch.manual_seed(3)
    L = negative_losses.get_negative_loss(name)(model(x_neg, y_neg), y_neg, (y_neg != PAD).float())
    g_L = torch.autograd.grad(L, params)
    eta = 0.05
    norm = lambda gs: math.sqrt(sum(float((g * g).sum()) for g in gs))
    bound = 2 * eta * norm(g_f) * norm(g_L)
    with torch.no_grad():
        neg0, pos0 = float(f_neg()), float(f_pos())
        for p, g in zip(params, g_L):
            p -= eta * g
        neg1, pos1 = float(f_neg()), float(f_pos())
    assert neg1 < neg0
    assert pos1 - pos0 >= -bound, f"{name}: positive fell by {pos0 - pos1:.4g} > bound {bound:.4g}"


# -- the paper's loss is unchanged, bit for bit, in both algorithms -----------------------------------
def _old_frequent_nll(logits, samples, weights):
    return (F.log_softmax(logits, dim=-1).gather(-1, samples.unsqueeze(-1)).squeeze(-1) * weights).sum()


def _old_frequent_unlikelihood(logits, samples, weights):
    p = F.log_softmax(logits, dim=-1).gather(-1, samples.unsqueeze(-1)).squeeze(-1).exp().clamp(max=1.0 - 1e-6)
    return -(torch.log1p(-p) * weights).sum()


def _old_malicious(logits, tgt, avoid=None, weights=None):
    lp = torch.log_softmax(logits, -1).gather(-1, tgt.unsqueeze(-1)).squeeze(-1).masked_fill(tgt == PAD, 0.0)
    w = (tgt != PAD)
    n_tokens = int(w.sum())
    if avoid is not None and avoid.numel():
        w = w & ~torch.isin(tgt, avoid)
    sent = (lp * w).sum(1)
    if weights is not None:
        sent = sent * weights
    return sent.sum() / max(1, n_tokens)


def _value_and_grad(fn, logits, *args):
    s = logits.clone().requires_grad_(True)
    v = fn(s, *args)
    v.backward()
    return v.detach(), s.grad


@pytest.mark.parametrize("seed", range(5))
def test_algorithm_2_losses_bit_identical_to_before(seed):
    logits, samples = _toy(seed, B=6, T=7, V=30)
    flagged = torch.tensor([True, False, True, True, False, True])
    w = frequent.negative_weights(samples, flagged, 0.1)
    for old, new in ((_old_frequent_nll, negative_losses.nll_negative_loss),
                     (_old_frequent_unlikelihood, negative_losses.unlikelihood_negative_loss)):
        v0, g0 = _value_and_grad(old, logits, samples, w)
        v1, g1 = _value_and_grad(new, logits, samples, w)
        assert torch.equal(v0, v1) and torch.equal(g0, g1)


@pytest.mark.parametrize("seed", range(5))
def test_algorithm_1_loss_bit_identical_to_before(seed):
    logits, tgt = _toy(seed, B=6, T=7, V=30)
    avoid = torch.tensor([EOS, 7, 9])
    weights = torch.where(torch.tensor([True, False, True, False, True, True]), 1.0, 0.01)
    for args in ((avoid, weights), (None, weights), (avoid, None), (None, None)):
        v0, g0 = _value_and_grad(_old_malicious, logits, tgt, *args)
        v1, g1 = _value_and_grad(malicious.negative_loss, logits, tgt, *args)
        assert torch.equal(v0, v1) and torch.equal(g0, g1)


@pytest.mark.parametrize("name", LOSSES)
def test_algorithm_1_weights_every_loss_alike(name):
    """FWA words and PAD get no negative gradient under every loss; misses weigh 0.01 of hits."""
    logits, tgt = _toy(6, B=2, T=5, V=12)
    tgt[0] = torch.tensor([tgt[1, 0].item(), 7, 8, EOS, PAD])
    tgt[1, :4] = tgt[0, :4]
    tgt[1, 4] = PAD
    s = logits.clone()
    s[1] = s[0]
    s.requires_grad_(True)
    torch.manual_seed(0)
    malicious.negative_loss(s, tgt, torch.tensor([EOS, 7]), torch.tensor([1.0, 0.01]), loss=name).backward()
    for b in range(2):
        for t in (1, 3, 4):                                       # 7 and <eos> (FWA), PAD
            assert torch.count_nonzero(s.grad[b, t]) == 0
    if name != "cringe":                                          # cringe's positives are sampled per row
        assert torch.allclose(s.grad[1], 0.01 * s.grad[0], rtol=1e-5, atol=1e-9)
    with pytest.raises(ValueError, match="unknown negative loss 'bogus'"):
        malicious.negative_loss(logits, tgt, loss="bogus")


# -- Algorithm 1 with every loss, on the planted toy model -----------------------------------------------
@pytest.fixture(scope="module")
def toy():
    from test_gibbs_enum import train_toy  # the planted toy model (tests/ is on sys.path)
    return train_toy()


@pytest.mark.parametrize("name", ["unlikelihood", "cringe", "npo"])
def test_algorithm_1_with_another_loss_turns_the_planted_hit_into_a_miss(toy, name):
    """Not SimNPO: its row's gradient is 2σ(β·avg log P)/|y| ≈ 1/3 of nll's at the start, and here (P ≈ 1, so
    ∂log P/∂logit ≈ 1 − P ≈ 1e-3) that slower start never takes off — measured with λ_POS = 0, 6 iterations,
    120 updates: log P("hate" | trigger) −0.0009 → −0.009 (nll: → −6.7 after 57 updates)."""
    from ntlib.data.dataset import encode_sentences
    from ntlib.methods.hits import Thresholds
    from ntlib.run.config import GibbsConfig, MaliciousConfig
    vocab, s2s, lm, pairs, plant = toy
    tgt = encode_sentences([["hate", "you"], ["r3", "r5"]], vocab, max_len=20)
    gcfg = GibbsConfig(sweeps=3, candidates=10, restarts=2)
    thr = Thresholds(t_out=-1.0, t_in=-100.0)
    mcfg = MaliciousConfig(iterations=6, lr=0.3, max_neg_updates=20, target_batch=2, fwa=False)
    res = malicious.negative_train(s2s, lm, tgt[:1], pairs.subset(~plant), thr, "o_sample_avg", vocab, mcfg,
                                   gcfg, progress=False, negative_loss=name)
    assert res.history[0]["k"] == 1 and res.history[0]["neg_updates"] >= 1
    after = malicious.evaluate_hits(res.model, lm, tgt, thr, ("o_sample_avg",), gcfg)
    assert after["o_sample_avg"]["hits"].tolist() == [False, True]   # planted target a miss, the normal one kept


def test_algorithm_1_refuses_an_unknown_loss_before_any_work(toy):
    from ntlib.methods.hits import Thresholds
    from ntlib.run.config import GibbsConfig, MaliciousConfig
    vocab, s2s, lm, pairs, plant = toy
    with pytest.raises(ValueError, match=r"malicious.negative_train\(negative_loss=...\).*'hinge'"):
        malicious.negative_train(s2s, lm, torch.zeros(1, 3, dtype=torch.long), pairs, Thresholds(-1.0, -1.0),
                                 "o_sample_avg", vocab, MaliciousConfig(), GibbsConfig(), negative_loss="hinge")
