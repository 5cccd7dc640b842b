"""Issue 14, defect 2: every data file with a checksum is verified when read; a missing SHA256SUMS
is a warning naming what was not verified; a data location that does not exist is an error; run
folders and stage keys hash the data they read. Every test makes its own tiny data."""
import hashlib
import warnings

import pytest
from toys import conv, swda_archive

from ntlib.data import dataset, sources
from ntlib.data.targets import load_targets
from ntlib.run.config import DataConfig
from ntlib.run.pipeline import baselines_run_dir
from ntlib.run.profiles import get_profile
from ntlib.run.reproduce import stage_keys

WORDS = ["you", "are", "stupid", "i", "hate", "you", "shut", "up"]


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _targets(root, rel="lists/targets.txt", n=20):
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{WORDS[k % 8]} {WORDS[(k + 1) % 8]}\n" for k in range(n)))
    (root / "SHA256SUMS").write_text(f"{_sha(path)}  {rel}\n")
    return path


def test_truncated_target_list_is_refused_naming_it(tmp_path):
    path = _targets(tmp_path)
    vocab = dataset.Vocab(sorted(set(WORDS)))
    assert len(load_targets("test", vocab, path=path, max_len=20).sentences) == 20      # intact: read
    path.write_text("".join(path.read_text().splitlines(keepends=True)[:9]))  # cut, as 500 -> 246
    with pytest.raises(dataset.DataError, match=r"lists/targets\.txt: sha256 .* does not match .*SHA256SUMS"):
        load_targets("test", vocab, path=path, max_len=20)


def test_a_line_deleted_and_another_duplicated_is_refused(tmp_path):
    path = _targets(tmp_path)
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:3] + lines[4:] + lines[-1:]))           # same line count
    with pytest.raises(dataset.DataError, match="targets.txt: sha256"):
        load_targets("test", dataset.Vocab(sorted(set(WORDS))), path=path, max_len=20)


def test_pinned_files_are_verified_without_sha256sums(tmp_path, monkeypatch):
    # the authors' vocabulary: ntlib pins its sha256 itself; no SHA256SUMS in this data folder
    vocab = tmp_path / sources.OFFICIAL_VOCAB
    vocab.parent.mkdir(parents=True)
    vocab.write_text("i\nyou\nthe\n")
    monkeypatch.delenv("NTLIB_DATA", raising=False)
    corpus = dataset.Corpus("toy", [[["i", "you"]]], [], [])
    with pytest.raises(dataset.DataError, match=r"vocab_h10k\.txt: sha256 .* ntlib\.data\.sources\.DOWNLOADS"):
        dataset.build_vocab(corpus, DataConfig(vocab_file="official"), data_dir=tmp_path)
    # a pinned target list, likewise
    rel = f"{sources.TARGET_LISTS_DIR}/train_500_cp1.txt"
    (tmp_path / rel).parent.mkdir(parents=True)
    (tmp_path / rel).write_text("you are stupid\n")
    with pytest.raises(dataset.DataError, match=r"train_500_cp1\.txt: sha256 .* \(from ntlib\.data\.sources\.PINS\)"):
        load_targets("train", dataset.Vocab(sorted(set(WORDS))), data_dir=tmp_path, max_len=20)


def test_missing_sha256sums_warns_naming_what_was_not_verified(tmp_path):
    path = _targets(tmp_path)
    (tmp_path / "SHA256SUMS").unlink()
    with pytest.warns(UserWarning, match=rf"{path}: not verified \(no SHA256SUMS in {tmp_path}"):
        load_targets("test", dataset.Vocab(sorted(set(WORDS))), path=path, max_len=20)


def test_verified_hashes_are_cached_by_size_and_mtime(tmp_path):
    path = _targets(tmp_path)
    first = sources.cached_sha256(path)
    assert sources.cached_sha256(path) == first == _sha(path)
    path.write_text("changed\n")
    assert sources.cached_sha256(path) == _sha(path) != first


def test_explicit_data_dir_or_ntlib_data_that_does_not_exist_is_an_error(tmp_path, monkeypatch):
    monkeypatch.delenv("NTLIB_DATA", raising=False)
    with pytest.raises(dataset.DataError, match=rf"data_dir argument: {tmp_path / 'typo'} is not a folder"):
        dataset.load_corpus(get_profile("smoke").data, data_dir=tmp_path / "typo")
    monkeypatch.setenv("NTLIB_DATA", str(tmp_path / "shraed"))
    with pytest.raises(dataset.DataError, match=r"\$NTLIB_DATA: .*shraed is not a folder"):
        dataset.load_corpus(get_profile("smoke").data)
    with pytest.raises(dataset.DataError, match="NTLIB_DATA"):
        load_targets("train", dataset.Vocab(WORDS), max_len=20)


