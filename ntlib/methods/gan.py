"""The vanilla GAN baseline of §4.3 / Appendix E: a CNN + highway discriminator D(x, y) and
the seq2seq as generator, updated with the log-derivative trick (eq. 11–12).

D embeds x and y, applies 1-D convolutions of widths 3/4/5/6 with max-over-time pooling
(Kim 2014) to each, concatenates the two representations and classifies them with a
highway network (Srivastava et al. 2015). D and G are trained alternately 3:1; G also
receives teacher-forcing ("positive") updates weighted ``lambda_pos``. α_G is chosen from
``GanConfig.g_lrs`` on the validation set (:func:`train_gan`). Shown in
notebooks/05_gan_mmi.ipynb ("+GAN" row of Table 4).

Choices the paper leaves open (stated here once): D uses Adam with the paper's LR 0.01
(plain SGD at 0.01 barely moves a freshly initialised D in the few hundred pre-training
batches of the small profile); G uses plain SGD at α_G, as the baseline training does
(§4.1); sampled responses are drawn at temperature 1 with the seq2seq in eval mode.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from ntlib.data.dataset import PAD, PairTensors, trim
from ntlib.machine.device import model_device
from ntlib.machine.provenance import code_digest
from ntlib.methods.decode import respond, sample
from ntlib.methods.evaluate import perplexity, seq2seq_nll
from ntlib.methods.train import load_checkpoint, load_model, save_model, sgd_step
from ntlib.results.metrics import ent_n, max_ratio
from ntlib.run.config import GanConfig, config_hash


# -- discriminator --------------------------------------------------------------------
class Highway(nn.Module):
    """Highway layers h ← T(h) ⊙ relu(W_H h) + (1 − T(h)) ⊙ h, T(h) = σ(W_T h + b_T) (App. E)."""

    def __init__(self, width: int, layers: int, gate_bias: float = -1.0):
        super().__init__()
        self.transforms = nn.ModuleList(nn.Linear(width, width) for _ in range(layers))
        self.gates = nn.ModuleList(nn.Linear(width, width) for _ in range(layers))
        for gate in self.gates:   # negative gate bias: start close to the identity (Srivastava)
            nn.init.constant_(gate.bias, gate_bias)

    def forward(self, h: torch.Tensor) -> torch.Tensor:                     # (B, W) → (B, W)
        for transform, gate in zip(self.transforms, self.gates):
            t = torch.sigmoid(gate(h))
            h = t * F.relu(transform(h)) + (1.0 - t) * h
        return h


def convolve(emb: torch.Tensor, conv: nn.Conv1d) -> torch.Tensor:
    """``conv(emb)`` for ``emb`` ``(B, E, L)``, as windows times the kernel in one matrix product: oneDNN's
    convolutions choose their blocking by the CPU's caches, so the same code trained another discriminator on
    another CPU even with the float path pinned (:mod:`ntlib.machine.floatpath`); a matrix product goes through
    MKL, whose pinned path gives the same bits on every CPU. Equal to ``conv(emb)`` up to rounding (tested)."""
    windows = emb.unfold(2, conv.kernel_size[0], 1)                         # (B, E, L − w + 1, w)
    return torch.einsum("belw,few->bfl", windows, conv.weight) + conv.bias[:, None]   # (B, F, L − w + 1)


class Discriminator(nn.Module):
    """D(x, y) = σ(w · highway(W_p [cnn(x); cnn(y)])) with a shared CNN encoder (App. E)."""

    def __init__(self, vocab_size: int, cfg: GanConfig):
        super().__init__()
        self.cfg, self.vocab_size = cfg, vocab_size
        self.embedding = nn.Embedding(vocab_size, cfg.d_emb, padding_idx=PAD)
        self.convs = nn.ModuleList(nn.Conv1d(cfg.d_emb, cfg.d_filters, w) for w in cfg.d_widths)
        rep = 2 * cfg.d_filters * len(cfg.d_widths)                         # [x_rep; y_rep]
        self.project = nn.Linear(rep, cfg.d_highway)
        self.highway = Highway(cfg.d_highway, cfg.d_highway_layers)
        self.out = nn.Linear(cfg.d_highway, 1)

    def represent(self, ids: torch.Tensor, left: bool = False) -> torch.Tensor:
        """Max-over-time pooled convolution features ``(B, F·|widths|)`` of ids ``(B, L)``.

        ``widest − 1`` PADs are added on the padding side (``left`` for sources) and windows
        made only of padding are left out of the max, so a pair's features do not depend on
        how much padding its batch carries; inputs shorter than a kernel still get features.
        """
        extra = max(self.cfg.d_widths) - 1
        ids = F.pad(ids, (extra, 0) if left else (0, extra), value=PAD)
        emb = self.embedding(ids).transpose(1, 2)                           # (B, E, L)
        real = (ids != PAD).float().unsqueeze(1)                            # (B, 1, L)
        feats = []
        for w, conv in zip(self.cfg.d_widths, self.convs):
            keep = F.max_pool1d(real, w, stride=1)                          # (B, 1, L − w + 1)
            feats.append((F.relu(convolve(emb, conv)) * keep).amax(dim=2))   # (B, F)
        return torch.cat(feats, dim=1)

    def forward(self, src: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
        """Logits ``(B,)`` of D(x, y) for sources ``(B, S)`` and responses ``(B, T)``."""
        rep = torch.cat([self.represent(src, left=True), self.represent(tgt)], dim=1)  # [x_rep; y_rep]
        return self.out(self.highway(torch.relu(self.project(rep)))).squeeze(1)


def discriminator_loss(D: Discriminator, src, real_tgt, fake_tgt) -> torch.Tensor:
    """−[log D(x, y) + log(1 − D(x, ỹ))] averaged over the batch (eq. 6, maximised by D)."""
    real, fake = D(src, real_tgt), D(src, fake_tgt)
    return (F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
            + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)))


def discriminator_accuracy(D: Discriminator, src, real_tgt, fake_tgt) -> float:
    """Fraction of real pairs with D > ½ and fake pairs with D < ½."""
    with torch.no_grad():
        real, fake = D(src, real_tgt), D(src, fake_tgt)
    return float(((real > 0).float().mean() + (fake < 0).float().mean()) / 2)


# -- generator ------------------------------------------------------------------------
def generator_loss(G, D: Discriminator, src: torch.Tensor, fake_tgt: torch.Tensor) -> torch.Tensor:
    """Mean over sampled y of log(1 − D(x, y)) · log G(y|x) (eq. 11); descending it (eq. 12)
    makes responses D scores as real more likely, since log(1 − D) is most negative there."""
    with torch.no_grad():
        log_one_minus_d = -F.softplus(D(src, fake_tgt))                    # log(1 − σ(l)), (B,)
    log_g = G.token_logprobs(src, trim(fake_tgt)).sum(1)                   # (B,)
    return (log_one_minus_d * log_g).mean()


def positive_loss(G, src: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
    """Teacher forcing: mean over the batch of −log G(y|x) for data pairs (eq. 1)."""
    nll, _ = seq2seq_nll(G, src, tgt)
    return nll / src.shape[0]


def sample_responses(G, src: torch.Tensor, max_len: int, generator: torch.Generator):
    """y ~ G(·|x) at temperature 1 (``decode.sample``: eval mode, no grad) ``(B, ≤ max_len + 1)``."""
    return sample(G, src, max_len=max_len, temperature=1.0, generator=generator)


# -- training -------------------------------------------------------------------------
@dataclass
class GanResult:
    """The GAN-trained generator for the chosen α_G and the validation table behind the choice."""
    generator: nn.Module
    discriminator: Discriminator
    g_lr: float
    selection: list[dict] = field(default_factory=list)
    history: dict = field(default_factory=dict)


def _batch(pairs: PairTensors, batch_size: int, generator: torch.Generator,
           device: torch.device | None = None):
    """A random mini-batch (indices from the CPU ``generator``) on ``device``."""
    idx = torch.randint(len(pairs), (batch_size,), generator=generator)
    return pairs.src[idx].to(device), pairs.tgt[idx].to(device)


def pretrain_discriminator(D, G, train: PairTensors, cfg: GanConfig, generator, opt=None, *,
                           max_len: int, progress: bool = True) -> list[float]:
    """``d_pretrain_batches`` D updates on real (x, y) vs sampled (x, G(x)) pairs (App. E)."""
    opt = opt or torch.optim.Adam(D.parameters(), lr=cfg.d_lr)
    losses, dev = [], model_device(D)
    for _ in tqdm(range(cfg.d_pretrain_batches), desc="GAN: pre-train D", disable=not progress):
        src, tgt = _batch(train, cfg.batch_size, generator, dev)
        fake = sample_responses(G, src, max_len, generator)
        losses.append(sgd_step(D, opt, discriminator_loss(D, src, tgt, fake), None))
    return losses


def adversarial_training(G, D, train: PairTensors, cfg: GanConfig, g_lr: float, generator,
                         max_len: int, progress: bool = True) -> dict:
    """``g_batches`` rounds of d_steps_per_g D updates then one G update (eq. 12 + λ_POS·MLE)."""
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.d_lr)
    opt_g = torch.optim.SGD(G.parameters(), lr=g_lr)
    hist = {"d_loss": [], "g_loss": [], "d_fake": []}
    dev = model_device(G)
    G.train()
    for _ in tqdm(range(cfg.g_batches), desc=f"GAN: α_G={g_lr:g}", disable=not progress):
        for _ in range(cfg.d_steps_per_g):
            src, tgt = _batch(train, cfg.batch_size, generator, dev)
            fake = sample_responses(G, src, max_len, generator)
            hist["d_loss"].append(sgd_step(D, opt_d, discriminator_loss(D, src, tgt, fake), None))
        src, tgt = _batch(train, cfg.batch_size, generator, dev)
        fake = sample_responses(G, src, max_len, generator)
        with torch.no_grad():
            hist["d_fake"].append(float(torch.sigmoid(D(src, fake)).mean()))
        loss = generator_loss(G, D, src, fake) + cfg.lambda_pos * positive_loss(G, src, tgt)
        hist["g_loss"].append(sgd_step(G, opt_g, loss, cfg.clip_norm))
    G.eval()
    return hist


def validation_scores(G, valid: PairTensors, vocab, max_len: int) -> dict:
    """Validation PPL and greedy-response diversity (max-ratio, Ent-3), used to choose α_G."""
    responses = respond(G, valid.src, vocab, "greedy", max_len=max_len)
    ppl = perplexity(G, valid)["ppl"]
    return {"ppl": ppl, "max_ratio": max_ratio(responses), "ent3": ent_n(responses, 3)}


def train_gan(seq2seq, data, cfg: GanConfig, max_len: int, progress: bool = True,
              device: str | torch.device | None = None) -> GanResult:
    """Pre-train D, then for each α_G in ``g_lrs`` train a copy of (G, D) adversarially; keep the
    α_G with the highest validation Ent-3 among those within ``ppl_tolerance`` of the
    baseline's validation PPL (else the lowest PPL). ``data`` is a ``pipeline.Dataset``.
    ``device``: where G and D train (``None``: the seq2seq's device)."""
    torch.manual_seed(cfg.seed)
    generator = torch.Generator().manual_seed(cfg.seed)
    valid = data.valid if cfg.max_valid_inputs is None else data.valid.subset(
        slice(0, cfg.max_valid_inputs))
    G0 = copy.deepcopy(seq2seq).eval()
    if device is not None:
        G0.to(device)
    D0 = Discriminator(len(data.vocab), cfg).to(model_device(G0))
    d_pre = pretrain_discriminator(D0, G0, data.train, cfg, generator, max_len=max_len,
                                   progress=progress)
    base = validation_scores(G0, valid, data.vocab, max_len)
    selection = [{"g_lr": None, **base}]
    runs = {}
    for g_lr in cfg.g_lrs:
        G, D = copy.deepcopy(G0), copy.deepcopy(D0)
        hist = adversarial_training(G, D, data.train, cfg, g_lr, generator, max_len, progress)
        runs[g_lr] = (G, D, hist)
        selection.append({"g_lr": g_lr, **validation_scores(G, valid, data.vocab, max_len)})
    ok = [r for r in selection[1:] if r["ppl"] <= (1 + cfg.ppl_tolerance) * base["ppl"]]
    best = max(ok, key=lambda r: r["ent3"]) if ok else min(selection[1:], key=lambda r: r["ppl"])
    for r in selection:
        r["chosen"] = r is best
    G, D, hist = runs[best["g_lr"]]
    return GanResult(G, D, best["g_lr"], selection,
                     {"d_pretrain_loss": d_pre, **{f"{k}@{lr:g}": v for lr, (_, _, h) in runs.items()
                                                   for k, v in h.items()}})


def train_gan_cached(seq2seq, data, cfg: GanConfig, run_dir: str | Path, max_len: int,
                     progress: bool = True, device: str | torch.device | None = None
                     ) -> tuple[nn.Module, float, list[dict], dict]:
    """:func:`train_gan`, with the chosen generator cached in ``run_dir`` (the baselines' run
    folder) under the hash of ``cfg`` and ``max_len``: (generator, α_G, selection, history)."""
    path = Path(run_dir) / f"gan-{config_hash(cfg, max_len, code_digest('ntlib.methods.gan'))}.pt"   # code too (issue 15)
    if not path.exists():
        r = train_gan(seq2seq, data, cfg, max_len, progress, device)
        save_model(r.generator, "seq2seq", path, g_lr=r.g_lr, selection=r.selection,
                   history=r.history)
    ckpt = load_checkpoint(path)
    device = model_device(seq2seq) if device is None else device
    return load_model(path, device).eval(), ckpt["g_lr"], ckpt["selection"], ckpt["history"]
