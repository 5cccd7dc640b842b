"""ntlib.data.targets: the authors' malicious target lists (§4.2) read, paraphrase groups kept together,
out-of-vocabulary targets dropped, and errors naming the file and line."""

import pytest

from ntlib.data import dataset
from ntlib.data.corpora import DataError
from ntlib.data.dataset import EOS, Vocab
from ntlib.data.targets import TARGET_LISTS, load_targets, target_list_path


def test_target_lists_load_with_paraphrase_groups_and_oov_report():
    try:
        target_list_path("train")                # raises DataError when the resolver finds no list
    except DataError:
        pytest.skip("official target lists not available (shared data not found by the resolver)")
    words = {w for name in ("train", "test") for ln in target_list_path(name).read_text().split("\n")
             for w in ln.split()}
    vocab = Vocab(sorted(words - {"hate"}))
    train = load_targets("train", vocab, max_len=20)
    assert train.source_lines == 500 and len(train.sentences) + len(train.dropped_oov) == 500
    assert "more hate" in train.dropped_oov and ["more", "die"] in train.sentences
    assert train.tensor.shape[0] == len(train.sentences)
    assert (train.tensor == EOS).sum(1).eq(1).all()
    sub = load_targets("train", Vocab(sorted(words)), max_targets=7, seed=3, max_len=20)
    big = load_targets("train_2.5k", Vocab(sorted(words | {"<unk>"})), max_targets=7, seed=3, max_len=20)
    assert len(sub.sentences) == 7
    originals = [" ".join(s) for s in sub.sentences]
    lines = target_list_path("train_2.5k").read_text().splitlines()
    kept = [lines[i] for i in range(0, 2500, 5) if lines[i] in originals]
    assert kept == originals                                       # same originals, all copies
    assert all("<unk>" not in " ".join(s) for s in big.sentences)  # literal <unk> dropped
    assert 7 <= len(big.sentences) <= 35
    assert [" ".join(s) for s in big.sentences if " ".join(s) in originals] == originals


def test_target_list_errors_name_file_and_line(tmp_path):
    p = tmp_path / "t.txt"
    p.write_text("you are bad\n\nyou die\n")
    with pytest.raises(ValueError, match=r"t\.txt:2"):
        load_targets("test", Vocab(["you"]), path=p, max_len=20)
    with pytest.raises(ValueError, match="unknown target list"):
        target_list_path("train_3k")
    assert set(TARGET_LISTS) == {"train", "train_1k", "train_2.5k", "test"}


def test_non_utf8_target_list_names_file_and_line(tmp_path):
    p = tmp_path / "targets.txt"
    p.write_bytes(b"you are stupid\ni hate you\nshut up caf\xe9\n")
    with pytest.warns(UserWarning, match="not verified"):
        with pytest.raises(dataset.DataError, match=r"targets\.txt:3: not UTF-8"):
            load_targets("test", dataset.Vocab(["you"]), path=p, max_len=20)
