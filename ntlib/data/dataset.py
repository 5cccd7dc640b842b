"""The data the models read: the vocabulary and its special tokens, pair and sentence tensors,
batching, and the preprocessed corpus they are built from (§4, App. B).

Shown in notebooks/01_data.ipynb. A dialogue is a list of utterances, each a list of
tokens (lower-cased, punctuation removed, Treebank tokens, no ``<eou>``). The readers and
the preprocessing recipes are in ``ntlib.data.corpora``; where files are found, downloads and
checksums in ``ntlib.data.sources``; statistics and the check against the authors' files in
``ntlib.data.corpus_stats``.
"""
from __future__ import annotations

import gc
import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from ntlib.data import corpora
from ntlib.data.corpora import DataError, Dialogue
from ntlib.data.sources import (
    OFFICIAL_VOCAB,
    SOURCES,
    cache_dir,
    check_sha256sums,
    resolve_data,
    verify_data_file,
    verify_file,
)
from ntlib.results.reports import atomic_write_text

if TYPE_CHECKING:                   # configs are passed in; the data layer does not build them
    from ntlib.run.config import DataConfig, Profile

SPECIALS = ("<pad>", "<unk>", "<bos>", "<eos>")   # the special tokens; each one's id is its position
PAD, UNK, BOS, EOS = range(len(SPECIALS))          # the only definition of the special-token ids
EOU = "<eou>"                                      # closes every utterance of a source
EOU_ID = len(SPECIALS)                             # Vocab puts <eou> right after the special tokens


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
        words = [line.strip() for line in corpora._read_text(path).splitlines()]   # names file:line if not UTF-8
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


def encode_sentences(sentences: list[list[str]], vocab: Vocab, max_len: int) -> torch.Tensor:
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


# ---------------------------------------------------------------- corpus and vocabulary
def load_corpus(cfg: DataConfig, data_dir=None, download: bool = False, use_cache: bool = True) -> Corpus:
    """The corpus of ``cfg.corpus`` preprocessed as in App. B, subsampled by ``max_*_dialogues``.

    The full preprocessed corpus is cached as JSON in ``cache_dir()/corpora``, keyed by the
    sources' sha256 and ``corpora.PREPROCESS_VERSION``; subsampled loads read only what they keep.
    """
    if cfg.corpus not in SOURCES:
        raise ValueError(f"DataConfig.corpus: unknown corpus {cfg.corpus!r}; choose one of {sorted(SOURCES)}")
    alternatives = SOURCES[cfg.corpus]
    root, k = resolve_data([files for files, _ in alternatives], data_dir, download, f"{cfg.corpus} data")
    files, reader = alternatives[k]
    shas = check_sha256sums(root, files)
    key = hashlib.sha256(json.dumps([corpora.PREPROCESS_VERSION, cfg.corpus, shas], sort_keys=True)
                         .encode()).hexdigest()[:16]
    cached = cache_dir() / "corpora" / f"{cfg.corpus}-{key}.json"
    limits = (cfg.max_train_dialogues, cfg.max_eval_dialogues)
    splits = None
    if limits == (None, None) and use_cache and cached.is_file():
        gc.disable()                                 # ~1M small lists: the collector doubles the time
        try:
            blob = json.loads(cached.read_text(encoding="utf-8"))
            splits = [blob[s] for s in ("train", "valid", "test")]
        except (json.JSONDecodeError, KeyError, UnicodeDecodeError):
            splits = None                            # damaged cache: rebuild it below
        finally:
            gc.enable()
    if splits is None:
        splits = reader(root, limits)                # subsampled: reads only what it keeps
        for name, split in zip(("train", "valid", "test"), splits):
            if not split:
                raise DataError(f"{root / files[0]}:1: {cfg.corpus} {name} split is empty")
        if limits == (None, None) and use_cache:
            atomic_write_text(cached, json.dumps(dict(zip(("train", "valid", "test"), splits))))
    return Corpus(cfg.corpus, *(split[:n] if n is not None else split
                                for split, n in zip(splits, (limits[0], limits[1], limits[1]))))


def build_vocab(corpus: Corpus, cfg: DataConfig, data_dir=None) -> Vocab:
    """The ``cfg.vocab_size`` most frequent training words (App. B), or ``cfg.vocab_file``."""
    if cfg.vocab_file is None:
        return Vocab.from_dialogues(corpus.train, cfg.vocab_size)
    if cfg.vocab_file == "official":
        root, _ = resolve_data([(OFFICIAL_VOCAB,)], data_dir, what="the authors' vocab_h10k.txt")
        verify_data_file(root, OFFICIAL_VOCAB)
        return Vocab.from_file(root / OFFICIAL_VOCAB)
    if not Path(cfg.vocab_file).is_file():
        raise DataError(f"DataConfig.vocab_file: {cfg.vocab_file} is not a file")
    verify_file(cfg.vocab_file)
    return Vocab.from_file(cfg.vocab_file)


@dataclass
class Dataset:
    """A corpus made ready for the models: vocabulary, pair tensors, LM sentences.

    LM sentences are the responses, each an independent sentence (§3.2 footnote 6), so
    ``lm_test`` scores exactly the tokens the seq2seq scores on ``test`` (Table 8).
    """
    corpus: Corpus
    vocab: Vocab
    train: PairTensors
    valid: PairTensors
    test: PairTensors
    test_dialogues: list[int] = None      # the test dialogue each test pair comes from (bootstraps resample them)

    @property
    def lm_train(self) -> torch.Tensor:
        return self.train.tgt

    @property
    def lm_valid(self) -> torch.Tensor:
        return self.valid.tgt

    @property
    def lm_test(self) -> torch.Tensor:
        return self.test.tgt


def load_dataset(profile: Profile, data_dir: str | Path | None = None) -> Dataset:
    """Read the profile's corpus (``ntlib.data.dataset.load_corpus``), build the vocabulary, encode pairs."""
    cfg = profile.data
    corpus = load_corpus(cfg, data_dir)
    vocab = build_vocab(corpus, cfg, data_dir)

    def encode(dialogues):
        pairs = [p for d in dialogues
                 for p in make_pairs(d, cfg.context_utterances, cfg.max_src_len, cfg.max_tgt_len)]
        return encode_pairs(pairs, vocab, cfg.max_src_len, cfg.max_tgt_len)

    test_dialogues = [k for k, d in enumerate(corpus.test)
                      for _ in make_pairs(d, cfg.context_utterances, cfg.max_src_len, cfg.max_tgt_len)]
    return Dataset(corpus, vocab, encode(corpus.train), encode(corpus.valid), encode(corpus.test), test_dialogues)
