"""The authors' malicious target lists (§4.2, Table 2): ``train`` (0.5k), ``train_1k`` (+1 paraphrase
copy), ``train_2.5k`` (+4 copies), ``test`` (0.5k held out), read and encoded (:func:`load_targets`);
out-of-vocabulary targets are dropped. Used by Algorithm 1 (:mod:`ntlib.methods.malicious`), notebook 03.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from ntlib.data.corpora import _read_text
from ntlib.data.dataset import SPECIALS, Vocab, encode_sentences
from ntlib.data.sources import TARGET_LISTS_DIR, resolve_data, verify_file

LISTS_DIR = TARGET_LISTS_DIR


# list name -> (file under para_adv_lists/res_500, lines per original training target)
TARGET_LISTS = {
    "train": ("train_500_cp1.txt", 1),     # §4.2: the 0.5k training list
    "train_1k": ("train_500_cp2.txt", 2),  # each target + its 1st paraphrase
    "train_2.5k": ("train_500_cp5.txt", 5),  # each target + its first 4 paraphrases
    "test": ("test_500.txt", 1),           # the 0.5k held-out test list
}


@dataclass
class TargetList:
    """Encoded malicious targets ``(N, T)`` (``y + <eos>``) and what loading dropped."""
    name: str
    sentences: list[list[str]]
    tensor: torch.Tensor
    dropped_oov: list[str] = field(default_factory=list)    # targets with a word outside the vocab
    source_lines: int = 0


def target_list_path(name: str, data_dir: str | Path | None = None) -> Path:
    """Path of list ``name``: data_dir → $NTLIB_DATA → ../shared/data (``sources.resolve_data``)."""
    if name not in TARGET_LISTS:
        raise ValueError(f"unknown target list {name!r}; choose one of {sorted(TARGET_LISTS)}")
    rel = f"{LISTS_DIR}/{TARGET_LISTS[name][0]}"
    root, _ = resolve_data([(rel,)], data_dir, what=f"malicious target list {name!r}")
    return root / rel


def sayable(tokens, vocab: Vocab) -> bool:
    """Every word of a target is one the model can emit: in ``vocab`` and not a special token (``<unk>`` included)."""
    return all(t in vocab.stoi and t not in SPECIALS for t in tokens)


def load_targets(name: str, vocab: Vocab, data_dir: str | Path | None = None,
                 path: str | Path | None = None, max_targets: int | None = None,
                 seed: int = 1, *, max_len: int) -> TargetList:
    """Read a target list (§4.2, Table 2), drop targets with out-of-vocabulary words, encode.

    A target holding a word the model cannot emit (or a literal ``<unk>``) is dropped rather
    than mapped to ``<unk>``: "you are <unk>" is not the malicious sentence, and ``<unk>``
    is one of the most probable tokens, which would make hits spurious. A dropped original
    takes its paraphrases with it. ``max_targets`` keeps a seeded random subset of the
    remaining *original* targets with all of their in-vocabulary paraphrase copies, so the
    0.5k / 1k / 2.5k lists share their originals. ``dropped_oov`` lists what was dropped
    (after subsampling: only the dropped originals and the kept groups' paraphrases).
    """
    path = Path(path) if path is not None else target_list_path(name, data_dir)
    verify_file(path)           # SHA256SUMS / ntlib's pin: a cut or edited list is refused
    group = TARGET_LISTS.get(name, (None, 1))[1]
    lines = _read_text(path).splitlines()           # not UTF-8: DataError naming file and line
    for i, line in enumerate(lines, 1):
        if not line.strip():
            raise ValueError(f"{path}:{i}: empty target line")
    if len(lines) % group:
        raise ValueError(f"{path}: {len(lines)} lines is not a multiple of {group} (list {name!r})")
    def known(line):
        return sayable(line.split(), vocab)
    groups = [lines[i:i + group] for i in range(0, len(lines), group)]
    dropped = [ln.strip() for g in groups if not known(g[0]) for ln in g]
    groups = [g for g in groups if known(g[0])]
    if max_targets is not None and max_targets < len(groups):
        keep = torch.randperm(len(groups), generator=torch.Generator().manual_seed(seed))[:max_targets]
        groups = [groups[i] for i in sorted(keep.tolist())]
    sentences = [ln.split() for g in groups for ln in g if known(ln)]
    dropped += [ln.strip() for g in groups for ln in g if not known(ln)]
    return TargetList(name, sentences, encode_sentences(sentences, vocab, max_len), dropped, len(lines))
