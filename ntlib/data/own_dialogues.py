"""Your own dialogues: context/response pairs from a file, made ready for the models (issue 32, part 3).

Two formats, one pair a line (blank lines skipped):

* **tab-separated** text: ``context<TAB>response`` — exactly one tab;
* **JSON lines** (``.jsonl`` / ``.json``): ``{"context": ..., "response": ...}``; ``context`` is a string or a
  list of strings (the previous utterances, oldest first), ``response`` a string; other keys are ignored.

With ``preprocess=True`` every utterance goes through the paper's recipe for the non-Switchboard corpora
(App. B, :func:`ntlib.data.corpora.tokenize`: lower-case, punctuation removed, Treebank tokens); with
``False`` it is split on whitespace as it stands (your text already tokenised). A pair is then what
:func:`ntlib.data.dataset.make_pairs` makes of a dialogue: the context's utterances each closed by ``<eou>``,
left-cropped to ``max_src_len``; the response cropped to ``max_tgt_len`` (+ ``<eos>``). A malformed line —
wrong number of tabs, bad JSON, a missing or non-string field, an utterance empty after preprocessing —
raises :class:`ntlib.data.corpora.DataError` naming the file and line.

:func:`own_dataset` splits the pairs (seeded) into train / valid / test and builds the vocabulary from the
training pairs, as :func:`ntlib.data.dataset.load_dataset` does for a corpus: the same :class:`Dataset`, so
every method and driver runs on it. Used by ``python -m ntlib.run.own_data``.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

from ntlib.data import corpora
from ntlib.data.corpora import DataError
from ntlib.data.dataset import EOU, Corpus, Dataset, Vocab, encode_pairs, encode_sentences
from ntlib.data.targets import TargetList, sayable

Pair = tuple[list[list[str]], list[str]]        # (context utterances, response), each a token list
JSON_SUFFIXES = (".jsonl", ".json")


def file_format(path: str | Path, fmt: str = "auto") -> str:
    """``"tsv"`` or ``"jsonl"``: ``fmt`` unless ``"auto"``, then by the file's suffix (.jsonl / .json: JSON lines)."""
    if fmt not in ("auto", "tsv", "jsonl"):
        raise ValueError(f"format {fmt!r}: choose auto, tsv or jsonl")
    if fmt != "auto":
        return fmt
    return "jsonl" if Path(path).suffix.lower() in JSON_SUFFIXES else "tsv"


def _utterance(text, where: str, preprocess: bool) -> list[str]:
    if not isinstance(text, str):
        raise DataError(f"{where}: must be a string, got {type(text).__name__}")
    toks = corpora.tokenize(text) if preprocess else text.split()
    if not toks:
        raise DataError(f"{where}: empty{' after preprocessing (App. B)' if preprocess and text.strip() else ''}: "
                        f"{text[:80]!r}")
    return toks


def parse_line(line: str, name: str, lineno: int, fmt: str, preprocess: bool = True) -> Pair | None:
    """One line of a pairs file → ``(context utterances, response)``; None for a blank line; a
    :class:`DataError` naming ``name:lineno`` for a malformed one."""
    if not line.strip():
        return None
    at = f"{name}:{lineno}"
    if fmt == "tsv":
        fields = line.rstrip("\r\n").split("\t")
        if len(fields) != 2:
            raise DataError(f"{at}: expected context<TAB>response (one tab), found {len(fields) - 1} tabs: "
                            f"{line.strip()[:80]!r}")
        context, response = fields
        return [_utterance(context, f"{at}: context", preprocess)], _utterance(response, f"{at}: response", preprocess)
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as e:
        raise DataError(f"{at}: not JSON ({e.msg}): {line.strip()[:80]!r}") from None
    if not isinstance(obj, dict):
        raise DataError(f"{at}: expected an object {{\"context\": ..., \"response\": ...}}, got {type(obj).__name__}")
    missing = [k for k in ("context", "response") if k not in obj]
    if missing:
        raise DataError(f"{at}: missing {', '.join(repr(k) for k in missing)} (keys: {sorted(obj)})")
    context = obj["context"]
    if isinstance(context, list):
        if not context:
            raise DataError(f"{at}: context: an empty list")
        utts = [_utterance(u, f"{at}: context[{k}]", preprocess) for k, u in enumerate(context)]
    else:
        utts = [_utterance(context, f"{at}: context", preprocess)]
    return utts, _utterance(obj["response"], f"{at}: response", preprocess)


