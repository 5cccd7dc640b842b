"""The seam between the algorithms and a model: what gibbs-enum (App. A), the hit criteria (§3.2),
Algorithm 1 (§3.2) and Algorithm 2 (§3.3) ask of a dialogue model and of the LM of the io- hits.

Everything is in ntlib's token ids (``ntlib.data.dataset.Vocab``: PAD, UNK, BOS, EOS, <eou>, then
words): sources ``(B, S)`` left-padded, targets ``y_1 … y_m <eos>`` right-padded. A
:class:`DialogueModel` answers

- ``token_logprobs(src, tgt, src_onehot=None, src_emb=None)`` — log P(y_t | y_<t, x) ``(B, T)``, zero at PAD,
  differentiable; the source as ids, one-hot rows or embeddings (eq. 10);
- ``forward(src, tgt)`` — the logits ``(B, T, V)`` (Algorithm 2's and the other negative losses);
- ``decode_start(src)`` / ``decode_step(y_prev, state)`` — log-probs ``(B, V)`` of the next token,
  one step at a time (greedy decoding and sampling, :mod:`ntlib.methods.decode`);
- ``source_embeddings(x)`` ``(B, n, E)`` and ``embedding_matrix()`` ``(V, E)``: a one-hot source row
  enters the model only as ``onehot @ E``, so the gradient of eq. 10 is ``(∂L/∂e) · Eᵀ``;
- ``searchable()`` — the ``(V,)`` mask of tokens a trigger may hold;
- ``candidate_losses(x, tgt, pos, cand, chunk_size)`` — -1/m Σ_t log P(y_t | ·) of trigger ``x`` with
  each candidate ``cand`` ``(B, G)`` at ``pos``, ``(B·G,)`` (eq. 7's first term).

A :class:`SourceLM` (io- hits, eq. 8) answers ``token_logprobs(tgt)`` (T_in), ``sequence_logits(inp)``,
``trigger_input_embeddings`` / ``logprobs_from_input_embeddings`` / ``embedding_matrix`` (eq. 10 through
the LM), ``candidate_logprob_sums`` and ``next_logits`` (sampling io- start points).

The base classes hold the generic forms (full forward passes); the LSTM models of
:mod:`ntlib.methods.models` override candidate scoring with the prefix-reusing form whose triggers
the paper-size runs rely on. Hugging Face models implement both in :mod:`ntlib.methods.adapter_hf`
(the ``hf`` extra). Tested in tests/unit/test_adapter.py (the LSTMs: the same bits as before the interface)
and tests/unit/test_adapter_hf.py (tiny GPT-2 and T5).
"""
from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
from torch import nn

from ntlib.data.dataset import BOS, EOS, EOU_ID, PAD

# never searched into a trigger (the authors' candidate filter: <s>, </s>, <pad>, <eou>); <unk> is allowed
NOT_SEARCHED = (PAD, BOS, EOS, EOU_ID)


@contextlib.contextmanager
def eval_mode(*models):
    """Eval mode for ``models`` (``None`` skipped) inside the block, their modes restored after."""
    models = [m for m in models if m is not None]
    modes = [m.training for m in models]
    for m in models:
        m.eval()
    try:
        yield
    finally:
        for m, mode in zip(models, modes):
            m.train(mode)


def shift_right(tgt: torch.Tensor) -> torch.Tensor:
    """Decoder / LM input ``<bos> y_1 … y_{m}`` for targets ``y_1 … y_m <eos>``."""  # (B, T)
    bos = torch.full_like(tgt[:, :1], BOS)
    return torch.cat([bos, tgt[:, :-1]], dim=1)


def lm_view(x: torch.Tensor) -> torch.Tensor:
    """The tokens the LM scores for trigger ``x``: its closing ``<eou>`` is the LM's ``<eos>``."""
    return torch.where(x == EOU_ID, torch.full_like(x, EOS), x)


