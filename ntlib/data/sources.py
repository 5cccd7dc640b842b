"""Where the data lives: locations, downloads with sha256 verification, the corpus sources.

Used by ``ntlib.data.dataset.load_corpus`` (notebooks/01_data.ipynb); ``python -m ntlib.data.sources
download CORPUS`` fetches a corpus that has a public URL. Lookup order: explicit
``data_dir`` → ``$NTLIB_DATA`` → ``../shared/data`` beside the repository → the download
cache; nothing found → one :class:`DataError` that lists every place looked and the URLs. An
explicit ``data_dir`` or ``$NTLIB_DATA`` that does not exist is an error, not a fallback.

Every data file is verified when it is read (:func:`verify_data_file`): against the
``SHA256SUMS`` beside it where that lists it, and against ntlib's own :data:`PINS` — the
latter even when ``SHA256SUMS`` is missing; a file neither covers is read with a warning
naming it. Hashes are cached by path, size, mtime, inode and ctime, so verifying costs one read per change.
:func:`data_digest` is the hash of what a stage reads, for run-folder and stage keys.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import urllib.request
import warnings
from pathlib import Path

from tqdm.auto import tqdm

from ntlib.data import corpora
from ntlib.data.corpora import DataError


class DataLocationError(DataError):
    """An explicit data location (``data_dir``, ``$NTLIB_DATA``) that does not exist."""
from ntlib.results.reports import atomic_path, atomic_write_text

# ---------------------------------------------------------------- where the data lives
REPO_SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"   # ../shared/data
GITHUB_RAW = "https://raw.githubusercontent.com"
OFFICIAL_URL = f"{GITHUB_RAW}/cloudygoose/negativetraining_acl2020/8984f62baf86c67343f0a0cdc897e06bb16541de"
DAILYDIALOG_URL = (f"{GITHUB_RAW}/Ls-Dai/Deep-Reinforcement-Learning-for-Dialogue-Generation-in-PyTorch/"
                   "bae51b16e3e8c0ce4ffd70b75ecfc40fbeb8e7ee/data")
OFFICIAL_VALID = "official/data/swda_dialogue/process_oneline/valid_25/valid.txt"
OFFICIAL_TEST = "official/data/swda_dialogue/process_oneline/test_25/test.txt"
OFFICIAL_VOCAB = "official/data/swda_dialogue/vocab_h10k.txt"

# relpath -> (url, sha256). sha256 None = not verifiable from here (no copy of that exact file
# was available to hash: the shared SwDA tarball is a deterministic repack, and the full
# Ubuntu / OpenSubtitles archives were never downloaded); download() then reports the hash
# it got so it can be pinned. The others are the hashes in shared/data/SHA256SUMS.
DOWNLOADS = {
    OFFICIAL_VALID: (f"{OFFICIAL_URL}/data/swda_dialogue/process_oneline/valid_25/valid.txt",
                     "77533433a8d3f053530890e694bd493693af9c187142795964830a5c31a2d506"),
    OFFICIAL_TEST: (f"{OFFICIAL_URL}/data/swda_dialogue/process_oneline/test_25/test.txt",
                    "207c0a317a34094d2f17085179831f5881e5001c9a49a04ad00e92e05ed882ea"),
    OFFICIAL_VOCAB: (f"{OFFICIAL_URL}/data/swda_dialogue/vocab_h10k.txt",
                     "efcda860b91bc2d63344cd23b525ef9166a4860d5869e5d73a6f1f3a0dfec609"),
    "swda/swb1_dialogact_annot.tar.gz": ("https://web.stanford.edu/~jurafsky/swb1_dialogact_annot.tar.gz",
                                         None),
    **{f"dailydialog/{s}.zip": (f"{DAILYDIALOG_URL}/{s}.zip", h) for s, h in (
        ("train", "6191257f8250da0e045bfd1d017645e15b2358df975ec4c5c431a5a1f99662a4"),
        ("validation", "f068cf7526a56ab5f26e99b74ce9edbc2766f7b060a3c6cef035920b0dd28153"),
        ("test", "5f9526a5ce4b8af4ca237aa3ff38cbf03becbc596c70b0974d7f5f9af2ea0615"))},
    "ubuntu_sample/dialogues_small.json": (
        f"{GITHUB_RAW}/markgw/pimlico/2a6e05f555f108d719feed315f29171ee302a6e6/examples/data/input/"
        "ubuntu_dialogue/dialogues_small.json",
        "79e773f15e2f0b554bbaa4cd2f696b472ba12c808df554d16cacc47518ed9fa5"),
    "ubuntu/ubuntu_dialogs.tgz": ("http://cs.mcgill.ca/~jpineau/datasets/ubuntu-corpus-1.0/ubuntu_dialogs.tgz",
                                  None),
    "opensubtitles/en.zip": ("https://object.pouta.csc.fi/OPUS-OpenSubtitles/v2018/raw/en.zip", None),
}

# relpath -> sha256 that ntlib pins itself besides DOWNLOADS' (``pinned_sha256``): checked even
# where SHA256SUMS is missing. The malicious target lists (as in shared/data/SHA256SUMS).
TARGET_LISTS_DIR = "official/para_adv_lists/res_500"
PINS = {
    f"{TARGET_LISTS_DIR}/train_500_cp1.txt": "ecd65bb8ed2af1743ea773420729d696adec809f6a0d7053e02fddc4c7bb9ff9",
    f"{TARGET_LISTS_DIR}/train_500_cp2.txt": "8d056728df964159f5566864e4b58c0700f8c1d0987bd49e431d0d2140f3e4be",
    f"{TARGET_LISTS_DIR}/train_500_cp5.txt": "c3ab6539f8a83af30578af9eed8eb1812037a06c79dadcb6a32d45d828c3b6be",
    f"{TARGET_LISTS_DIR}/test_500.txt": "7de0b0d776c1d90068106a5bbc6ba8c3938b5e2d2f119c614fd9a95c0a9d34f1",
}


def pinned_sha256(rel: str) -> str | None:
    """The sha256 ntlib pins for ``rel`` (DOWNLOADS, then PINS); None when it pins none."""
    return (DOWNLOADS.get(rel, (None, None))[1]) or PINS.get(rel)


# corpus -> alternatives (first found wins), each: files it needs, reader(root, limits)
SOURCES = {
    "switchboard": [(("swda/swb1_dialogact_annot.tar.gz", "swda/split_official.tsv"),
                     lambda r, lim: corpora.read_switchboard(r / "swda/swb1_dialogact_annot.tar.gz",
                                                       r / "swda/split_official.tsv", lim))],
    "dailydialog": [(("dailydialog/train.zip", "dailydialog/validation.zip", "dailydialog/test.zip"),
                     lambda r, lim: corpora.read_dailydialog(r / "dailydialog", lim))],
    "ubuntu": [(("ubuntu/ubuntu_dialogs.tgz",),
                lambda r, lim: corpora.read_ubuntu_dialogs(r / "ubuntu/ubuntu_dialogs.tgz", lim)),
               (("ubuntu_sample/dialogues_small.json",),
                lambda r, lim: corpora.read_ubuntu_json(r / "ubuntu_sample/dialogues_small.json", lim))],
    "opensubtitles": [(("opensubtitles/en.zip",),
                       lambda r, lim: corpora.read_opensubtitles(r / "opensubtitles/en.zip", lim))],
}


def cache_dir() -> Path:
    """``$NTLIB_CACHE`` or ``~/.cache/ntlib``: preprocessed corpora and downloads."""
    return Path(os.environ.get("NTLIB_CACHE") or Path.home() / ".cache" / "ntlib")


def data_locations(data_dir: str | Path | None = None) -> list[tuple[str, Path | None]]:
    """Where data is looked for, in order: explicit path, $NTLIB_DATA, ../shared/data, downloads."""
    env = os.environ.get("NTLIB_DATA")
    for label, given in (("data_dir argument", data_dir), ("$NTLIB_DATA", env)):
        if given and not Path(given).is_dir():
            raise DataLocationError(f"{label}: {given} is not a folder (a typo?); nothing is read from elsewhere "
                            "in its place — fix or unset it")
        if given and not any(Path(given).iterdir()):
            raise DataLocationError(f"{label}: {given} is an empty folder (the data not copied yet?); nothing is "
                                    "read from elsewhere in its place — fill, fix or unset it")
    return [("data_dir argument", Path(data_dir) if data_dir else None),
            ("$NTLIB_DATA", Path(env) if env else None),
            ("shared data beside the repository", REPO_SHARED_DATA),
            ("download cache ($NTLIB_CACHE/data)", cache_dir() / "data")]


def resolve_data(alternatives: list[tuple[str, ...]], data_dir=None, download: bool = False,
                 what: str = "data") -> tuple[Path, int]:
    """(root, index of the alternative) of the first location holding all files of an alternative.

    Nothing found: with ``download`` the first alternative whose files all have a URL is
    downloaded into the cache and verified; otherwise one error lists every place looked.
    """
    looked, explicit = [], None
    for label, root in data_locations(data_dir):
        if root is None:
            looked.append(f"  {label}: not set")
            continue
        for k, files in enumerate(alternatives):
            if all((root / f).is_file() for f in files):
                if explicit:                # not silent: the folder the user named did not have it
                    warnings.warn(f"{explicit[0]} {explicit[1]} has no {' + '.join(files)}; read from the "
                                  f"{label} {root} instead", stacklevel=2)
                return root, k
        looked.append(f"  {label}: {root} (no {' / '.join(' + '.join(f) for f in alternatives)})")
        if explicit is None and label in ("data_dir argument", "$NTLIB_DATA"):
            explicit = (label, root)
    dest = cache_dir() / "data"
    for k, files in enumerate(alternatives):
        if download and all(f in DOWNLOADS for f in files):
            for f in files:
                if not (dest / f).is_file():
                    fetch(DOWNLOADS[f][0], dest / f, DOWNLOADS[f][1])
            return dest, k
    urls = [f"  {f}: {DOWNLOADS[f][0]}" if f in DOWNLOADS else f"  {f}: no public URL; copy it "
            "from the project's shared/data" for files in alternatives for f in files]
    raise DataError(f"{what} not found. Looked in:\n" + "\n".join(looked) + "\nGet it by passing "
                    "data_dir=..., setting NTLIB_DATA, or download=True (`python -m ntlib.data.sources "
                    "download CORPUS`) for files with a URL:\n" + "\n".join(urls))


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify_sha256(path: str | Path, expected: str | None, source: str | None = None) -> str:
    """The file's sha256; :class:`DataError` naming the file when it differs from ``expected``."""
    got = sha256_file(path)
    if expected is not None and got != expected.lower():
        raise DataError(f"{path}: sha256 {got} does not match the expected {expected}"
                        + (f" (from {source})" if source else "") + "; the file is corrupt or different")
    return got


