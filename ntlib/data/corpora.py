"""Corpus readers and the paper's preprocessing (App. B): Switchboard, Ubuntu, OpenSubtitles, DailyDialog.

Shown in notebooks/01_data.ipynb; ``ntlib.data.dataset.load_corpus`` finds the files and calls these.
Every reader returns ``(train, valid, test)`` lists of dialogues (utterances = token lists)
and reads only the dialogues it keeps (``limits``), so smoke runs stay fast. Bad input
raises :class:`DataError` naming the file and line.
"""
from __future__ import annotations

import gzip
import io
import json
import random
import re
import tarfile
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

from nltk.tokenize import TreebankWordTokenizer
from tqdm.auto import tqdm

Dialogue = list[list[str]]
Splits = tuple[list[Dialogue], list[Dialogue], list[Dialogue]]

PREPROCESS_VERSION = 1      # bump when any recipe below changes (invalidates the cache)
TREEBANK = TreebankWordTokenizer()


class DataError(ValueError):
    """A data file that is missing, malformed or empty; the message names the file (and line)."""


def _limit(items: list, n: int | None) -> list:
    return items if n is None else items[:n]


# ---------------------------------------------------------------- Switchboard (swda/README.md)
UTT_LINE = re.compile(r"^(\S+)\s+@*([AB])\.(\d+)\s+utt(\d+):\s?(.*)$")
SWDA_DROP_TOKENS = {"-", "``", "''", "..."}


def clean_swda_text(t: str) -> str:
    """Step 2.1–2.7 of the reverse-engineered SwDA recipe (swda/README.md); order matters."""
    t = t.strip()
    t = re.sub(r"\[(.*?)\+", " ", t)                # 2.1 reparandum: '[' .. next '+', one pass
    t = re.sub(r"\{\w.*?\}", " ", t)                 # 2.2 {F ..} {D ..} {C ..} {E ..} {A ..}
    t = re.sub(r"<<.*?>>", " ", t)                   # 2.3 comments, then non-speech sounds
    t = re.sub(r"<.*?>", " ", t)
    t = re.sub(r"\(\(.*\)\)", " ", t)                # 2.4 uncertain transcription, GREEDY
    t = t.replace("]", " ")                          # 2.5
    t = re.sub(r"(?<=\s)\+(?=\s)", " ", t)           #     '+' only between whitespace
    t = t.replace("--", " ").replace("/", " ").replace("#", " ")
    t = re.sub(r"\s+-(?=[A-Za-z])", "", t)           # 2.6 'T V -s' -> 'T Vs'
    return re.sub(r'[.,?!";:]', " ", t)              # 2.7 apostrophe kept


def tokenize_swda(t: str) -> list[str]:
    """Steps 2.1–2.8: clean, Treebank-tokenize, lower-case, drop ``- `` '' ...``."""
    return [w.lower() for w in TREEBANK.tokenize(clean_swda_text(t)) if w not in SWDA_DROP_TOKENS]


def preprocess_swda(lines: list[str], name: str = "<utt>", first_line: int = 1) -> Dialogue:
    """One conversation's utterance lines → utterances (recipe steps 1–3, swda/README.md).

    ``lines`` are the lines after the ``=====`` header; blank lines are skipped, any other
    line that does not parse raises :class:`DataError` naming ``name`` and its line number.
    """
    utts: Dialogue = []
    last: dict[str, list[str]] = {}                  # speaker -> its latest kept utterance
    for k, line in enumerate(lines):
        if not line.strip():
            continue
        m = UTT_LINE.match(line.strip())
        if m is None:
            raise DataError(f"{name}:{first_line + k}: not a SwDA utterance line: {line.strip()[:80]!r}")
        tag, speaker, text = m.group(1), m.group(2), m.group(5)
        if "@" in tag:                               # step 1: segmentation-error marks
            continue
        toks = tokenize_swda(text)
        if tag.startswith("+") and speaker in last:  # step 3: continuation of own utterance
            last[speaker].extend(toks)
        elif any(re.search(r"[a-z0-9]", w) for w in toks):
            utts.append(toks)
            last[speaker] = toks
    return utts


