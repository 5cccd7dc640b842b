"""The GAN baseline (ntlib.methods.gan, App. E): highway gates, the discriminator's shapes and that it
learns to tell real from shuffled pairs, the sign of the generator update (eq. 11–12), and a
deterministic end-to-end run of ``train_gan`` on toy data."""
from types import SimpleNamespace

import pytest
import torch

from ntlib.data.dataset import EOS, PAD, PairTensors, Vocab
from ntlib.methods import gan
from ntlib.methods.models import Seq2Seq
from ntlib.methods.train import sgd_step
from ntlib.run.config import GanConfig, ModelConfig

TOY = GanConfig(d_emb=16, d_filters=16, d_highway=32, d_highway_layers=2)


def toy_pairs(n, generator):
    """x = 4 words from 4..8; y = x shifted to words 9..13, + <eos>: y is a function of x."""
    x = torch.randint(4, 9, (n, 4), generator=generator)
    return x, torch.cat([x + 5, torch.full((n, 1), EOS)], 1)


# -- highway --------------------------------------------------------------------------
def test_highway_shapes_and_gates():
    torch.manual_seed(0)
    hw = gan.Highway(8, 3)
    h = torch.randn(5, 8)
    assert hw(h).shape == (5, 8) and len(hw.gates) == len(hw.transforms) == 3
    for gate in hw.gates:                    # gate T → 0: every layer carries h through
        torch.nn.init.constant_(gate.bias, -1e4)
    assert torch.allclose(hw(h), h)
    for gate in hw.gates:                    # gate T → 1: every layer is relu(W_H h)
        torch.nn.init.constant_(gate.bias, 1e4)
    expect = h
    for t in hw.transforms:
        expect = torch.relu(t(expect))
    assert torch.allclose(hw(h), expect, atol=1e-6)


def test_discriminator_shapes_and_short_inputs():
    torch.manual_seed(0)
    D = gan.Discriminator(14, TOY)
    assert D.represent(torch.tensor([[5, 6]])).shape == (1, 16 * 4)   # shorter than all kernels
    src = torch.tensor([[PAD, PAD, 5, 6], [4, 5, 6, 7]])              # left-padded
    tgt = torch.tensor([[9, EOS, PAD], [9, 10, EOS]])
    assert D(src, tgt).shape == (2,)
    assert D.project.in_features == 2 * 16 * 4 and D.out.in_features == 32
    # D(x, y) of a pair does not depend on how much padding its batch carries
    wide = torch.cat([tgt, torch.zeros(2, 15, dtype=torch.long)], 1)
    wider_src = torch.cat([torch.zeros(2, 5, dtype=torch.long), src], 1)
    assert torch.allclose(D(src, tgt), D(wider_src, wide), atol=1e-6)
    assert torch.allclose(D(src[1:], tgt[1:]), D(src, tgt)[1:], atol=1e-6)


def test_discriminator_separates_real_from_shuffled_pairs():
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    D = gan.Discriminator(14, TOY)
    opt = torch.optim.Adam(D.parameters(), lr=TOY.d_lr)
    x, y = toy_pairs(512, g)
    before = gan.discriminator_accuracy(D, x, y, y[torch.randperm(512, generator=g)])
    losses = []
    for _ in range(150):
        xb, yb = toy_pairs(64, g)
        fake = yb[torch.randperm(64, generator=g)]
        losses.append(sgd_step(D, opt, gan.discriminator_loss(D, xb, yb, fake), None))
    after = gan.discriminator_accuracy(D, x, y, y[torch.randperm(512, generator=g)])
    assert before < 0.65 and after > 0.9
    assert sum(losses[-20:]) < 0.5 * sum(losses[:20])


