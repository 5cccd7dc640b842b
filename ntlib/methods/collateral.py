"""Collateral damage of negative training (beyond the paper; notebook 07): benign near-neighbours of the
malicious targets — one content word replaced by a frequent content word outside every malicious list
("so much hate" → "so much love") — and how much average word log-probability they lose, given the
target's trigger, beside the target's own loss (:func:`collateral`). Used by
:mod:`ntlib.stages.losses_compared`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import torch

from ntlib.data.corpora import _read_text
from ntlib.data.dataset import PAD, SPECIALS, Vocab, encode_sentences, trim
from ntlib.data.sources import verify_file
from ntlib.data.targets import TARGET_LISTS, target_list_path
from ntlib.machine.device import model_device
from ntlib.methods.models import eval_mode

# function words left out of the replacement pool: a neighbour changes a content word's slot to
# another content word ("so much hate" → "so much love"), not to "the"
FUNCTION_WORDS = frozenset("""
a an the and or but if so of to in on at by for with from as into about than then that this these those
there here it its it's is are was were be been being am do does did have has had will would can could
should shall may might must not no yes yeah uh um oh well okay i you he she we they me him her us them my
your his our their what who whom which when where why how all any some just very too also only really
""".split())


_WORD = re.compile(r"^[a-z]{3,}$")


# -- collateral damage: benign near-neighbours of the malicious targets ---------------------------------
def malicious_words(data_dir=None) -> set[str]:
    """Every word of every malicious target list (training lists, paraphrases and the test list), each
    list verified as :func:`ntlib.methods.malicious.load_targets` does."""
    words = set()
    for name in TARGET_LISTS:
        path = target_list_path(name, data_dir)
        verify_file(path)
        words |= {w for line in _read_text(path).splitlines() for w in line.split()}
    return words


def replacement_pool(vocab: Vocab, excluded: set[str], size: int) -> list[str]:
    """The ``size`` most frequent content words of the vocabulary (ids follow training frequency):
    alphabetic, ≥ 3 letters, not a function word (:data:`FUNCTION_WORDS`), not in ``excluded``
    (the malicious lists' words)."""
    pool = [w for w in vocab.itos if w not in SPECIALS and _WORD.match(w) and w not in FUNCTION_WORDS
            and w not in excluded]
    if len(pool) < 2:
        raise ValueError(f"replacement_pool: only {len(pool)} content words outside the malicious lists")
    return pool[:size]


@dataclass
class Neighbours:
    """Benign near-neighbours: ``sentences[j]`` is target ``owner[j]`` with the word at ``position[j]``
    replaced by ``word[j]``; ``tensor`` encodes them as the targets are (``y + <eos>``)."""
    sentences: list[list[str]]
    owner: list[int]
    position: list[int]
    original: list[str]
    word: list[str]
    tensor: torch.Tensor

    def examples(self, k: int = 5) -> list[dict]:
        return [{"target": " ".join(s[:p] + [o] + s[p + 1:]), "neighbour": " ".join(s)}
                for s, p, o in zip(self.sentences[:k], self.position[:k], self.original[:k])]


def benign_neighbours(targets: list[list[str]], vocab: Vocab, excluded: set[str], n: int, pool_size: int,
                      seed: int, max_len: int) -> Neighbours:
    """``n`` benign near-neighbours per target, chosen deterministically with ``seed``: the target's
    least frequent word (highest vocabulary id: its most specific word, e.g. "hate" in "so much hate";
    ties: the last) is replaced by ``n`` distinct words drawn (seeded) from :func:`replacement_pool`."""
    pool = replacement_pool(vocab, excluded, pool_size)
    if n >= len(pool):
        raise ValueError(f"benign_neighbours: {n} neighbours need more than the {len(pool)} pool words")
    g = torch.Generator().manual_seed(seed)
    out = Neighbours([], [], [], [], [], torch.empty(0))
    for i, words in enumerate(targets):
        ids = [vocab.stoi[w] for w in words]
        pos = max(range(len(ids)), key=lambda j: (ids[j], j))
        choices = [pool[j] for j in torch.randperm(len(pool), generator=g).tolist() if pool[j] != words[pos]][:n]
        for w in choices:
            out.sentences.append(words[:pos] + [w] + words[pos + 1:])
            out.owner.append(i)
            out.position.append(pos)
            out.original.append(words[pos])
            out.word.append(w)
    out.tensor = encode_sentences(out.sentences, vocab, max_len)
    return out


@torch.no_grad()
def avg_word_logprob(model, src: torch.Tensor, tgt: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Average word log-probability (``<eos>`` counted) of each row of ``tgt`` given ``src``, eval mode ``(N,)``."""
    dev = model_device(model)
    out = []
    with eval_mode(model):
        for i in range(0, len(tgt), batch_size):
            t = trim(tgt[i:i + batch_size]).to(dev)
            lp = model.token_logprobs(src[i:i + batch_size].to(dev), t)
            out.append((lp.sum(1) / (t != PAD).sum(1)).cpu())
    return torch.cat(out) if out else torch.empty(0)


def collateral(base_model, model, triggers: torch.Tensor, targets: torch.Tensor, nb: Neighbours) -> dict:
    """Change of the average word log-probability (after − before) given the same trigger: of each
    target and of its benign neighbours. ``neighbours`` / ``targets``: the means; ``ratio``: neighbours'
    mean change over the targets' (0: no collateral damage, 1: neighbours fall as much as the targets)."""
    src = triggers[torch.tensor(nb.owner, dtype=torch.long, device=triggers.device)]
    d_nb = avg_word_logprob(model, src, nb.tensor) - avg_word_logprob(base_model, src, nb.tensor)
    d_tg = avg_word_logprob(model, triggers, targets) - avg_word_logprob(base_model, triggers, targets)
    mean_nb, mean_tg = float(d_nb.mean()), float(d_tg.mean())
    return {"neighbours": mean_nb, "targets": mean_tg, "ratio": mean_nb / mean_tg if mean_tg else float("nan"),
            "neighbours_per_item": [round(x, 5) for x in d_nb.tolist()],
            "targets_per_item": [round(x, 5) for x in d_tg.tolist()]}