def read_pairs(path: str | Path, preprocess: bool = True, fmt: str = "auto") -> list[Pair]:
    """Every pair of a ``context<TAB>response`` or JSON-lines file (module docstring), in file order."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    kind = file_format(path, fmt)
    text = corpora._read_text(path)                  # names file:line if not UTF-8
    pairs = [p for k, line in enumerate(text.split("\n"), 1)
             if (p := parse_line(line, str(path), k, kind, preprocess)) is not None]
    if not pairs:
        raise DataError(f"{path}:1: no context/response pairs in the file")
    return pairs


def crop(pair: Pair, max_src_len: int, max_tgt_len: int) -> tuple[list[str], list[str]]:
    """Source tokens (each utterance closed by ``<eou>``, left-cropped) and response tokens (cropped), as
    :func:`ntlib.data.dataset.make_pairs`."""
    utts, response = pair
    src = [tok for u in utts for tok in u + [EOU]]
    return src[-max_src_len:], response[:max_tgt_len]


def split_pairs(n: int, valid_fraction: float, test_fraction: float, seed: int) -> tuple[list[int], ...]:
    """Indices of train / valid / test: a seeded permutation cut by the fractions (at least one pair each)."""
    n_valid, n_test = max(1, round(n * valid_fraction)), max(1, round(n * test_fraction))
    if n - n_valid - n_test < 1:
        raise DataError(f"{n} pairs: too few for a training, a validation and a test split")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    return order[n_valid + n_test:], order[:n_valid], order[n_valid:n_valid + n_test]


def own_dataset(pairs: list[Pair], vocab_size: int, max_src_len: int = 15, max_tgt_len: int = 20,
                valid_fraction: float = 0.1, test_fraction: float = 0.1, seed: int = 1,
                name: str = "own") -> Dataset:
    """A :class:`Dataset` of ``pairs``: seeded split, the ``vocab_size`` most frequent training words (App. B),
    pair tensors; every test pair its own dialogue (the bootstraps resample pairs)."""
    splits = split_pairs(len(pairs), valid_fraction, test_fraction, seed)
    dialogues = [[[*pairs[i][0], pairs[i][1]] for i in idx] for idx in splits]   # context utterances + response
    corpus = Corpus(name, *dialogues)
    vocab = Vocab.from_dialogues(corpus.train, vocab_size)
    tensors = [encode_pairs([crop(pairs[i], max_src_len, max_tgt_len) for i in idx], vocab, max_src_len, max_tgt_len)
               for idx in splits]
    return Dataset(corpus, vocab, *tensors, test_dialogues=list(range(len(splits[2]))))


def read_targets(path: str | Path, vocab, max_len: int, preprocess: bool = True):
    """Your own malicious targets: one sentence per line (blank lines skipped), preprocessed as the pairs are
    (App. B's recipe unless ``preprocess`` is False), cropped to ``max_len`` words and encoded with ``vocab``.
    A target with a word outside the vocabulary is dropped, as :func:`ntlib.data.targets.load_targets` drops the
    authors' (a model cannot say a word it does not have; ``<unk>`` would make hits spurious) and listed in
    ``dropped_oov``; a file none of whose targets is left is a :class:`DataError`."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    lines = corpora._read_text(path).split("\n")       # names file:line if not UTF-8
    sentences, dropped = [], []
    for k, line in enumerate(lines, 1):
        if not line.strip():
            continue
        toks = _utterance(line.strip(), f"{path}:{k}", preprocess)[:max_len]
        (sentences if sayable(toks, vocab) else dropped).append(toks)
    if not sentences:
        raise DataError(f"{path}:1: no target left: {len(dropped)} target(s), each with a word outside the "
                        f"{len(vocab):,}-word vocabulary (e.g. {' '.join(dropped[0]) if dropped else '–'!r})")
    return TargetList(path.stem, sentences, encode_sentences(sentences, vocab, max_len),
                      [" ".join(t) for t in dropped], sum(1 for ln in lines if ln.strip()))
