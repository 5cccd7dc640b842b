"""Hugging Face models behind the algorithms' interface (:mod:`ntlib.methods.adapter`; the ``hf`` extra:
``pip install -e ".[hf]"``): gibbs-enum (App. A), Algorithm 1 (§3.2) and Algorithm 2 (§3.3) on a causal LM
(GPT-2 style) or an encoder–decoder (T5 / BART style).

The model reads ntlib's vocabulary: token id i is ``vocab.itos[i]`` (:func:`word_level_tokenizer` makes
its tokenizer), and its config names ntlib's PAD / BOS / EOS (:func:`tiny_gpt2`, :func:`tiny_t5` build
such models offline, with random weights). A causal LM reads ``x <bos> y``: the source (left padding
masked, positions counted from its first token), then the response; an encoder–decoder encodes ``x``
and decodes ``<bos> y``. Nothing is downloaded. Shown in the tests (tests/unit/test_adapter_hf.py).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ntlib.data.dataset import BOS, EOS, PAD, SPECIALS
from ntlib.methods.adapter import DialogueModel, SourceLM, logprobs_at, shift_right

try:
    import transformers
except ImportError:         # the hf extra is not installed
    transformers = None

INSTALL = 'Hugging Face models need the hf extra: pip install -e ".[hf]" (transformers)'


def require_transformers():
    """The ``transformers`` module, or an ImportError that says how to install it."""
    if transformers is None:
        raise ImportError(INSTALL)
    return transformers


def word_level_tokenizer(vocab):
    """A ``PreTrainedTokenizerFast`` whose ids are ``vocab``'s (one word = one token, whitespace-split)."""
    require_transformers()
    from tokenizers import Tokenizer, models, pre_tokenizers
    pad, unk, bos, eos = SPECIALS[:4]
    tok = Tokenizer(models.WordLevel(vocab.stoi, unk_token=unk))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return transformers.PreTrainedTokenizerFast(tokenizer_object=tok, pad_token=pad, unk_token=unk,
                                                bos_token=bos, eos_token=eos, padding_side="left")


def tiny_gpt2(vocab_size: int, d: int = 64, layers: int = 2, heads: int = 4, positions: int = 64,
              dropout: float = 0.0, seed: int = 0):
    """A GPT-2 with random weights over ntlib's vocabulary, built from a config (nothing downloaded)."""
    tf = require_transformers()
    torch.manual_seed(seed)
    cfg = tf.GPT2Config(vocab_size=vocab_size, n_positions=positions, n_embd=d, n_layer=layers, n_head=heads,
                        resid_pdrop=dropout, embd_pdrop=dropout, attn_pdrop=dropout,
                        bos_token_id=BOS, eos_token_id=EOS, pad_token_id=PAD)
    return tf.GPT2LMHeadModel(cfg)


def tiny_t5(vocab_size: int, d: int = 64, layers: int = 2, heads: int = 4, dropout: float = 0.0, seed: int = 0):
    """A T5 with random weights over ntlib's vocabulary (decoder starts from <bos>), built from a config."""
    tf = require_transformers()
    torch.manual_seed(seed)
    cfg = tf.T5Config(vocab_size=vocab_size, d_model=d, d_kv=d // heads, d_ff=2 * d, num_layers=layers,
                      num_heads=heads, dropout_rate=dropout, feed_forward_proj="relu",
                      decoder_start_token_id=BOS, bos_token_id=BOS, eos_token_id=EOS, pad_token_id=PAD)
    return tf.T5ForConditionalGeneration(cfg)


def _check_ids(model, what: str) -> int:
    """The model's vocabulary size, after checking its config names ntlib's special ids."""
    cfg = model.config
    for field, want in (("pad_token_id", PAD), ("eos_token_id", EOS)):
        got = getattr(cfg, field, None)
        if got is not None and got != want:
            raise ValueError(f"{what}: model.config.{field} = {got}, but ntlib's vocabulary has it at {want} "
                             "(build the model over ntlib's vocabulary: tiny_gpt2 / tiny_t5, word_level_tokenizer)")
    return cfg.vocab_size


def _positions(mask: torch.Tensor) -> torch.Tensor:
    """Position ids ``(B, L)`` counted from each row's first unmasked token (left padding)."""
    return (mask.long().cumsum(1) - 1).clamp(min=0)