# -- generator ------------------------------------------------------------------------
def test_generator_step_makes_the_response_d_likes_more_likely():
    torch.manual_seed(0)
    G = Seq2Seq(10, ModelConfig(emb=8, hidden=16, dropout=0.0))
    liked = torch.tensor([7, 8, EOS])
    src = torch.tensor([[4, 5, 6]]).repeat(8, 1)
    fake = torch.tensor([[7, 8, EOS], [5, EOS, PAD], [6, 6, EOS], [4, EOS, PAD]]).repeat(2, 1)

    def D(s, t):                             # fixed critic: D ≈ 1 on `liked`, ≈ 0 elsewhere
        hit = (t[:, :3] == liked).all(1)
        return torch.where(hit, 6.0, -6.0)

    def logp_liked():
        with torch.no_grad():
            return float(G.token_logprobs(src[:1], liked.unsqueeze(0)).sum())
    before = logp_liked()
    sgd_step(G, torch.optim.SGD(G.parameters(), lr=0.05), gan.generator_loss(G, D, src, fake), None)
    gain = logp_liked() - before
    assert gain > 1e-2
    # with the critic inverted the liked response gains far less: eq. 11 still pushes every
    # sample up (the weights log(1 − D) are all ≤ 0, §4.3), but the others far more
    torch.manual_seed(0)
    G = Seq2Seq(10, ModelConfig(emb=8, hidden=16, dropout=0.0))
    inverted = lambda s, t: -D(s, t)
    sgd_step(G, torch.optim.SGD(G.parameters(), lr=0.05),
             gan.generator_loss(G, inverted, src, fake), None)
    assert logp_liked() - before < gain / 2


def test_generator_loss_value():
    torch.manual_seed(0)
    G = Seq2Seq(10, ModelConfig(emb=8, hidden=16, dropout=0.0))
    src, fake = torch.tensor([[4, 5], [5, 6]]), torch.tensor([[7, EOS], [8, EOS]])
    D = lambda s, t: torch.tensor([0.0, 2.0])
    with torch.no_grad():
        log_g = G.token_logprobs(src, fake).sum(1)
        loss = float(gan.generator_loss(G, D, src, fake))
    expect = (torch.log(torch.tensor([0.5, 1 - torch.sigmoid(torch.tensor(2.0))])) * log_g).mean()
    assert loss == pytest.approx(float(expect), rel=1e-5)


# -- end to end -----------------------------------------------------------------------
def toy_dataset(g):
    words = [f"w{i}" for i in range(10)]
    vocab = Vocab(words)                     # ids: 4 = <eou>, 5..14 = w0..w9
    x = torch.randint(5, 10, (200, 4), generator=g)
    y = torch.cat([x + 5, torch.full((200, 1), EOS)], 1)
    pairs = PairTensors(x, y)
    return SimpleNamespace(vocab=vocab, train=pairs.subset(slice(0, 160)),
                           valid=pairs.subset(slice(160, 200)))


def test_train_gan_is_deterministic_and_chooses_from_g_lrs():
    data = toy_dataset(torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    G = Seq2Seq(len(data.vocab), ModelConfig(emb=8, hidden=16, dropout=0.0)).eval()
    cfg = GanConfig(d_emb=8, d_filters=4, d_highway=16, d_pretrain_batches=3, g_batches=2,
                    batch_size=8, g_lrs=(1e-2, 1e-3), seed=3)
    r1 = gan.train_gan(G, data, cfg, max_len=6, progress=False)
    r2 = gan.train_gan(G, data, cfg, max_len=6, progress=False)
    assert r1.g_lr in cfg.g_lrs and r1.g_lr == r2.g_lr
    assert [row["g_lr"] for row in r1.selection] == [None, 1e-2, 1e-3]
    assert sum(row["chosen"] for row in r1.selection) == 1
    for p1, p2 in zip(r1.generator.parameters(), r2.generator.parameters()):
        assert torch.equal(p1, p2)
    # the baseline is left untouched; the chosen generator moved
    assert any(not torch.equal(p, q) for p, q in zip(G.parameters(), r1.generator.parameters()))
    assert len(r1.history[f"g_loss@{r1.g_lr:g}"]) == 2
    assert len(r1.history[f"d_loss@{r1.g_lr:g}"]) == 2 * cfg.d_steps_per_g


def test_the_discriminators_convolution_is_a_matrix_product_equal_to_conv1d():
    """Issue 26: oneDNN's convolutions gave another GAN on another CPU under the pinned float path; the
    discriminator convolves by unfold + matrix product (MKL's reproducible path), equal to Conv1d."""
    from ntlib.methods.gan import convolve
    torch.manual_seed(0)
    conv = torch.nn.Conv1d(8, 6, 4)
    x = torch.randn(5, 8, 21, requires_grad=True)
    ours, ref = convolve(x, conv), conv(x)
    assert ours.shape == ref.shape == (5, 6, 18) and torch.allclose(ours, ref, atol=1e-5)
    g_ours = torch.autograd.grad(ours.square().sum(), (x, conv.weight, conv.bias))
    g_ref = torch.autograd.grad(ref.square().sum(), (x, conv.weight, conv.bias))
    assert all(torch.allclose(a, b, atol=1e-4) for a, b in zip(g_ours, g_ref))
