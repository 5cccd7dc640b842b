"""Corpora, the paper's preprocessing (§4, App. B), vocabulary and batching tensors.

Shown in notebooks/01_data.ipynb. A dialogue is a list of utterances, each a list of
tokens (lower-cased, punctuation removed, Treebank tokens, no ``<eou>``). The readers and
the preprocessing recipes are in ``ntlib.corpora``; where files are found, downloads and
checksums in ``ntlib.sources``. ``python -m ntlib.data verify-switchboard`` compares our
Switchboard valid/test with the authors' files.
"""
from __future__ import annotations

import argparse
import difflib
import gc
import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import torch

from . import corpora as C
from .config import DataConfig
from .corpora import DataError
from .models import BOS, EOS, PAD, UNK
from .reports import atomic_write_text
from .sources import (DOWNLOADS, OFFICIAL_TEST, OFFICIAL_VALID, OFFICIAL_VOCAB, SOURCES,  # noqa: F401
                      cache_dir, check_sha256sums, data_locations, fetch, resolve_data,
                      sha256_file, verify_data_file, verify_file, verify_sha256)

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
        words = [line.strip() for line in C._read_text(path).splitlines()]   # names file:line if not UTF-8
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


# ---------------------------------------------------------------- corpus, vocabulary, statistics
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
    key = hashlib.sha256(json.dumps([C.PREPROCESS_VERSION, cfg.corpus, shas], sort_keys=True)
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


def oov_rate(dialogues: list[Dialogue], vocab: Vocab) -> float:
    """Fraction of the tokens of ``dialogues`` that map to ``<unk>``."""
    toks = [t for d in dialogues for u in d for t in u]
    return sum(t not in vocab.stoi for t in toks) / max(1, len(toks))


def split_stats(corpus: Corpus):
    """Dialogues, sentences (= utterances), pairs (one per utterance but a dialogue's first), words."""
    import pandas as pd
    rows = {name: {"dialogues": len(ds), "sentences": sum(map(len, ds)),
                   "pairs": sum(max(0, len(d) - 1) for d in ds),
                   "words": sum(len(u) for d in ds for u in d)}
            for name, ds in (("train", corpus.train), ("valid", corpus.valid), ("test", corpus.test))}
    return pd.DataFrame.from_dict(rows, orient="index")


def stats_beside_paper(corpus: Corpus, vocab_size: int):
    """Our split statistics beside App. B's (``ntlib.paper.APPENDIX_B``; '–' where it has none)."""
    import pandas as pd
    from .paper import APPENDIX_B
    st, paper = split_stats(corpus), APPENDIX_B.get(corpus.name, {})
    ours = {f"{split}_{col}": int(st.loc[split, col]) for split in st.index for col in st.columns}
    ours["vocab"] = vocab_size
    return pd.DataFrame({"ours": ours, "paper": {k: paper.get(k, "–") for k in ours}}, dtype=object)


def oov_table(corpus: Corpus, vocabs: dict[str, Vocab]):
    """OOV rate (fraction of tokens → ``<unk>``) per split (rows) for each named vocabulary (columns)."""
    import pandas as pd
    return pd.DataFrame({name: {split: oov_rate(getattr(corpus, split), v)
                                for split in ("train", "valid", "test")} for name, v in vocabs.items()})


def verify_switchboard(data_dir=None) -> dict:
    """Our valid/test Switchboard utterances against the authors' processed files (swda/README.md).

    Utterances are aligned per dialogue with ``difflib`` (so one split or merged utterance
    costs only itself); a dialogue is identical when its oneline string is byte-identical.
    """
    root, _ = resolve_data(SOURCES["switchboard"][0][:1], data_dir, what="Switchboard data")
    oroot, _ = resolve_data([(OFFICIAL_VALID, OFFICIAL_TEST)], data_dir,
                            what="the authors' valid/test files")
    check_sha256sums(oroot, (OFFICIAL_VALID, OFFICIAL_TEST))
    _, valid, test = SOURCES["switchboard"][0][1](root, (0, None))
    out = {"mismatches": []}
    for split, ours, rel in (("valid", valid, OFFICIAL_VALID), ("test", test, OFFICIAL_TEST)):
        lines = (oroot / rel).read_text(encoding="utf-8").splitlines()
        if len(lines) != len(ours):
            raise DataError(f"{oroot / rel}: {len(lines)} dialogues, but the split file has {len(ours)}")
        same_u = total_u = same_d = 0
        for n, (dialogue, line) in enumerate(zip(ours, lines), start=1):
            a = [" ".join(u) for u in dialogue]
            b = [u.strip() for u in line.split("<eou>") if u.strip()]
            sm = difflib.SequenceMatcher(None, a, b, autojunk=False)
            same_u += sum(blk.size for blk in sm.get_matching_blocks())
            total_u += len(b)
            same_d += " ".join(u + " <eou>" for u in a) == line
            out["mismatches"] += [{"split": split, "line": n, "ours": a[i1:i2], "official": b[j1:j2]}
                                  for tag, i1, i2, j1, j2 in sm.get_opcodes() if tag != "equal"]
        out[split] = {"utterances_identical": same_u, "utterances": total_u,
                      "dialogues_identical": same_d, "dialogues": len(lines)}
    tot = {k: out["valid"][k] + out["test"][k] for k in out["valid"]}
    out["utterance_pct"] = 100 * tot["utterances_identical"] / tot["utterances"]
    out["dialogue_pct"] = 100 * tot["dialogues_identical"] / tot["dialogues"]
    return out | {"total": tot}


def main(argv: list[str] | None = None) -> int:
    """``python -m ntlib.data verify-switchboard | download CORPUS [--data-dir D]``."""
    ap = argparse.ArgumentParser(prog="python -m ntlib.data")
    ap.add_argument("command", choices=["verify-switchboard", "download"])
    ap.add_argument("corpus", nargs="?", default="switchboard")
    ap.add_argument("--data-dir", default=None)
    args = ap.parse_args(argv)
    if args.command == "download":
        files = [f for f, _ in SOURCES[args.corpus]][0]
        root, _ = resolve_data([files], args.data_dir, download=True, what=f"{args.corpus} data")
        print(f"{args.corpus}: {root}")
        return 0
    r = verify_switchboard(args.data_dir)
    for m in r["mismatches"]:
        print(f"{m['split']} dialogue {m['line']}: ours {m['ours']} | official {m['official']}")
    for split in ("valid", "test", "total"):
        s = r[split]
        print(f"{split}: {s['utterances_identical']}/{s['utterances']} utterances, "
              f"{s['dialogues_identical']}/{s['dialogues']} dialogues identical")
    print(f"identical utterances {r['utterance_pct']:.2f} %, identical dialogues {r['dialogue_pct']:.2f} %")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