class HFCausalLM(DialogueModel):
    """P(y | x) of a decoder-only model that reads ``x <bos> y`` (left-padded x masked)."""

    def __init__(self, model):
        super().__init__()
        self.vocab_size = _check_ids(model, "HFCausalLM")
        self.hf = model

    def embedding_matrix(self) -> torch.Tensor:
        return self.hf.get_input_embeddings().weight

    def source_embeddings(self, x: torch.Tensor) -> torch.Tensor:
        return self.hf.get_input_embeddings()(x)

    def _target_logits(self, src, tgt, src_onehot=None, src_emb=None) -> torch.Tensor:
        """Logits ``(B, T, V)`` of the target positions, the source as ids, one-hot rows or embeddings."""
        if src_onehot is not None:
            src_emb = src_onehot @ self.embedding_matrix()
        if src_emb is not None:         # triggers: no padding
            src_mask = torch.ones(src_emb.shape[:2], dtype=torch.bool, device=src_emb.device)
        else:
            src_emb, src_mask = self.source_embeddings(src), src != PAD
        tgt_in = shift_right(tgt)
        emb = torch.cat([src_emb, self.hf.get_input_embeddings()(tgt_in)], 1)    # (B, S + T, E)
        # the target's right padding follows its real tokens: causal attention never lets them see it
        mask = torch.cat([src_mask, torch.ones_like(tgt_in, dtype=torch.bool)], 1)
        out = self.hf(inputs_embeds=emb, attention_mask=mask.long(), position_ids=_positions(mask))
        return out.logits[:, src_emb.shape[1]:]

    def forward(self, src: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
        return self._target_logits(src, tgt)

    def token_logprobs(self, src, tgt, src_onehot=None, src_emb=None) -> torch.Tensor:
        return logprobs_at(self._target_logits(src, tgt, src_onehot, src_emb), tgt)

    def decode_start(self, src: torch.Tensor):
        mask = src != PAD
        out = self.hf(input_ids=src, attention_mask=mask.long(), position_ids=_positions(mask), use_cache=True)
        return out.cache, mask, mask.long().sum(1)                    # the cache, the mask, the next position

    def decode_step(self, y_prev: torch.Tensor, state):
        cache, mask, pos = state
        mask = torch.cat([mask, torch.ones_like(mask[:, :1])], 1)
        out = self.hf(input_ids=y_prev.unsqueeze(1), attention_mask=mask.long(), position_ids=pos.unsqueeze(1),
                      cache=cache, use_cache=True)
        return F.log_softmax(out.logits[:, -1].float(), -1), (out.cache, mask, pos + 1)


class HFEncoderDecoder(DialogueModel):
    """P(y | x) of an encoder–decoder (T5, BART) that encodes ``x`` and decodes ``<bos> y``."""

    def __init__(self, model):
        super().__init__()
        self.vocab_size = _check_ids(model, "HFEncoderDecoder")
        self.hf = model

    def embedding_matrix(self) -> torch.Tensor:
        return self.hf.get_encoder().get_input_embeddings().weight

    def source_embeddings(self, x: torch.Tensor) -> torch.Tensor:
        return self.hf.get_encoder().get_input_embeddings()(x)

    def _logits(self, src, tgt, src_onehot=None, src_emb=None) -> torch.Tensor:
        if src_onehot is not None:
            src_emb = src_onehot @ self.embedding_matrix()
        if src_emb is None:
            src_emb, mask = self.source_embeddings(src), src != PAD
        else:
            mask = torch.ones(src_emb.shape[:2], dtype=torch.bool, device=src_emb.device)
        return self.hf(inputs_embeds=src_emb, attention_mask=mask.long(), decoder_input_ids=shift_right(tgt)).logits

    def forward(self, src: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
        return self._logits(src, tgt)

    def token_logprobs(self, src, tgt, src_onehot=None, src_emb=None) -> torch.Tensor:
        return logprobs_at(self._logits(src, tgt, src_onehot, src_emb), tgt)

    def decode_start(self, src: torch.Tensor):
        mask = (src != PAD).long()
        return self.hf.get_encoder()(input_ids=src, attention_mask=mask), mask, None

    def decode_step(self, y_prev: torch.Tensor, state):
        enc, mask, cache = state
        out = self.hf(encoder_outputs=enc, attention_mask=mask, decoder_input_ids=y_prev.unsqueeze(1),
                      cache=cache, use_cache=True)
        return F.log_softmax(out.logits[:, -1].float(), -1), (enc, mask, out.cache)


class HFSourceLM(SourceLM):
    """P_LM(x) of a trigger (eq. 8) from a causal LM over sentences ``<bos> w_1 … w_k <eos>`` (io- hits)."""

    def __init__(self, model):
        super().__init__()
        self.vocab_size = _check_ids(model, "HFSourceLM")
        self.hf = model

    def embedding_matrix(self) -> torch.Tensor:
        return self.hf.get_input_embeddings().weight

    def sequence_logits(self, inp: torch.Tensor) -> torch.Tensor:
        return self.hf(input_ids=inp).logits          # <bos> first, right padding after: causal, unseen

    def token_logprobs(self, tgt: torch.Tensor) -> torch.Tensor:
        return logprobs_at(self.sequence_logits(shift_right(tgt)), tgt)

    def logprobs_from_input_embeddings(self, e: torch.Tensor) -> torch.Tensor:
        return F.log_softmax(self.hf(inputs_embeds=e).logits, -1)

    def next_logits(self, tokens: torch.Tensor, state):
        out = self.hf(input_ids=tokens, cache=state, use_cache=True)
        return out.logits[:, -1], out.cache
