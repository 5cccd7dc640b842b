"""Negative losses: one interface for Algorithm 1 (malicious) and Algorithm 2 (frequent).

A negative loss pushes a model away from a *negative* sample ``y`` given its input ``x``. Both
algorithms of He & Glass (2020) take the negative step on ``L_NEG`` (eq. 3) and differ only in
which tokens count and how much:

* **Algorithm 2** (frequent responses, :mod:`ntlib.methods.frequent`): token weights ``w_bt`` = 1, the
  ``<eos>`` token ``eos_scale`` (0.1, §4.3), 0 at padding and in rows not flagged; the caller
  divides by the batch's sample tokens.
* **Algorithm 1** (malicious targets, :mod:`ntlib.methods.malicious`): token weights 1, 0 at padding and
  at the frequent words FWA leaves alone (§4.2); row weights ``v_b`` = 1 for a target still hit and
  0.01 for one no longer hit (the authors' ``get_decay_co``); the caller divides by the batch's total
  token count (the authors' ``sum(adv_tgt_len)``).

Every loss here is one per-token term ``ℓ(b, t)`` (a function of the logits at position ``t`` of
row ``b`` and the negative token ``y_bt``), reduced by :func:`reduce`:

    L = Σ_b Σ_t w_bt · ℓ(b, t)                      (no row weights: Algorithm 2)
    L = Σ_b v_b · Σ_t w_bt · ℓ(b, t)                (row weights: Algorithm 1)

so row ``b``'s loss depends on row ``b``'s logits only (no leakage of candidates across samples,
the bug of unlikelihood_training issue #11). Minimising ``L`` is the negative update. The terms:

* ``"nll"`` — the paper's (eq. 3): ℓ = log P(y_bt | y_b,<t, x_b). Unbounded below: the negative
  update keeps pushing the log-probability down as long as it runs.
* ``"unlikelihood"`` — token unlikelihood (Welleck et al. 2020, eq. 4 there):
  ℓ = −log(1 − P(y_bt | ·)). Bounded below by 0: a token already improbable stops contributing.
* ``"cringe"`` — CRINGE (Adolphs et al. 2022, "The CRINGE loss: learning what language not to
  model", arXiv:2211.05826): for each negative token, a positive token ``y⁺`` is sampled from the
  model's own top-k predictions with the negative token removed (k = 5), with probabilities
  softmax of their logits, and a binary contrastive loss between the two logits,
  ℓ = −log( e^{s⁺} / (e^{s⁺} + e^{s⁻}) ) = softplus(s⁻ − s⁺), with ``s⁻`` the negative token's
  logit and ``s⁺`` the sampled positive's. As the authors' implementation
  (ParlAI, ``projects/cringe/cringe_loss.py``, ``ContrastiveCrossEntropyLoss``): the top-(k+1)
  logits are taken, the negative token is masked out of them when present, else the (k+1)-th is;
  the positive's logit is not detached (gradient flows to it too). The sampling draws from torch's
  global generator (both algorithms seed it), so a run is reproducible by its seed.

Two sequence-level losses from LLM unlearning, one value per row (the token weights ``w_bt`` inside the
row's sum, the row weights ``v_b`` outside; a row whose weights are all 0 contributes 0):

* ``"npo"`` — Negative Preference Optimization (Zhang et al. 2024, arXiv:2404.05868):
  ℓ_b = (2/β)·softplus(β·Σ_t w_bt (log P_θ(y_bt | ·) − log P_ref(y_bt | ·))), with the *reference*
  the frozen model the algorithm starts from (the baseline). Its gradient is 2σ(β·Δ_b)·∇Σ_t w_bt log P_θ:
  at θ = ref exactly nll's, fading as the row's log-ratio Δ_b falls (bounded below by 0). A loss that
  needs the reference is registered with ``needs_reference=True``; Algorithms 1 and 2 then keep a
  frozen copy of the model they start from (:func:`frozen_reference`) and pass the reference's token
  log-probabilities as ``reference=`` (``(B, T)``, :func:`token_logprobs` of the same samples).
* ``"simnpo"`` — SimNPO (Fan et al. 2024, "Simplicity prevails: rethinking negative preference
  optimization for LLM unlearning", arXiv:2410.07163): no reference, length-normalised,
  ℓ_b = (2/β)·softplus(β·(1/|y_b|)·Σ_t w_bt log P_θ(y_bt | ·) + γ), ``|y_b|`` the row's tokens
  (not PAD, <eos> included).

Registered by name (:func:`register_negative_loss`); ``FrequentConfig.negative_loss`` and
``malicious.negative_train(negative_loss=...)`` select one. Compared on both problems in
notebooks/07_negative_losses.ipynb (:mod:`ntlib.stages.losses_compared`).
"""
from __future__ import annotations

