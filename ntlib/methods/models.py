"""The LSTM language model and the attention seq2seq of §2 (Luong "general" attention).

Both models expose one primitive the rest of ntlib builds on: ``token_logprobs`` — the
per-token log-probabilities of given targets (``(B, T)``, zero at padding). The
seq2seq also accepts its input as one-hot rows (``src_onehot``), and the LM scores a
one-hot sequence (``onehot_logprobs``, the io- regulariser R(x), eq. 8): the literal form of
the gradient w.r.t. the input of App. A, eq. 10. Gibbs-enum computes that gradient through
embedded sources (``src_emb``, ``inp_emb``), which the tests check against the one-hot form.

The special tokens belong to the vocabulary (``ntlib.data.dataset.SPECIALS``); the models use PAD
and BOS and are told only the vocabulary size.
Sources are left-padded so the encoder's last state sits next to the response; targets
are ``y_1 … y_m <eos>`` right-padded; the decoder input is ``<bos> y_1 … y_m``.
Shown in notebooks/02_baselines.ipynb.
"""
from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
from torch import nn

from ntlib.data.dataset import BOS, PAD
from ntlib.run.config import ModelConfig


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


def real_token_logprobs(out: nn.Linear, drop: nn.Module, h: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
    """log softmax(``out(drop(h))``)[tgt], zero at PAD (:func:`ntlib.methods.negative_losses.token_logprobs` of the
    full logits), computed at the real (non-PAD) positions only.

    The output projection and its log-softmax are most of a training step, and a batch of
    responses is mostly padding (its widest row sets T), so the padded rows are never projected.
    Same log-probabilities as the full form; ``(B, T)`` float32, zero at PAD.
    """
    real = tgt != PAD
    lp = F.log_softmax(out(drop(h[real])).float(), dim=-1).gather(-1, tgt[real].unsqueeze(-1)).squeeze(-1)
    return torch.zeros(tgt.shape, dtype=lp.dtype, device=lp.device).masked_scatter(real, lp)


class LSTMLM(nn.Module):
    """One-layer LSTM LM over responses, each an independent sentence (§3.2 footnote 6)."""

    def __init__(self, vocab_size: int, cfg: ModelConfig):
        super().__init__()
        self.cfg, self.vocab_size = cfg, vocab_size
        self.embedding = nn.Embedding(vocab_size, cfg.emb, padding_idx=PAD)
        self.lstm = nn.LSTM(cfg.emb, cfg.hidden, batch_first=True)
        self.drop = nn.Dropout(cfg.dropout)
        self.out = nn.Linear(cfg.hidden, vocab_size)

    def hidden_states(self, inp: torch.Tensor, inp_emb: torch.Tensor | None = None, state=None):
        """LSTM outputs ``(B, T, H)`` (before the output projection) and the state."""
        emb = self.embedding(inp) if inp_emb is None else inp_emb
        return self.lstm(self.drop(emb), state)

    def forward(self, inp: torch.Tensor, inp_emb: torch.Tensor | None = None, state=None):
        """Logits ``(B, T, V)`` for input ids ``(B, T)`` (or embeddings ``(B, T, E)``) and the state."""
        h, state = self.hidden_states(inp, inp_emb, state)
        return self.out(self.drop(h)), state

    def token_logprobs(self, tgt: torch.Tensor) -> torch.Tensor:
        """log P_LM(y_t | y_<t) for targets ``(B, T)`` ending in <eos>; ``(B, T)``."""
        h, _ = self.hidden_states(shift_right(tgt))
        return real_token_logprobs(self.out, self.drop, h, tgt)

    def onehot_logprobs(self, x_onehot: torch.Tensor) -> torch.Tensor:
        """log P_LM(x_t | x_<t) for a one-hot sequence ``(B, n, V)`` without <eos>; ``(B, n)``.

        Differentiable in ``x_onehot`` both as the LM's input and as the scored token (eq. 8).
        """
        B = x_onehot.shape[0]
        bos = self.embedding.weight[BOS].expand(B, 1, -1)
        emb = torch.cat([bos, x_onehot[:, :-1] @ self.embedding.weight], dim=1)  # (B, n, E)
        logits, _ = self(None, inp_emb=emb)
        return (F.log_softmax(logits, dim=-1) * x_onehot).sum(-1)


class Seq2Seq(nn.Module):
    """LSTM encoder–decoder with Luong "general" global attention (§2).

    score(h_t, h_s) = h_tᵀ W_a h_s;  c_t = Σ_s a_t(s) h_s;  h̃_t = tanh(W_c [c_t; h_t]);
    P(y_t | ·) = softmax(W_o h̃_t). The decoder starts from the encoder's final state.
    """

    def __init__(self, vocab_size: int, cfg: ModelConfig):
        super().__init__()
        self.cfg, self.vocab_size = cfg, vocab_size
        self.src_embedding = nn.Embedding(vocab_size, cfg.emb, padding_idx=PAD)
        self.tgt_embedding = nn.Embedding(vocab_size, cfg.emb, padding_idx=PAD)
        self.encoder = nn.LSTM(cfg.emb, cfg.hidden, batch_first=True)
        self.decoder = nn.LSTM(cfg.emb, cfg.hidden, batch_first=True)
        self.attn = nn.Linear(cfg.hidden, cfg.hidden, bias=False)         # W_a
        self.combine = nn.Linear(2 * cfg.hidden, cfg.hidden, bias=False)  # W_c
        self.drop = nn.Dropout(cfg.dropout)
        self.out = nn.Linear(cfg.hidden, vocab_size)                      # W_o

    # -- encoder --------------------------------------------------------------------
    def encode(self, src: torch.Tensor | None = None, src_onehot: torch.Tensor | None = None,
               src_emb: torch.Tensor | None = None):
        """Encoder outputs ``(B, S, H)``, final state, and the source mask ``(B, S)`` (True = token).

        The source is given as ids, one-hot rows ``(B, S, V)`` or embeddings ``(B, S, E)``
        (the last two without padding)."""
        if src_onehot is not None or src_emb is not None:
            emb = src_emb if src_emb is not None else src_onehot @ self.src_embedding.weight
            mask = torch.ones(emb.shape[:2], dtype=torch.bool, device=emb.device)
        else:
            emb, mask = self.src_embedding(src), src != PAD
        enc, state = self.encoder(self.drop(emb))
        return enc, state, mask

    # -- decoder --------------------------------------------------------------------
    def attend(self, h: torch.Tensor, enc: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Attentional hidden states h̃ ``(B, T, H)`` for decoder outputs ``h`` ``(B, T, H)``."""
        scores = torch.bmm(self.attn(h), enc.transpose(1, 2))              # (B, T, S)
        scores = scores.masked_fill(~mask.unsqueeze(1), float("-inf"))
        context = torch.bmm(torch.softmax(scores, dim=-1), enc)            # (B, T, H)
        return torch.tanh(self.combine(torch.cat([context, h], dim=-1)))

    def attentional_states(self, tgt_in: torch.Tensor, enc, state, mask):
        """h̃ ``(B, T, H)`` (before the output projection W_o) and the final decoder state."""
        h, state = self.decoder(self.drop(self.tgt_embedding(tgt_in)), state)
        return self.attend(h, enc, mask), state

    def decode(self, tgt_in: torch.Tensor, enc, state, mask):
        """Logits ``(B, T, V)`` for decoder input ids ``(B, T)`` and the final decoder state."""
        h_att, state = self.attentional_states(tgt_in, enc, state, mask)
        return self.out(self.drop(h_att)), state

    def step(self, y_prev: torch.Tensor, state, enc, mask):
        """One decoding step: log-probs ``(B, V)`` of the next token after ``y_prev`` ``(B,)``."""
        logits, state = self.decode(y_prev.unsqueeze(1), enc, state, mask)
        return F.log_softmax(logits.squeeze(1), dim=-1), state

    def forward(self, src: torch.Tensor, tgt: torch.Tensor):
        """Logits ``(B, T, V)`` for sources ``(B, S)`` and targets ``(B, T)`` (teacher forcing)."""
        enc, state, mask = self.encode(src)
        logits, _ = self.decode(shift_right(tgt), enc, state, mask)
        return logits

    def token_logprobs(self, src: torch.Tensor | None, tgt: torch.Tensor,
                       src_onehot: torch.Tensor | None = None,
                       src_emb: torch.Tensor | None = None) -> torch.Tensor:
        """log P(y_t | y_<t, x) ``(B, T)`` (zero at PAD) for id, one-hot or embedded sources."""
        enc, state, mask = self.encode(src, src_onehot, src_emb)
        h_att, _ = self.attentional_states(shift_right(tgt), enc, state, mask)
        return real_token_logprobs(self.out, self.drop, h_att, tgt)


def build_model(kind: str, vocab_size: int, cfg: ModelConfig) -> nn.Module:
    """``"lm"`` → :class:`LSTMLM`, ``"seq2seq"`` → :class:`Seq2Seq`."""
    kinds = {"lm": LSTMLM, "seq2seq": Seq2Seq}
    if kind not in kinds:
        raise ValueError(f"unknown model kind {kind!r}; choose one of {sorted(kinds)}")
    return kinds[kind](vocab_size, cfg)