def _tiny_swda(tmp_path, last="Fine."):
    convs = {"sw00utt/sw_0001_1000.utt": conv("Hello there.", "Hi, how are you?", last),
             "sw08utt/sw_0801_2000.utt": conv("Valid.", "Okay."),
             "sw08utt/sw_0803_2002.utt": conv("Test one.", "I don't know.")}
    splits = [("sw00utt/sw_0001_1000.utt", "train", ""), ("sw08utt/sw_0801_2000.utt", "valid", 0),
              ("sw08utt/sw_0803_2002.utt", "test", 0)]
    root = swda_archive(tmp_path, convs, splits)
    (root / "SHA256SUMS").write_text("".join(f"{_sha(root / f)}  {f}\n" for f in
                                             ("swda/swb1_dialogact_annot.tar.gz", "swda/split_official.tsv")))
    return root


def test_run_folders_and_stage_keys_hash_the_data_read(tmp_path, monkeypatch):
    monkeypatch.setenv("NTLIB_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("NTLIB_DATA", raising=False)
    a, b = _tiny_swda(tmp_path / "a"), _tiny_swda(tmp_path / "b", last="Not fine at all.")
    P = get_profile("smoke")
    assert baselines_run_dir(P, "runs", a) == baselines_run_dir(P, "runs", a)
    assert baselines_run_dir(P, "runs", a) != baselines_run_dir(P, "runs", b)   # other data: other models
    nbs = tmp_path / "nb"
    nbs.mkdir()
    from toys import stage_notebooks
    stage_notebooks(nbs)
    ka, kb = stage_keys("smoke", "switchboard", nbs, a), stage_keys("smoke", "switchboard", nbs, b)
    assert all(ka[s] != kb[s] for s in ka)
    assert stage_keys("smoke", "switchboard", nbs, a) == ka


def test_tampered_corpus_with_sha256sums_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("NTLIB_CACHE", str(tmp_path / "cache"))
    root = _tiny_swda(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                   # all files listed: no warning
        assert dataset.load_corpus(DataConfig(), data_dir=root, use_cache=False).train
    tsv = root / "swda/split_official.tsv"
    tsv.write_text(tsv.read_text().replace("\tvalid\t", "\ttest\t"))
    with pytest.raises(dataset.DataError, match=r"split_official\.tsv: sha256"):
        dataset.load_corpus(DataConfig(), data_dir=root, use_cache=False)


def test_a_file_edited_in_place_with_size_and_mtime_restored_is_hashed_again(tmp_path, monkeypatch):
    """Issue 27: a data file over 1 MB changed in place with the same size and mtime passed, because the
    hash cached in $NTLIB_CACHE/sha256.json was reused (the next process trusted it); the cache is now
    ntlib.data.sources.SHA_CACHE, stamped with inode and ctime too."""
    import os
    monkeypatch.setenv("NTLIB_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "data" / "big.txt"
    path.parent.mkdir()
    path.write_bytes(b"a" * (1 << 20) + b"\n")
    (tmp_path / "data" / "SHA256SUMS").write_text(f"{_sha(path)}  big.txt\n")
    sources.verify_file(path)                                   # hashed and cached on disk (> 1 MB)
    assert (tmp_path / "cache" / sources.SHA_CACHE).is_file()
    st = path.stat()
    with open(path, "r+b") as f:                           # in place: same inode, same size
        f.write(b"b")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))    # the mtime put back
    monkeypatch.setattr(sources, "_SHA_MEMO", {})                # a new process: only the disk cache
    with pytest.raises(dataset.DataError, match=r"big\.txt: sha256 .* does not match"):
        sources.verify_file(path)


def test_an_empty_data_folder_is_an_error_not_a_fallback(tmp_path, monkeypatch):
    """Issue 27: NTLIB_DATA or data_dir pointing at an existing empty folder fell back to ../shared/data."""
    monkeypatch.delenv("NTLIB_DATA", raising=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(dataset.DataError, match=rf"data_dir argument: {tmp_path / 'empty'} is an empty folder"):
        dataset.load_corpus(get_profile("smoke").data, data_dir=tmp_path / "empty")
    monkeypatch.setenv("NTLIB_DATA", str(tmp_path / "empty"))
    with pytest.raises(dataset.DataError, match=r"\$NTLIB_DATA: .*empty is an empty folder"):
        load_targets("train", dataset.Vocab(WORDS), max_len=20)