def _utt_body(text: str, name: str) -> tuple[list[str], int]:
    """Lines after the header rule of a ``.utt`` file, and the 1-based number of the first."""
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if line.strip().startswith("====="):
            return lines[i + 1:], i + 2
    raise DataError(f"{name}:1: no '=====' line ending the header; not a SwDA .utt file")


def read_split_tsv(path: Path) -> dict[str, list[tuple[str, int]]]:
    """``split_official.tsv`` → split → [(swda_file, line_in_official_file or file order)]."""
    out: dict[str, list[tuple[str, int]]] = {"train": [], "valid": [], "test": []}
    lines = _read_text(path).splitlines()
    if len(lines) < 2:
        raise DataError(f"{path}:1: empty split file")
    for n, line in enumerate(lines[1:], start=2):
        cols = line.split("\t")
        if len(cols) != 4 or cols[2] not in out or (cols[2] != "train" and not cols[3].isdigit()):
            raise DataError(f"{path}:{n}: expected 'conv<TAB>file<TAB>train|valid|test<TAB>line', "
                            f"got {line[:80]!r}")
        out[cols[2]].append((cols[1], int(cols[3]) if cols[3] else n))
    for split, rows in out.items():
        if not rows:
            raise DataError(f"{path}:{len(lines)}: split {split!r} has no conversation")
        rows.sort(key=lambda r: r[1])                # official order (valid/test), file order (train)
    return out


def read_switchboard(tar_path: Path, tsv_path: Path, limits: tuple = (None, None)) -> Splits:
    """SwDA ``.utt`` archive + official split → (train, valid, test) (App. B; swda/README.md)."""
    split = read_split_tsv(tsv_path)
    keep = {s: [f for f, _ in _limit(rows, limits[0] if s == "train" else limits[1])]
            for s, rows in split.items()}
    wanted = {f for files in keep.values() for f in files}
    found: dict[str, Dialogue] = {}
    bar = tqdm(total=len(wanted), desc="SwDA conversations", leave=False,
               disable=len(wanted) < 200, mininterval=2)
    try:
        with tarfile.open(tar_path, "r:*") as tar:
            for member in tar:
                m = re.search(r"(sw\d\dutt/sw_\d{4}_\d{4}\.utt)$", member.name)
                if m is None or m.group(1) not in wanted:
                    continue
                name = f"{tar_path}!{member.name}"
                raw = tar.extractfile(member).read()
                text = _decode(raw, name)
                body, first = _utt_body(text, name)
                dialogue = preprocess_swda(body, name, first)
                if not dialogue:
                    raise DataError(f"{name}:{first}: conversation has no utterance")
                found[m.group(1)] = dialogue
                bar.update()
    except (tarfile.TarError, EOFError, OSError) as e:
        raise DataError(f"{tar_path}: not a readable tar archive ({e})") from e
    finally:
        bar.close()
    missing = sorted(wanted - set(found))
    if missing:
        raise DataError(f"{tar_path}: {len(missing)} conversations of {tsv_path} are not in the "
                        f"archive, e.g. {missing[:3]}")
    return tuple([found[f] for f in keep[s]] for s in ("train", "valid", "test"))


# ---------------------------------------------------------------- the other corpora
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"',
                         "\u2014": " ", "\u2013": " ", "\u3002": "."})


def tokenize(text: str) -> list[str]:
    """Lower-case, remove punctuation, Treebank tokens (App. B): ``I don't!`` → ``i do n't``.

    Apostrophes survive until Treebank has split contractions; intra-word hyphens are kept
    (``uh-huh``) as in the authors' Switchboard files; tokens left without a letter or
    digit (a lone ``'``) are dropped.
    """
    t = text.translate(_QUOTES).lower()
    t = re.sub(r"(?<![a-z0-9])-|-(?![a-z0-9])", " ", t)
    t = re.sub(r"[^\w\s'-]|_", " ", t)
    return [w for w in TREEBANK.tokenize(t) if re.search(r"[a-z0-9]", w)]