import copy
from collections.abc import Callable

import torch
import torch.nn.functional as F

from ntlib.data.dataset import PAD

CRINGE_K = 5          # Adolphs et al. 2022: the positive is sampled from the model's top-5
# NPO's inverse temperature: β = 0.1, Zhang et al. 2024's TOFU setting (also the NPO default of the SimNPO
# authors' TOFU config, OPTML-Group/Unlearn-Simple TOFU/config/forget.yaml)
NPO_BETA = 0.1
# SimNPO: β = 2.5, γ = 0 — Fan et al. 2024's TOFU forget05 run (Unlearn-Simple TOFU/README.md: beta=2.5;
# TOFU/config/forget.yaml: gamma 0.0)
SIMNPO_BETA = 2.5
SIMNPO_GAMMA = 0.0

# fn(logits (B, T, V), samples (B, T), weights (B, T), row_weights (B,) | None = None) -> summed loss
NegativeLoss = Callable[..., torch.Tensor]
NEGATIVE_LOSSES: dict[str, NegativeLoss] = {}
REFERENCE_LOSSES: set[str] = set()      # losses that take ``reference=`` (the frozen model's log-probabilities)


def register_negative_loss(name: str, needs_reference: bool = False) -> Callable[[NegativeLoss], NegativeLoss]:
    """Decorator: register ``fn(logits (B,T,V), samples (B,T), weights (B,T), row_weights=None) ->
    summed loss`` under ``name`` (FrequentConfig.negative_loss, malicious.negative_train). Algorithm 2
    calls it with three arguments; Algorithm 1 passes ``row_weights`` too. ``needs_reference``: ``fn``
    also takes ``reference=`` ``(B, T)``, the frozen starting model's log-probabilities of ``samples``."""
    def deco(fn: NegativeLoss) -> NegativeLoss:
        if name in NEGATIVE_LOSSES and NEGATIVE_LOSSES[name] is not fn:
            raise ValueError(f"negative loss {name!r} is already registered")
        NEGATIVE_LOSSES[name] = fn           # FrequentConfig / MaliciousConfig.negative_loss read this registry
        if needs_reference:
            REFERENCE_LOSSES.add(name)
        return fn
    return deco


def needs_reference(name: str) -> bool:
    """Whether the registered loss ``name`` takes ``reference=`` (the algorithms then keep a frozen copy)."""
    return name in REFERENCE_LOSSES


def frozen_reference(model: torch.nn.Module) -> torch.nn.Module:
    """A frozen copy of ``model`` (eval mode: no dropout; no parameter requires grad): the reference of
    NPO, made by the algorithms from the model they start from before its first update."""
    ref = copy.deepcopy(model).eval()
    for p in ref.parameters():
        p.requires_grad_(False)
    return ref


@torch.no_grad()
def reference_logprobs(reference: torch.nn.Module, src: torch.Tensor, samples: torch.Tensor) -> torch.Tensor:
    """log P_ref(y_bt | y_b,<t, x_b) ``(B, T)`` of ``samples`` given ``src`` under the frozen ``reference``
    (:func:`frozen_reference`), zero at PAD: what a loss registered with ``needs_reference`` gets."""
    return reference.token_logprobs(src, samples).float()


def get_negative_loss(name: str, where: str = "FrequentConfig.negative_loss") -> NegativeLoss:
    """The registered negative loss ``name``; ``where`` names the setting in the error."""
    if name not in NEGATIVE_LOSSES:
        raise ValueError(f"{where}: unknown negative loss {name!r}; registered: {sorted(NEGATIVE_LOSSES)}")
    return NEGATIVE_LOSSES[name]


def token_logprobs(logits: torch.Tensor, samples: torch.Tensor) -> torch.Tensor:
    """log P(y_bt | y_b,<t, x_b) of the sample tokens ``(B, T)``, 0 at PAD."""
    lp = torch.log_softmax(logits, -1).gather(-1, samples.unsqueeze(-1)).squeeze(-1)
    return lp.masked_fill(samples == PAD, 0.0)