def logprobs_at(logits: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
    """log softmax(``logits``)[tgt] ``(B, T)`` in float32, zero at PAD."""
    lp = F.log_softmax(logits.float(), -1).gather(-1, tgt.unsqueeze(-1)).squeeze(-1)
    return lp.masked_fill(tgt == PAD, 0.0)


def with_candidate(x: torch.Tensor, rows: torch.Tensor, pos: int, tokens: torch.Tensor) -> torch.Tensor:
    """Triggers ``x[rows]`` with ``tokens`` ``(R,)`` at ``pos``, ``(R, n)``."""
    x2 = x[rows].clone()
    x2[:, pos] = tokens
    return x2


class DialogueModel(nn.Module):
    """P(y | x) as the algorithms see it; subclasses implement the abstract methods."""

    vocab_size: int

    def token_logprobs(self, src, tgt, src_onehot=None, src_emb=None) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, src: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def decode_start(self, src: torch.Tensor):
        raise NotImplementedError

    def decode_step(self, y_prev: torch.Tensor, state):
        raise NotImplementedError

    def source_embeddings(self, x: torch.Tensor) -> torch.Tensor:
        return self.embedding_matrix()[x]

    def embedding_matrix(self) -> torch.Tensor:
        raise NotImplementedError

    def searchable(self) -> torch.Tensor:
        """``(V,)`` True where a trigger may hold the token: every token but :data:`NOT_SEARCHED`."""
        mask = torch.ones(self.vocab_size, dtype=torch.bool, device=self.embedding_matrix().device)
        mask[list(NOT_SEARCHED)] = False
        return mask

    @torch.no_grad()
    def candidate_losses(self, x, tgt, pos: int, cand, chunk_size: int) -> torch.Tensor:
        """-1/m Σ_t log P(y_t | y_<t, x with c at pos) for every candidate c of ``cand`` ``(B, G)``, ``(B·G,)``;
        full forward passes of ``chunk_size`` rows."""
        B, G = cand.shape
        row_t = torch.arange(B, device=x.device).repeat_interleave(G)
        flat, m = cand.reshape(-1), (tgt != PAD).sum(1).clamp(min=1)
        out = torch.empty(B * G, device=x.device)
        for i in range(0, B * G, chunk_size):
            r = row_t[i:i + chunk_size]
            lp = self.token_logprobs(with_candidate(x, r, pos, flat[i:i + chunk_size]), tgt[r])
            out[i:i + len(r)] = -lp.sum(1) / m[r]
        return out


class SourceLM(nn.Module):
    """P_LM(x) of a trigger (R(x), eq. 8) as the io- searches see it."""

    def token_logprobs(self, tgt: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def sequence_logits(self, inp: torch.Tensor) -> torch.Tensor:
        """Next-token logits ``(B, T, V)`` after each token of ``inp`` ``(B, T)`` (starting with <bos>)."""
        raise NotImplementedError

    def embedding_matrix(self) -> torch.Tensor:
        raise NotImplementedError

    def trigger_input_embeddings(self, x: torch.Tensor) -> torch.Tensor:
        """The LM's input for trigger ``x`` ``(B, n)``: embeddings of ``<bos> x_1 … x_{n-1}``, ``(B, n, E)``."""
        E = self.embedding_matrix()
        return torch.cat([E[BOS].expand(x.shape[0], 1, -1), E[x[:, :-1]]], 1)

    def logprobs_from_input_embeddings(self, e: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def next_logits(self, tokens: torch.Tensor, state):
        """Logits ``(B, V)`` after ``tokens`` ``(B, 1)`` given the state of what came before (None: nothing)."""
        raise NotImplementedError

    def trigger_logprobs(self, x: torch.Tensor) -> torch.Tensor:
        """log P_LM(x_t | x_<t) ``(B, n)`` of a trigger, its closing <eou> scored as <eos> (eq. 8)."""
        logits = self.sequence_logits(torch.cat([torch.full_like(x[:, :1], BOS), x[:, :-1]], 1))
        return F.log_softmax(logits, -1).gather(-1, lm_view(x).unsqueeze(-1)).squeeze(-1)

    @torch.no_grad()
    def candidate_logprob_sums(self, x, pos: int, cand, chunk_size: int) -> torch.Tensor:
        """Σ_t log P_LM(x_t | x_<t) of trigger ``x`` with each candidate of ``cand`` ``(B, G)`` at ``pos``, ``(B·G,)``."""
        B, G = cand.shape
        row_t = torch.arange(B, device=x.device).repeat_interleave(G)
        flat = cand.reshape(-1)
        out = torch.empty(B * G, device=x.device)
        for i in range(0, B * G, chunk_size):
            r = row_t[i:i + chunk_size]
            out[i:i + len(r)] = self.trigger_logprobs(with_candidate(x, r, pos, flat[i:i + chunk_size])).sum(1)
        return out