def _dialogue(turns: list[str]) -> Dialogue:
    return [toks for toks in map(tokenize, turns) if toks]


def paper_split(n: int, sizes: tuple[int, int, int], name: str) -> tuple[slice, slice, slice]:
    """First ``sizes[0]`` for train, next ``sizes[1]`` valid, next ``sizes[2]`` test (App. B).

    With fewer than ``sum(sizes)`` dialogues the same proportions are used (at least one
    dialogue per evaluation split): the 2,002-dialogue Ubuntu sample → 1906 / 48 / 48.
    """
    if n >= sum(sizes):
        a, b, c = sizes
    else:
        if n < 3:
            raise DataError(f"{name}: {n} dialogues; need at least 3 for train/valid/test")
        b = c = max(1, round(n * sizes[1] / sum(sizes)))
        a = n - b - c
    return slice(0, a), slice(a, a + b), slice(a + b, a + b + c)


def _take(items: list, sl: tuple, limits: tuple) -> tuple[list, list, list]:
    return (_limit(items[sl[0]], limits[0]), _limit(items[sl[1]], limits[1]),
            _limit(items[sl[2]], limits[1]))


def read_dailydialog(folder: Path, limits: tuple = (None, None)) -> Splits:
    """``{train,validation,test}.zip`` of DailyDialog: one dialogue per line, ``__eou__`` closes turns."""
    out = []
    for split, lim in (("train", limits[0]), ("validation", limits[1]), ("test", limits[1])):
        path = folder / f"{split}.zip"
        member = f"{split}/dialogues_{split}.txt"
        try:
            with zipfile.ZipFile(path) as z:
                text = _decode(z.read(member), f"{path}!{member}")
        except (zipfile.BadZipFile, KeyError, OSError) as e:
            raise DataError(f"{path}: cannot read member {member} ({e})") from e
        lines = text.splitlines()
        if not lines:
            raise DataError(f"{path}!{member}:1: empty split")
        dialogues = []
        for n, line in enumerate(_limit(lines, lim), start=1):
            if "__eou__" not in line:
                raise DataError(f"{path}!{member}:{n}: no '__eou__' in line {line[:80]!r}")
            d = _dialogue(line.split("__eou__"))
            if not d:
                raise DataError(f"{path}!{member}:{n}: dialogue has no words")
            dialogues.append(d)
        out.append(dialogues)
    return tuple(out)


def read_ubuntu_json(path: Path, limits: tuple = (None, None)) -> Splits:
    """The pimlico sample (``ubuntu_sample/dialogues_small.json``): one utterance per text line."""
    try:
        items = json.loads(_read_text(path))
    except json.JSONDecodeError as e:
        raise DataError(f"{path}:{e.lineno}: not valid JSON ({e.msg})") from e
    if not isinstance(items, list) or not items:
        raise DataError(f"{path}:1: expected a non-empty JSON list of dialogues")
    for k, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("text"), str):
            raise DataError(f"{path}: dialogue {k} (0-based; no line numbers in parsed JSON) "
                            "has no string field 'text'")
    texts = [item["text"] for item in items]
    parts = _take(texts, paper_split(len(texts), (200_000, 5_000, 5_000), str(path)), limits)
    return tuple([d for d in (_dialogue(t.split("\n")) for t in part) if d] for part in parts)


