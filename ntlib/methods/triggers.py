"""Trigger inputs (§3.2, App. A): their form, and the start points of a gibbs-enum search.

A trigger has the form of a training source: n - 1 tokens (words or ``<unk>``) closed by ``<eou>``,
which the search never moves (the authors' code fixes the last of the 15 source tokens to ``<eou>``);
the LM scores it as it saw sentences, the closing ``<eou>`` as ``<eos>`` (``lm_view``). An o- search
starts from n - 1 uniform random words, an io- search from an LM sample (``draw_starts``).
"""
from __future__ import annotations

import torch

from ntlib.data.dataset import BOS, EOS, EOU_ID, PAD, UNK
from ntlib.machine.device import model_device, multinomial
from ntlib.methods.adapter import NOT_SEARCHED, eval_mode, lm_view  # noqa: F401 (re-exported: the trigger form)
from ntlib.run.config import HIT_TYPES, GibbsConfig

SPECIALS_AND_EOU = (PAD, UNK, BOS, EOS, EOU_ID)   # an LM sample is n - 1 words
FIRST_WORD = EOU_ID + 1                # random starts draw words only (the authors' randint(5, V-1))


def is_io(hit_type: str) -> bool:
    """io- hit types also constrain the trigger's LM likelihood (λ_in = 1, eq. 7)."""
    if hit_type not in HIT_TYPES:
        raise ValueError(f"unknown hit type {hit_type!r}; choose one of {list(HIT_TYPES)}")
    return hit_type.startswith("io_")


# -- start points -----------------------------------------------------------------------
def close_with_eou(words: torch.Tensor) -> torch.Tensor:
    """``(rows, n-1)`` searched tokens → a trigger ``(rows, n)`` ending in ``<eou>``."""
    return torch.cat([words, torch.full_like(words[:, :1], EOU_ID)], 1)


def random_triggers(rows: int, n: int, vocab_size: int, generator: torch.Generator) -> torch.Tensor:
    """Random valid inputs ``(rows, n)``: n - 1 words uniform over the word vocabulary, then ``<eou>``."""
    return close_with_eou(torch.randint(FIRST_WORD, vocab_size, (rows, n - 1), generator=generator))


@torch.no_grad()
def lm_sample_triggers(lm, rows: int, n: int, generator: torch.Generator) -> torch.Tensor:
    """Samples of exactly n - 1 words from the LM (specials excluded), then ``<eou>``: io- starts (Alg. 3); the LM's ``next_logits``."""
    x = torch.full((rows, 1), BOS, dtype=torch.long, device=model_device(lm))
    state, out = None, []
    for _ in range(n - 1):
        logits, state = lm.next_logits(x[:, -1:], state)
        logits = logits.clone()
        logits[:, list(SPECIALS_AND_EOU)] = float("-inf")
        nxt = multinomial(torch.softmax(logits, -1), generator).unsqueeze(1)      # (rows, 1)
        out.append(nxt)
        x = nxt
    return close_with_eou(torch.cat(out, 1))



def _init(seq2seq, lm, io, B, n, generator):
    if io:
        return lm_sample_triggers(lm, B, n, generator)
    return random_triggers(B, n, seq2seq.vocab_size, generator).to(model_device(seq2seq))


def check_triggers(x: torch.Tensor, rows: int, n: int, what: str) -> None:
    """Refuse ``x`` unless it is ``(rows, n)`` triggers closed by ``<eou>``; the error names ``what``."""
    if tuple(x.shape) != (rows, n) or not (x[:, -1] == EOU_ID).all():
        raise ValueError(f"{what} must be ({rows}, {n}) triggers closed by <eou>, got shape {tuple(x.shape)}")


def draw_starts(seq2seq, lm, io: bool, B: int, cfg: GibbsConfig, generator: torch.Generator,
                init: torch.Tensor | None = None) -> list[torch.Tensor]:
    """The start point ``(B, n)`` of each of :func:`gibbs_enum`'s ``cfg.restarts`` restarts, drawn
    from ``generator`` in the order the search draws them: ``init`` for the first when given, else
    n - 1 random words (o-) or an LM sample (io-), closed by ``<eou>``. A caller that already has
    a search's result draws them too, to leave ``generator`` where the search would (Algorithm 1's
    first iteration, :func:`ntlib.methods.malicious.negative_train`)."""
    with eval_mode(seq2seq, lm):
        return [init.to(model_device(seq2seq), copy=True) if (r == 0 and init is not None)
                else _init(seq2seq, lm, io, B, cfg.input_len, generator) for r in range(cfg.restarts)]