_SHA_MEMO: dict[tuple, str] = {}


SHA_CACHE = "sha256-stamped.json"     # {path: {size, mtime_ns, ino, ctime_ns, sha256}}; the older
                                      # sha256.json ([size, mtime, sha]) stays with older checkouts


def cached_sha256(path: str | Path) -> str:
    """sha256 of ``path``, remembered in this process and in ``cache_dir()/`` :data:`SHA_CACHE` by
    (absolute path, size, mtime, inode, ctime): a file changed in any way is hashed again. The ctime
    cannot be set back, so a file edited in place with its size and mtime restored is read again too."""
    path = Path(path).resolve()
    st = path.stat()
    stamp = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "ino": st.st_ino, "ctime_ns": st.st_ctime_ns}
    key = (str(path), *stamp.values())
    if key in _SHA_MEMO:
        return _SHA_MEMO[key]
    disk = cache_dir() / SHA_CACHE
    try:
        table = json.loads(disk.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        table = {}
    hit = table.get(key[0]) if isinstance(table, dict) else None
    if isinstance(hit, dict) and {k: hit.get(k) for k in stamp} == stamp and isinstance(hit.get("sha256"), str):
        sha = hit["sha256"]
    else:
        sha = sha256_file(path)
        if st.st_size > 1 << 20:            # worth remembering across processes
            table = table if isinstance(table, dict) else {}
            table[key[0]] = {**stamp, "sha256": sha}
            try:
                atomic_write_text(disk, json.dumps(table))
            except OSError:
                pass
    _SHA_MEMO[key] = sha
    return sha


def read_sha256sums(root: Path) -> dict[str, str] | None:
    """``root/SHA256SUMS`` as {relpath: sha256}; None when there is none."""
    sums_path, sums = Path(root) / "SHA256SUMS", {}
    if not sums_path.is_file():
        return None
    text = sums_path.read_bytes().decode("utf-8", errors="replace")
    for n, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2:
            raise DataError(f"{sums_path}:{n}: expected '<sha256>  <path>'")
        sums[parts[1].lstrip("*")] = parts[0]
    return sums


def verify_data_file(root: str | Path, rel: str) -> str:
    """sha256 of ``root/rel``, checked against ``root/SHA256SUMS`` where it lists ``rel`` and
    against ntlib's :data:`PINS`; a mismatch is a :class:`DataError` naming the file. A file
    that neither covers is read with a warning naming it and saying why."""
    root = Path(root)
    path = root / rel
    got = cached_sha256(path)
    sums = read_sha256sums(root)
    for expected, source in ((sums.get(rel) if sums else None, root / "SHA256SUMS"),
                             (pinned_sha256(rel), "ntlib.data.sources." + ("PINS" if rel in PINS else "DOWNLOADS"))):
        if expected is not None and got != expected.lower():
            raise DataError(f"{path}: sha256 {got} does not match the expected {expected} (from {source}); "
                            "the file is corrupt, truncated or different")
    if pinned_sha256(rel) is None and not (sums and rel in sums):
        why = f"no SHA256SUMS in {root}" if sums is None else f"not listed in {root / 'SHA256SUMS'}"
        warnings.warn(f"{path}: not verified ({why}, and ntlib pins no sha256 for {rel})", stacklevel=2)
    return got


def verify_file(path: str | Path) -> str:
    """:func:`verify_data_file` for a path given directly: checked against the ``SHA256SUMS`` of
    the nearest folder above it that lists it, or ntlib's pin for its trailing relative path."""
    path = Path(path).resolve()
    for root in path.parents:
        sums = read_sha256sums(root)
        if sums is not None:
            rel = path.relative_to(root).as_posix()
            if rel in sums:
                return verify_data_file(root, rel)
    for rel in [*PINS, *(r for r, (_, sha) in DOWNLOADS.items() if sha)]:
        if path.as_posix().endswith("/" + rel):
            return verify_data_file(Path(path.as_posix()[:-len(rel)]), rel)
    return verify_data_file(path.parent, path.name)


def check_sha256sums(root: Path, files) -> dict[str, str]:
    """sha256 of ``files`` under ``root``, each verified (:func:`verify_data_file`)."""
    return {f: verify_data_file(root, f) for f in files}


def data_digest(files_by_alternative: list[tuple[str, ...]], data_dir=None) -> dict[str, str | None]:
    """{relpath: sha256} of the data a stage reads: each group of files is resolved like the
    readers resolve it (:func:`resolve_data`) and verified; a group found nowhere maps to None."""
    out: dict[str, str | None] = {}
    for files in files_by_alternative:
        try:
            root, _ = resolve_data([files], data_dir)
        except DataLocationError:
            raise
        except DataError:
            out.update({f: None for f in files})
            continue
        out.update(check_sha256sums(root, files))
    return out


def corpus_files(corpus: str, data_dir=None) -> tuple[str, ...]:
    """The files of the first alternative of ``corpus`` that is found (what load_corpus reads)."""
    alternatives = [files for files, _ in SOURCES[corpus]]
    try:
        _, k = resolve_data(alternatives, data_dir)
    except DataLocationError:
        raise
    except DataError:
        k = 0
    return alternatives[k]


def fetch(url: str, dest: str | Path, sha256: str | None) -> Path:
    """Download ``url`` to ``dest`` atomically, verifying ``sha256`` (mismatch → nothing kept)."""
    dest = Path(dest)
    with atomic_path(dest, suffix=".part") as tmp:
        with open(tmp, "wb") as out, urllib.request.urlopen(url) as resp:
            total = int(resp.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name) as bar:
                for block in iter(lambda: resp.read(1 << 20), b""):
                    out.write(block)
                    bar.update(len(block))
        got = verify_sha256(tmp, sha256, url)
        if sha256 is None:
            warnings.warn(f"{dest}: no sha256 pinned for {url}; got {got} (pin it in DOWNLOADS)")
    return dest


def main(argv: list[str] | None = None) -> int:
    """``python -m ntlib.data.sources download CORPUS [--data-dir D]``."""
    ap = argparse.ArgumentParser(prog="python -m ntlib.data.sources")
    ap.add_argument("command", choices=["download"])
    ap.add_argument("corpus", nargs="?", default="switchboard", choices=sorted(SOURCES))
    ap.add_argument("--data-dir", default=None)
    args = ap.parse_args(argv)
    files = [f for f, _ in SOURCES[args.corpus]][0]
    root, _ = resolve_data([files], args.data_dir, download=True, what=f"{args.corpus} data")
    print(f"{args.corpus}: {root}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
