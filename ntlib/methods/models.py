"""The LSTM language model and the attention seq2seq of §2 (Luong "general" attention).

Both models expose one primitive the rest of ntlib builds on: ``token_logprobs`` — the
per-token log-probabilities of given targets (``(B, T)``, zero at padding). The
seq2seq also accepts its input as one-hot rows (``src_onehot``), and the LM scores a
one-hot sequence (``onehot_logprobs``, the io- regulariser R(x), eq. 8): the literal form of
the gradient w.r.t. the input of App. A, eq. 10. Gibbs-enum computes that gradient through
embedded sources (``src_emb``, ``inp_emb``), which the tests check against the one-hot form.

Both implement the algorithms' interface (:mod:`ntlib.methods.adapter`): the seq2seq a
:class:`~ntlib.methods.adapter.DialogueModel`, the LM a :class:`~ntlib.methods.adapter.SourceLM`, with
gibbs-enum's candidate scoring reusing the LSTM states of the unchanged prefix x_<pos.

The special tokens belong to the vocabulary (``ntlib.data.dataset.SPECIALS``); the models use PAD
and BOS and are told only the vocabulary size.
Sources are left-padded so the encoder's last state sits next to the response; targets
are ``y_1 … y_m <eos>`` right-padded; the decoder input is ``<bos> y_1 … y_m``.
Shown in notebooks/02_baselines.ipynb.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ntlib.data.dataset import BOS, PAD, trim
from ntlib.methods.adapter import DialogueModel, SourceLM, eval_mode, lm_view, shift_right  # noqa: F401 (re-exported)
from ntlib.run.config import ModelConfig


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


PROJECTION_ROWS = 128      # rows per output-projection block on the CPU: its (rows, V) logits stay in cache
CUDA_PROJECTION_ROWS = 8192   # on a GPU: (8192, V) logits, 328 MB at V = 10k, few launches


def project_logprobs(out: nn.Linear, h: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """log softmax(W_o h + b)[token] for rows ``h`` ``(N, H)``, ``(N,)`` (gibbs-enum's candidate scoring).

    ``mm`` then an in-place bias add gives the same bits as ``nn.Linear`` (checked in the
    tests) without addmm's copy of the bias into the (N, V) output. Done in blocks of
    ``PROJECTION_ROWS`` rows (CPU), so the log-softmax reads logits still in cache instead of a
    (N, V) tensor from memory: for N = 1200, V = 10k, mm + bias + log-softmax took as long as the
    bare mm (56 vs 58 ms) instead of 95 ms. Row results do not depend on the blocking, but for a
    block of fewer than 4 rows (this CPU's small-matrix kernels: 1 row and 2-3 rows round differently).
    """
    lp = torch.empty(len(h), device=h.device)
    step = PROJECTION_ROWS if h.device.type == "cpu" else CUDA_PROJECTION_ROWS
    for i in range(0, len(h), step):
        logits = torch.mm(h[i:i + step], out.weight.t()).add_(out.bias)
        lp[i:i + step] = F.log_softmax(logits, -1).gather(1, tokens[i:i + step].unsqueeze(1)).squeeze(1)
    return lp


class LSTMLM(SourceLM):
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


    # -- the io- searches' interface (ntlib.methods.adapter.SourceLM) ------------------------
    def sequence_logits(self, inp: torch.Tensor) -> torch.Tensor:
        return self(inp)[0]

    def embedding_matrix(self) -> torch.Tensor:
        return self.embedding.weight

    def trigger_input_embeddings(self, x: torch.Tensor) -> torch.Tensor:
        bos = self.embedding.weight[BOS].expand(x.shape[0], 1, -1)
        return torch.cat([bos, self.embedding(x[:, :-1])], 1)                  # (B, n, E)

    def logprobs_from_input_embeddings(self, e: torch.Tensor) -> torch.Tensor:
        return F.log_softmax(self(None, inp_emb=e)[0], -1)                     # (B, n, V)

    def next_logits(self, tokens: torch.Tensor, state):
        logits, state = self(tokens, state=state)
        return logits[:, -1], state

    @torch.no_grad()
    def candidate_logprob_sums(self, x, pos: int, cand, chunk_size: int) -> torch.Tensor:
        """Σ_t log P_LM(x_t | x_<t) with each candidate at ``pos`` ``(B·G,)``: the LM runs once over
        ``<bos> x_<pos``; each candidate row continues from that state over its suffix."""
        B, n = x.shape
        G = cand.shape[1]
        lm_logits, (lh, lc) = self(torch.cat([torch.full_like(x[:, :1], BOS), x[:, :pos]], 1))
        lm_lp = F.log_softmax(lm_logits, -1)                                  # (B, pos+1, V)
        lm_pre = lm_lp[:, :pos].gather(-1, x[:, :pos].unsqueeze(-1)).sum((1, 2))  # (B,)
        lm_at = lm_lp[:, pos].gather(1, cand)                                 # (B, G)
        row_t = torch.arange(B, device=x.device).repeat_interleave(G)
        flat = cand.reshape(-1)
        out = torch.empty(B * G, device=x.device)
        for i in range(0, B * G, chunk_size):
            r, c = row_t[i:i + chunk_size], flat[i:i + chunk_size]
            suffix = x[r, pos:].clone()
            suffix[:, 0] = c                                                  # (R, n-pos)
            lp_sum = lm_pre[r] + lm_at.reshape(-1)[i:i + chunk_size]
            if pos < n - 1:
                hs, _ = self.hidden_states(suffix[:, :-1], state=(lh[:, r], lc[:, r]))   # predicts x_>pos
                nxt = lm_view(suffix[:, 1:])
                lp_sum = lp_sum + project_logprobs(
                    self.out, hs.reshape(-1, hs.shape[-1]), nxt.reshape(-1)).view(nxt.shape).sum(1)
            out[i:i + len(r)] = lp_sum
        return out


class Seq2Seq(DialogueModel):
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


    # -- the algorithms' interface (ntlib.methods.adapter.DialogueModel) ---------------------
    def decode_start(self, src: torch.Tensor):
        return self.encode(src)                                           # (enc, state, mask)

    def decode_step(self, y_prev: torch.Tensor, state):
        enc, dec, mask = state
        logprobs, dec = self.step(y_prev, dec, enc, mask)
        return logprobs, (enc, dec, mask)

    def source_embeddings(self, x: torch.Tensor) -> torch.Tensor:
        return self.src_embedding(x)

    def embedding_matrix(self) -> torch.Tensor:
        return self.src_embedding.weight

    @torch.no_grad()
    def candidate_losses(self, x, tgt, pos: int, cand, chunk_size: int) -> torch.Tensor:
        """-1/m Σ_t log P(y_t | ·) with each candidate at ``pos`` ``(B·G,)``, batched: the encoder runs once
        over the shared prefix x_<pos; the candidates continue from that state over their suffixes, and
        the decoder attends over the prefix outputs and the recomputed ones from ``pos`` on."""
        B, n = x.shape
        G = cand.shape[1]
        m = (tgt != PAD).sum(1).clamp(min=1)
        emb = self.src_embedding
        if pos > 0:
            enc_pre, (h0, c0) = self.encoder(emb(x[:, :pos]))                # (B, pos, H)
        dev = x.device
        row_t = torch.arange(B, device=dev).repeat_interleave(G)              # target of each row
        flat = cand.reshape(-1)
        out = torch.empty(B * G, device=dev)
        for i in range(0, B * G, chunk_size):
            r, c = row_t[i:i + chunk_size], flat[i:i + chunk_size]
            suffix = x[r, pos:].clone()
            suffix[:, 0] = c                                                  # (R, n-pos)
            state = None if pos == 0 else (h0[:, r], c0[:, r])
            enc_suf, state = self.encoder(emb(suffix), state)
            enc = enc_suf if pos == 0 else torch.cat([enc_pre[r], enc_suf], 1)   # (R, n, H)
            t = trim(tgt[r])
            mask = torch.ones(enc.shape[:2], dtype=torch.bool, device=dev)
            h_att, _ = self.attentional_states(shift_right(t), enc, state, mask)   # (R, T, H)
            real = t != PAD                    # project only real target tokens, not padding
            lp = project_logprobs(self.out, h_att[real], t[real])
            out[i:i + len(r)] = -torch.zeros(len(r), device=dev).index_add_(0, real.nonzero()[:, 0], lp) / m[r]
        return out


def build_model(kind: str, vocab_size: int, cfg: ModelConfig) -> nn.Module:
    """``"lm"`` → :class:`LSTMLM`, ``"seq2seq"`` → :class:`Seq2Seq`."""
    kinds = {"lm": LSTMLM, "seq2seq": Seq2Seq}
    if kind not in kinds:
        raise ValueError(f"unknown model kind {kind!r}; choose one of {sorted(kinds)}")
    return kinds[kind](vocab_size, cfg)