def read_ubuntu_dialogs(tgz_path: Path, limits: tuple = (None, None)) -> Splits:
    """Public Ubuntu Dialogue Corpus v1 ``ubuntu_dialogs.tgz`` (Lowe et al. 2015).

    Members ``dialogs/<folder>/<n>.tsv``, lines ``time<TAB>from<TAB>to<TAB>text``; a sender's
    consecutive messages are one utterance. Dialogues in archive order: first 200k train,
    next 5k valid, next 5k test (App. B); reading stops once those are read.
    """
    need = 210_000                                   # the split never uses more
    texts: list[list[str]] = []
    try:
        with tarfile.open(tgz_path, "r:*") as tar:
            for member in tar:
                if not (member.isfile() and member.name.endswith(".tsv")):
                    continue
                name = f"{tgz_path}!{member.name}"
                turns, who = [], None
                for n, line in enumerate(_decode(tar.extractfile(member).read(), name).splitlines(), 1):
                    cols = line.split("\t", 3)
                    if len(cols) != 4:
                        raise DataError(f"{name}:{n}: expected 4 tab-separated columns "
                                        f"(time, from, to, text), got {len(cols)}")
                    if turns and cols[1] == who:
                        turns[-1] += " " + cols[3]
                    else:
                        turns.append(cols[3])
                    who = cols[1]
                texts.append(turns)
                if len(texts) >= need:
                    break
    except (tarfile.TarError, EOFError, OSError) as e:
        raise DataError(f"{tgz_path}: not a readable tar archive ({e})") from e
    if not texts:
        raise DataError(f"{tgz_path}: no dialogs/*/*.tsv member")
    parts = _take(texts, paper_split(len(texts), (200_000, 5_000, 5_000), str(tgz_path)), limits)
    return tuple([d for d in map(_dialogue, part) if d] for part in parts)


def read_opus_movie(raw: bytes, name: str) -> Dialogue:
    """One OPUS OpenSubtitles XML document (``<s><w>word</w>..</s>``) → one dialogue (App. B)."""
    try:
        root = ET.parse(io.BytesIO(raw)).getroot()
    except ET.ParseError as e:
        raise DataError(f"{name}:{e.position[0]}: malformed XML ({e})") from e
    sents = [" ".join(w.text or "" for w in s.iter("w")) or "".join(s.itertext())
             for s in root.iter("s")]
    d = _dialogue(sents)
    if not d:
        raise DataError(f"{name}:1: no <s> sentence with words")
    return d


def read_opensubtitles(path: Path, limits: tuple = (None, None), seed: int = 0) -> Splits:
    """OPUS OpenSubtitles per-movie XML (a folder of ``*.xml[.gz]`` or a ``.zip``).

    Movies are shuffled with a fixed seed ("randomly select", App. B), then 5k train /
    50 valid / 50 test (proportionally fewer when fewer movies are available).
    """
    path = Path(path)
    if path.is_dir():
        files = sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.name.endswith((".xml", ".xml.gz")))
        read = lambda f: (path / f).read_bytes()
    else:
        try:
            z = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as e:
            raise DataError(f"{path}: not a folder or readable zip of OPUS XML ({e})") from e
        files = sorted(n for n in z.namelist() if n.endswith((".xml", ".xml.gz")))
        read = z.read
    try:
        if not files:
            raise DataError(f"{path}: no OPUS *.xml or *.xml.gz movie file")
        random.Random(seed).shuffle(files)
        parts = _take(files, paper_split(len(files), (5_000, 50, 50), str(path)), limits)
        unzip = lambda f, raw: gzip.decompress(raw) if f.endswith(".gz") else raw
        return tuple([read_opus_movie(unzip(f, read(f)), f"{path}/{f}" if path.is_dir() else f"{path}!{f}")
                      for f in part] for part in parts)
    finally:
        if not path.is_dir():
            z.close()


# ---------------------------------------------------------------- text helpers
def _decode(raw: bytes, name: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise DataError(f"{name}:{line}: not UTF-8 ({e.reason} at byte {e.start})") from e


def _read_text(path: Path) -> str:
    try:
        return _decode(Path(path).read_bytes(), str(path))
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e})") from e