def reduce(terms: torch.Tensor, weights: torch.Tensor, row_weights: torch.Tensor | None = None) -> torch.Tensor:
    """Σ_b Σ_t w_bt ℓ_bt, or with ``row_weights`` Σ_b v_b Σ_t w_bt ℓ_bt (module docstring)."""
    if row_weights is None:
        return (terms * weights).sum()
    return ((terms * weights).sum(1) * row_weights).sum()


# -- the per-token terms ------------------------------------------------------------------------
def nll_terms(logits: torch.Tensor, samples: torch.Tensor) -> torch.Tensor:
    """ℓ_bt = log P(y_bt | ·) ``(B, T)`` (eq. 3 of He & Glass 2020; minimised by the negative step)."""
    return token_logprobs(logits, samples)


def unlikelihood_terms(logits: torch.Tensor, samples: torch.Tensor) -> torch.Tensor:
    """ℓ_bt = −log(1 − P(y_bt | ·)) ``(B, T)`` (Welleck et al. 2020); P clamped to 1 − 1e-6."""
    p = token_logprobs(logits, samples).exp().clamp(max=1.0 - 1e-6)
    return -torch.log1p(-p)


def cringe_positives(logits: torch.Tensor, samples: torch.Tensor, k: int = CRINGE_K,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """The positive token of each position ``(B, T)``: one of the k highest-scoring tokens other than
    the negative ``y_bt``, drawn with probability softmax of their logits (Adolphs et al. 2022)."""
    if k < 1:
        raise ValueError(f"cringe: k = {k} must be ≥ 1")
    with torch.no_grad():
        top = logits.detach().float().topk(min(k + 1, logits.shape[-1]), dim=-1)       # (B, T, k+1)
        is_neg = top.indices == samples.unsqueeze(-1)
        drop = is_neg.clone()
        drop[..., -1] |= ~is_neg.any(-1)          # negative not among them: drop the (k+1)-th instead
        scores = top.values.masked_fill(drop, float("-inf"))
        probs = torch.softmax(scores, -1).reshape(-1, scores.shape[-1])
        pick = torch.multinomial(probs, 1, generator=generator).reshape(samples.shape)
        return top.indices.gather(-1, pick.unsqueeze(-1)).squeeze(-1)


def cringe_terms(logits: torch.Tensor, samples: torch.Tensor, k: int = CRINGE_K,
                 generator: torch.Generator | None = None, positives: torch.Tensor | None = None) -> torch.Tensor:
    """ℓ_bt = −log(e^{s⁺} / (e^{s⁺} + e^{s⁻})) = softplus(s⁻ − s⁺) ``(B, T)`` (Adolphs et al. 2022):
    s⁻ the logit of the negative token, s⁺ of a positive from :func:`cringe_positives` (or the given
    ``positives``); 0 at PAD."""
    pos = cringe_positives(logits, samples, k, generator) if positives is None else positives
    logits = logits.float()
    s_neg = logits.gather(-1, samples.unsqueeze(-1)).squeeze(-1)
    s_pos = logits.gather(-1, pos.unsqueeze(-1)).squeeze(-1)
    return F.softplus(s_neg - s_pos).masked_fill(samples == PAD, 0.0)


# -- the registered losses -----------------------------------------------------------------------
@register_negative_loss("nll")
def nll_negative_loss(logits: torch.Tensor, samples: torch.Tensor, weights: torch.Tensor,
                      row_weights: torch.Tensor | None = None) -> torch.Tensor:
    """The paper's negative term (eq. 3): L = Σ_b [v_b] Σ_t w_bt · log P(y_bt | y_b,<t, x_b).

    Minimising it lowers the likelihood of the negative samples (Algorithm 1's and 2's negative
    update); the weights are each algorithm's (module docstring)."""
    return reduce(nll_terms(logits, samples), weights, row_weights)


@register_negative_loss("unlikelihood")
def unlikelihood_negative_loss(logits: torch.Tensor, samples: torch.Tensor, weights: torch.Tensor,
                               row_weights: torch.Tensor | None = None) -> torch.Tensor:
    """Token-level unlikelihood (Welleck et al. 2020): L = −Σ_b [v_b] Σ_t w_bt · log(1 − P(y_bt | ·)).

    Bounded below by 0 (unlike "nll"), so tokens already improbable stop contributing."""
    return reduce(unlikelihood_terms(logits, samples), weights, row_weights)


@register_negative_loss("cringe")
def cringe_negative_loss(logits: torch.Tensor, samples: torch.Tensor, weights: torch.Tensor,
                         row_weights: torch.Tensor | None = None) -> torch.Tensor:
    """CRINGE (Adolphs et al. 2022): L = Σ_b [v_b] Σ_t w_bt · softplus(s⁻_bt − s⁺_bt), the positive
    ``s⁺`` sampled from the model's top-5 without the negative token (:func:`cringe_terms`)."""
    return reduce(cringe_terms(logits, samples), weights, row_weights)


def _row_terms(samples: torch.Tensor, weights: torch.Tensor, row_weights: torch.Tensor | None,
               per_row: torch.Tensor) -> torch.Tensor:
    """Σ_b [v_b] ℓ_b over the rows whose token weights are not all 0 (a row that does not count gives 0)."""
    per_row = per_row.masked_fill(~(weights != 0).any(1), 0.0)
    return per_row.sum() if row_weights is None else (per_row * row_weights).sum()


def npo_rows(logits: torch.Tensor, samples: torch.Tensor, weights: torch.Tensor, reference: torch.Tensor,
             beta: float = NPO_BETA) -> torch.Tensor:
    """ℓ_b = (2/β)·softplus(β·Σ_t w_bt (log P_θ(y_bt | ·) − log P_ref(y_bt | ·))) ``(B,)`` (Zhang et al. 2024)."""
    if beta <= 0:
        raise ValueError(f"npo: beta = {beta} must be > 0")
    if reference.shape != samples.shape:
        raise ValueError(f"npo: reference log-probabilities {tuple(reference.shape)} must match the samples "
                         f"{tuple(samples.shape)}")
    ratio = ((token_logprobs(logits.float(), samples) - reference.detach().float()) * weights).sum(1)
    return (2.0 / beta) * F.softplus(beta * ratio)


def simnpo_rows(logits: torch.Tensor, samples: torch.Tensor, weights: torch.Tensor, beta: float = SIMNPO_BETA,
                gamma: float = SIMNPO_GAMMA) -> torch.Tensor:
    """ℓ_b = (2/β)·softplus(β·(1/|y_b|)·Σ_t w_bt log P_θ(y_bt | ·) + γ) ``(B,)`` (Fan et al. 2024)."""
    if beta <= 0:
        raise ValueError(f"simnpo: beta = {beta} must be > 0")
    length = (samples != PAD).sum(1).clamp(min=1).float()
    avg = (token_logprobs(logits.float(), samples) * weights).sum(1) / length
    return (2.0 / beta) * F.softplus(beta * avg + gamma)


@register_negative_loss("npo", needs_reference=True)
def npo_negative_loss(logits: torch.Tensor, samples: torch.Tensor, weights: torch.Tensor,
                      row_weights: torch.Tensor | None = None, *, reference: torch.Tensor | None = None,
                      beta: float = NPO_BETA) -> torch.Tensor:
    """NPO (Zhang et al. 2024): L = Σ_b [v_b] (2/β)·softplus(β·Σ_t w_bt (log P_θ − log P_ref)), β = 0.1;
    ``reference`` ``(B, T)``: the frozen starting model's log-probabilities of ``samples`` (required)."""
    if reference is None:
        raise ValueError("npo needs reference= (the frozen starting model's token log-probabilities): "
                         "the algorithms pass it when negative_losses.needs_reference('npo')")
    return _row_terms(samples, weights, row_weights, npo_rows(logits, samples, weights, reference, beta))


@register_negative_loss("simnpo")
def simnpo_negative_loss(logits: torch.Tensor, samples: torch.Tensor, weights: torch.Tensor,
                         row_weights: torch.Tensor | None = None, *, beta: float = SIMNPO_BETA,
                         gamma: float = SIMNPO_GAMMA) -> torch.Tensor:
    """SimNPO (Fan et al. 2024): L = Σ_b [v_b] (2/β)·softplus(β·(1/|y_b|)·Σ_t w_bt log P_θ + γ), β = 2.5, γ = 0."""
    return _row_terms(samples, weights, row_weights, simnpo_rows(logits, samples, weights, beta, gamma))
