"""Corpora, the paper's preprocessing (§4, App. B), vocabulary and batching tensors.

Shown in notebooks/01_data.ipynb. A dialogue is a list of utterances, each a list of
tokens (lower-cased, punctuation removed, Treebank tokens, no ``<eou>``).
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import torch

from .models import BOS, EOS, PAD, UNK

SPECIALS = ("<pad>", "<unk>", "<bos>", "<eos>")   # ids 0..3, as in ntlib.models
EOU = "<eou>"                                      # closes every utterance of a source

Dialogue = list[list[str]]


@dataclass
class Corpus:
    """Three splits of dialogues, for one corpus."""
    name: str
    train: list[Dialogue]
    valid: list[Dialogue]
    test: list[Dialogue]


class Vocab:
    """Specials, then ``<eou>``, then words by training frequency; OOV → ``<unk>``."""

    def __init__(self, words: list[str]):
        self.itos = list(SPECIALS) + [EOU] + [w for w in words if w not in SPECIALS and w != EOU]
        self.stoi = {w: i for i, w in enumerate(self.itos)}
        assert (self.stoi["<pad>"], self.stoi["<unk>"], self.stoi["<bos>"], self.stoi["<eos>"]) \
            == (PAD, UNK, BOS, EOS)

    def __len__(self) -> int:
        return len(self.itos)

    @classmethod
    def from_dialogues(cls, dialogues: list[Dialogue], size: int) -> Vocab:
        """The ``size`` most frequent training words (App. B); ties broken alphabetically."""
        counts = Counter(tok for d in dialogues for utt in d for tok in utt)
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        return cls([w for w, _ in ranked[:size]])

    @classmethod
    def from_file(cls, path: str | Path) -> Vocab:
        """One token per line, as the authors' ``vocab_h10k.txt``."""
        path = Path(path)
        words = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
        words = [w for w in words if w]
        if not words:
            raise ValueError(f"{path}: vocabulary file is empty")
        return cls(words)

    def encode(self, tokens: list[str]) -> list[int]:
        return [self.stoi.get(t, UNK) for t in tokens]

    def decode(self, ids) -> list[str]:
        """Tokens up to (not including) the first <eos>, skipping PAD and BOS."""
        out = []
        for i in (ids.tolist() if torch.is_tensor(ids) else ids):
            if i == EOS:
                break
            if i not in (PAD, BOS):
                out.append(self.itos[i])
        return out

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.itos[len(SPECIALS) + 1:]), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> Vocab:
        return cls(json.loads(Path(path).read_text(encoding="utf-8")))


@dataclass
class PairTensors:
    """Context/response pairs: ``src`` (N, S) left-padded, ``tgt`` (N, T) = y + <eos>, right-padded."""
    src: torch.Tensor
    tgt: torch.Tensor

    def __len__(self) -> int:
        return self.src.shape[0]

    def subset(self, idx) -> PairTensors:
        return PairTensors(self.src[idx], self.tgt[idx])


def make_pairs(dialogue: Dialogue, context_utterances: int = 1, max_src_len: int = 15,
               max_tgt_len: int = 20) -> list[tuple[list[str], list[str]]]:
    """(source, response) token pairs of one dialogue, one per utterance but the first.

    Source = the previous ``context_utterances`` utterances, each closed by ``<eou>``,
    left-truncated to ``max_src_len``; response cropped to ``max_tgt_len`` (App. B).
    """
    pairs = []
    for i in range(1, len(dialogue)):
        src = [tok for utt in dialogue[max(0, i - context_utterances):i] for tok in utt + [EOU]]
        pairs.append((src[-max_src_len:], dialogue[i][:max_tgt_len]))
    return pairs


def encode_pairs(pairs: list[tuple[list[str], list[str]]], vocab: Vocab, max_src_len: int = 15,
                 max_tgt_len: int = 20) -> PairTensors:
    """Id tensors of fixed width: ``src`` (N, max_src_len), ``tgt`` (N, max_tgt_len + 1)."""
    src = torch.full((len(pairs), max_src_len), PAD, dtype=torch.long)
    tgt = torch.full((len(pairs), max_tgt_len + 1), PAD, dtype=torch.long)
    for n, (s, t) in enumerate(pairs):
        s_ids, t_ids = vocab.encode(s[-max_src_len:]), vocab.encode(t[:max_tgt_len]) + [EOS]
        if s_ids:
            src[n, -len(s_ids):] = torch.tensor(s_ids)
        tgt[n, :len(t_ids)] = torch.tensor(t_ids)
    return PairTensors(src, tgt)


def encode_sentences(sentences: list[list[str]], vocab: Vocab, max_len: int = 20) -> torch.Tensor:
    """LM targets (N, max_len + 1): each sentence cropped, + <eos>, right-padded."""
    out = torch.full((len(sentences), max_len + 1), PAD, dtype=torch.long)
    for n, s in enumerate(sentences):
        ids = vocab.encode(s[:max_len]) + [EOS]
        out[n, :len(ids)] = torch.tensor(ids)
    return out


def trim(batch: torch.Tensor, left: bool = False) -> torch.Tensor:
    """Drop all-PAD columns at the right (or left, for left-padded sources) of a batch."""
    keep = (batch != PAD).any(0).nonzero()
    if keep.numel() == 0:
        return batch[:, :1]
    return batch[:, int(keep[0]):] if left else batch[:, :int(keep[-1]) + 1]


def iterate_batches(n: int, batch_size: int, shuffle: bool = True,
                    generator: torch.Generator | None = None):
    """Index tensors of mini-batches over ``range(n)``."""
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    for i in range(0, n, batch_size):
        yield order[i:i + batch_size]
