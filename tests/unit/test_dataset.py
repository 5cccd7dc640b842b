"""ntlib.data.dataset / corpora / sources / corpus_stats: the paper's preprocessing (App. B), readers, vocab.

Tiny corpora are written inside each test; the real-data check compares our Switchboard
valid/test with the authors' files and skips when the shared data is absent.
"""
import gzip
import io
import json
import tarfile
import zipfile

import pytest
from toys import HEADER, conv, swda_archive

from ntlib.data import corpora, corpus_stats, dataset, sources
from ntlib.data.dataset import EOS, PAD, UNK
from ntlib.run.config import DataConfig
from ntlib.run.profiles import get_profile


# ---------------------------------------------------------------- Switchboard recipe, step by step
@pytest.mark.parametrize("text, tokens", [
    # 2.1 reparandum '[' .. next '+', non-greedy, one pass: nested repairs partly resolved
    ("[ what, + what ] benefits", "what benefits"),
    ("[ [ whi-, + whi-, ] + which ]", "whi- which"),
    ("[ I guess, no plus here", "[ i guess no plus here"),
    # 2.2 {F ..} {D ..} {C ..} up to the first '}' (nested braces leave a stray '}')
    ("{F uh, } I wonder {D well, } yes", "i wonder yes"),
    ("{C and {F uh, } then } just something", "then } just something"),
    # 2.3 <<comments>> then <sounds>
    ("<laughter> yes <<long pause>> no </noise>", "yes no"),
    # 2.4 GREEDY ((..)) from the first '((' to the last '))'
    ("disagree ((with you)), with (( ... )) the basic premise", "disagree the basic premise"),
    # 2.5 ']' gone; '+' only between whitespace; '/', '#', '--' gone
    ("to to to + to minimize", "to to to to minimize"),
    ("well then +", "well then +"),
    ("I -- I think #so# /", "i i think so"),
    # 2.6 acronym suffixes joined
    ("T V -s and A -s", "t vs and as"),
    # 2.7 punctuation . , ? ! " ; : -> space, apostrophe kept; 2.8 Treebank + lower + drops
    ('"Yes," she said; ok: fine! Really?', "yes she said ok fine really"),
    ("I don't know, I've seen it's", "i do n't know i 've seen it 's"),
    ("and see if it, {F uh, } -/", "and see if it"),
    ("uh-huh, eighty-six...", "uh-huh eighty-six"),
])
def test_swda_recipe_steps(text, tokens):
    assert corpora.tokenize_swda(text) == tokens.split()


UTT = """\
o          A.1 utt1: Okay.  /
qw          A.1 utt2: {D So, }

qy^d          B.2 utt1: [ [ I guess, +
+          A.3 utt1: What kind of experience [ do you, + do you ] have, then with child care? /
+          B.4 utt1: I think, ] + {F uh, } I wonder ] if that worked. /
sd@          B.4 utt2: Dropped segmentation error. /
sd          A.5 utt1: I have two kids, -/
b          B.6 utt1: Uh-huh. /
+          A.7 utt1: {C and } they're grown. /
+@          A.7 utt2: never seen. /
x          B.8 utt1: <Laughter>.
"""


def test_swda_assembly_drops_at_tags_and_glues_plus_continuations():
    d = corpora.preprocess_swda(UTT.splitlines())
    assert [" ".join(u) for u in d] == [
        "okay what kind of experience do you have then with child care",   # A.3 '+' glued to A.1
        "i think i wonder if that worked",       # B's '+' with no kept B utterance: new one
        "i have two kids they 're grown",        # '+' glued across B's backchannel ...
        "uh-huh",                                # ... which then comes after the merged one
    ]                                            # '@' lines dropped; pure <Laughter> dropped


@pytest.fixture
def swda_root(tmp_path):
    convs = {"sw00utt/sw_0001_1000.utt": conv("Hello there.", "Hi, how are you?", "Fine."),
             "sw00utt/sw_0002_1001.utt": conv("Train two.", "Yes."),
             "sw08utt/sw_0801_2000.utt": conv("Valid first in file.", "Okay."),
             "sw08utt/sw_0802_2001.utt": conv("Valid second in file.", "Sure."),
             "sw08utt/sw_0803_2002.utt": conv("Test one.", "I don't know.")}
    splits = [("sw00utt/sw_0001_1000.utt", "train", ""), ("sw00utt/sw_0002_1001.utt", "train", ""),
              ("sw08utt/sw_0801_2000.utt", "valid", 1), ("sw08utt/sw_0802_2001.utt", "valid", 0),
              ("sw08utt/sw_0803_2002.utt", "test", 0)]
    return swda_archive(tmp_path, convs, splits)


def test_switchboard_reader_on_tiny_archive(swda_root, tmp_path, monkeypatch):
    monkeypatch.setenv("NTLIB_CACHE", str(tmp_path / "cache"))
    c = dataset.load_corpus(DataConfig(), data_dir=swda_root)
    assert [[" ".join(u) for u in d] for d in c.train] == [
        ["hello there", "hi how are you", "fine"], ["train two", "yes"]]
    # valid in the tsv's official order (last column), not file order
    assert [d[0] for d in c.valid] == [["valid", "second", "in", "file"], ["valid", "first", "in", "file"]]
    assert c.test == [[["test", "one"], ["i", "do", "n't", "know"]]]
    cached = list((tmp_path / "cache/corpora").glob("switchboard-*.json"))
    assert len(cached) == 1                                   # full load cached ...
    assert dataset.load_corpus(DataConfig(), data_dir=swda_root) == c   # ... and read back identically
    small = dataset.load_corpus(DataConfig(max_train_dialogues=1, max_eval_dialogues=1), data_dir=swda_root)
    assert (len(small.train), len(small.valid), small.valid[0]) == (1, 1, c.valid[0])
    st = corpus_stats.split_stats(c)
    assert st.loc["train"].to_dict() == {"dialogues": 2, "sentences": 5, "pairs": 3, "words": 10}


# ---------------------------------------------------------------- the real data (skips without it)
def _real_root():
    try:
        return sources.resolve_data([("swda/swb1_dialogact_annot.tar.gz", sources.OFFICIAL_VALID)])[0]
    except dataset.DataError:
        pytest.skip("shared data (swda + official files) not found by the resolver")


@pytest.mark.slow
def test_verify_switchboard_against_authors_files():
    _real_root()
    r = corpus_stats.verify_switchboard()
    assert r["valid"]["utterances"] == 4836 and r["test"]["utterances"] == 4224
    assert r["total"]["utterances_identical"] >= 9057            # README: 9057/9060
    assert r["utterance_pct"] >= 99.9 and r["dialogue_pct"] >= 94.0


@pytest.mark.slow
def test_real_switchboard_subsample_and_official_vocab():
    root = _real_root()
    cfg = DataConfig(max_train_dialogues=3, max_eval_dialogues=2, vocab_file="official")
    c = dataset.load_corpus(cfg, data_dir=root)
    assert c.train[0][0] == "okay what kind of experience do you have then with child care".split()
    v = dataset.build_vocab(c, cfg, data_dir=root)
    assert len(v) == 4 + 1 + 10_000 and v.itos[5:8] == ["i", "and", "the"]
    assert corpus_stats.oov_rate(c.valid, v) < 0.05


# ---------------------------------------------------------------- the other corpora
def test_tokenize_generic():
    assert corpora.tokenize("Say , Jim , I don’t think so ! He's “great” — uh-huh ...") == \
        "say jim i do n't think so he 's great uh-huh".split()


def test_dailydialog_reader(tmp_path):
    lines = {"train": ["Hi , Tom ! __eou__ I can't go . __eou__", "A ? __eou__ B . __eou__ C __eou__"],
             "validation": ["Valid one . __eou__ Two __eou__"], "test": ["Test ! __eou__ Yes __eou__"]}
    for split, ls in lines.items():
        with zipfile.ZipFile(tmp_path / f"{split}.zip", "w") as z:
            z.writestr(f"{split}/dialogues_{split}.txt", "\n".join(ls) + "\n")
    train, valid, test = corpora.read_dailydialog(tmp_path)
    assert train == [[["hi", "tom"], ["i", "ca", "n't", "go"]], [["a"], ["b"], ["c"]]]
    assert (valid, test) == ([[["valid", "one"], ["two"]]], [[["test"], ["yes"]]])


def test_ubuntu_json_split_is_proportional(tmp_path):
    items = [{"dialogue_id": f"{k}/1.tsv", "text": f"Dialogue {k}, turn one?\nturn two!"} for k in range(10)]
    (tmp_path / "d.json").write_text(json.dumps(items))
    train, valid, test = corpora.read_ubuntu_json(tmp_path / "d.json")
    assert (len(train), len(valid), len(test)) == (8, 1, 1)          # 200k:5k:5k, ≥ 1 per eval split
    assert train[0] == [["dialogue", "0", "turn", "one"], ["turn", "two"]]
    assert valid[0][0][1] == "8" and test[0][0][1] == "9"             # first / next / next
    assert corpora.paper_split(2002, (200_000, 5_000, 5_000), "x") == (slice(0, 1906), slice(1906, 1954),
                                                                  slice(1954, 2002))
    assert corpora.paper_split(300_000, (200_000, 5_000, 5_000), "x")[2] == slice(205_000, 210_000)


def test_ubuntu_dialogs_tgz_merges_a_senders_consecutive_messages(tmp_path):
    path = tmp_path / "ubuntu_dialogs.tgz"
    with tarfile.open(path, "w:gz") as tar:
        for k in range(5):
            raw = (f"2004-07-05\talice\t\tanyone got an ATI card working {k}?\n"
                   "2004-07-05\talice\t\twith compiz\n2004-07-05\tbob\talice\ti have an hd 3850\n").encode()
            info = tarfile.TarInfo(f"dialogs/3/{k}.tsv")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    train, valid, test = corpora.read_ubuntu_dialogs(path)
    assert (len(train), len(valid), len(test)) == (3, 1, 1)
    assert train[0] == ["anyone got an ati card working 0 with compiz".split(), "i have an hd 3850".split()]


OPUS = ('<?xml version="1.0" encoding="utf-8"?>\n<document id="{k}">\n'
        '<s id="1"><time id="T1S" value="00:00:01,000"/><w id="1.1">You</w><w id="1.2">ca</w>'
        '<w id="1.3">n\'t</w><w id="1.4">do</w><w id="1.5">that</w><w id="1.6">.</w></s>\n'
        '<s id="2"><w id="2.1">Movie</w><w id="2.2">{k}</w><w id="2.3">!</w></s>\n</document>\n')


def test_opensubtitles_reader_folder_and_zip(tmp_path):
    folder = tmp_path / "raw/en/1999/42"
    folder.mkdir(parents=True)
    for k in range(4):
        (folder / f"{k}.xml").write_text(OPUS.format(k=k))
    (folder / "4.xml.gz").write_bytes(gzip.compress(OPUS.format(k=4).encode()))
    train, valid, test = corpora.read_opensubtitles(tmp_path / "raw")
    assert (len(train), len(valid), len(test)) == (3, 1, 1)     # each movie one dialogue
    movies = sorted(d[1][1] for d in train + valid + test)
    assert movies == ["0", "1", "2", "3", "4"] and train[0][0] == "you ca n't do that".split()
    with zipfile.ZipFile(tmp_path / "en.zip", "w") as z:
        for p in sorted(folder.iterdir()):
            z.write(p, f"OpenSubtitles/raw/en/1999/42/{p.name}")
    assert corpora.read_opensubtitles(tmp_path / "en.zip") == (train, valid, test)   # same seeded order


# ---------------------------------------------------------------- vocabulary, OOV, pairs
def test_vocab_oov_and_encoding(tmp_path):
    c = dataset.Corpus("toy", train=[[["a", "b", "a"], ["a", "c"]], [["b", "d"]]], valid=[[["a", "z"]]], test=[])
    v = dataset.build_vocab(c, DataConfig(vocab_size=2))
    assert v.itos[5:] == ["a", "b"]                               # a:3, b:2 (c, d tie → cut)
    assert corpus_stats.oov_rate(c.train, v) == pytest.approx(2 / 7) and corpus_stats.oov_rate(c.valid, v) == 0.5
    pairs = dataset.make_pairs(c.valid[0] + [["z", "a"]])
    t = dataset.encode_pairs(pairs, v, max_src_len=4, max_tgt_len=3)
    assert t.src.tolist() == [[PAD, v.stoi["a"], UNK, v.stoi["<eou>"]]]
    assert t.tgt.tolist() == [[UNK, v.stoi["a"], EOS, PAD]]
    (tmp_path / "vocab.txt").write_text("<eou>\nz\ny\n")
    assert dataset.build_vocab(c, DataConfig(vocab_file=str(tmp_path / "vocab.txt"))).itos[5:] == ["z", "y"]
    with pytest.raises(dataset.DataError, match="DataConfig.vocab_file"):
        dataset.build_vocab(c, DataConfig(vocab_file=str(tmp_path / "nope.txt")))


def test_make_pairs_truncation():
    d = [["a", "b", "c"], ["d", "e"], ["f"], ["g", "h", "i", "j"]]
    assert dataset.make_pairs(d)[0] == (["a", "b", "c", "<eou>"], ["d", "e"])       # authors: HIS=1
    src, tgt = dataset.make_pairs(d, context_utterances=2, max_src_len=5, max_tgt_len=3)[2]
    assert src == ["d", "e", "<eou>", "f", "<eou>"] and tgt == ["g", "h", "i"]   # response cropped
    src, _ = dataset.make_pairs(d, context_utterances=3, max_src_len=4)[2]
    assert src == ["e", "<eou>", "f", "<eou>"]                 # a b c <eou> d ... left-truncated


# ---------------------------------------------------------------- bad input names file and line
def test_bad_swda_line_names_file_and_line(tmp_path):
    bad = conv("Fine.") + "this line is not an utterance\n"
    root = swda_archive(tmp_path, {"sw00utt/sw_0001_1000.utt": bad},
                         [("sw00utt/sw_0001_1000.utt", "train", ""), ("sw00utt/sw_0001_1000.utt", "valid", 0),
                          ("sw00utt/sw_0001_1000.utt", "test", 0)])
    line = (HEADER + bad).splitlines().index("this line is not an utterance") + 1
    with pytest.raises(dataset.DataError, match=rf"sw_0001_1000\.utt:{line}: not a SwDA utterance line"):
        dataset.load_corpus(DataConfig(), data_dir=root, use_cache=False)


def test_wrong_encoding_names_file_and_line(tmp_path):
    raw = (HEADER + conv("Fine.", "Okay.")).encode() + b"sd  A.3 utt1: caf\xe9 /\n"
    root = swda_archive(tmp_path, {"sw00utt/sw_0001_1000.utt": raw},
                         [("sw00utt/sw_0001_1000.utt", s, 0) for s in ("train", "valid", "test")])
    line = raw.count(b"\n")
    with pytest.raises(dataset.DataError, match=rf"sw_0001_1000\.utt:{line}: not UTF-8"):
        corpora.read_switchboard(root / "swda/swb1_dialogact_annot.tar.gz", root / "swda/split_official.tsv")


def test_bad_split_files(swda_root):
    tsv = swda_root / "swda/split_official.tsv"
    tar = swda_root / "swda/swb1_dialogact_annot.tar.gz"
    text = tsv.read_text().splitlines()
    tsv.write_text("\n".join(text[:2] + ["4325\tsw00utt/x.utt\tdevel\t"] + text[2:]) + "\n")
    with pytest.raises(dataset.DataError, match=r"split_official\.tsv:3: expected"):
        corpora.read_switchboard(tar, tsv)
    tsv.write_text("\n".join(t for t in text if "\ttest\t" not in t) + "\n")
    with pytest.raises(dataset.DataError, match=r"split_official\.tsv:\d+: split 'test' has no conversation"):
        corpora.read_switchboard(tar, tsv)
    tsv.write_text("")
    with pytest.raises(dataset.DataError, match=r"split_official\.tsv:1: empty split file"):
        corpora.read_switchboard(tar, tsv)


def test_bad_dailydialog_ubuntu_opus(tmp_path):
    for split, body in (("train", "Hi __eou__\nno marker here\n"), ("validation", ""), ("test", "a __eou__\n")):
        with zipfile.ZipFile(tmp_path / f"{split}.zip", "w") as z:
            z.writestr(f"{split}/dialogues_{split}.txt", body)
    with pytest.raises(dataset.DataError, match=r"train\.zip!train/dialogues_train\.txt:2: no '__eou__'"):
        corpora.read_dailydialog(tmp_path)
    with pytest.raises(dataset.DataError, match=r"validation\.zip!validation/dialogues_validation\.txt:1: empty"):
        corpora.read_dailydialog(tmp_path, limits=(1, None))
    (tmp_path / "u.json").write_text('[\n {"text": "a"},\n {"text": oops}\n]')
    with pytest.raises(dataset.DataError, match=r"u\.json:3: not valid JSON"):
        corpora.read_ubuntu_json(tmp_path / "u.json")
    (tmp_path / "e.json").write_text("[]")
    with pytest.raises(dataset.DataError, match=r"e\.json:1: expected a non-empty"):
        corpora.read_ubuntu_json(tmp_path / "e.json")
    with tarfile.open(tmp_path / "u.tgz", "w:gz") as tar:
        raw = b"t\ta\t\thello\nonly two\tcolumns\n"
        info = tarfile.TarInfo("dialogs/1/1.tsv")
        info.size = len(raw)
        tar.addfile(info, io.BytesIO(raw))
    with pytest.raises(dataset.DataError, match=r"u\.tgz!dialogs/1/1\.tsv:2: expected 4 tab-separated"):
        corpora.read_ubuntu_dialogs(tmp_path / "u.tgz")
    (tmp_path / "os").mkdir()
    for k in range(3):
        (tmp_path / "os" / f"{k}.xml").write_text(OPUS.format(k=k) if k else "<document>\n<s><w>a</w>\n</doc>")
    with pytest.raises(dataset.DataError, match=r"0\.xml:3: malformed XML"):
        corpora.read_opensubtitles(tmp_path / "os")


# ---------------------------------------------------------------- locations, downloads, checksums
def test_missing_data_message_lists_every_place(tmp_path, monkeypatch):
    for folder in ("env", "explicit"):          # existing folders without the data (a missing or an
        (tmp_path / folder).mkdir()             # empty one is an error of its own: test_data_checks.py)
        (tmp_path / folder / "README").write_text("other data\n")
    monkeypatch.setenv("NTLIB_DATA", str(tmp_path / "env"))
    monkeypatch.setenv("NTLIB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(sources, "REPO_SHARED_DATA", tmp_path / "shared")
    with pytest.raises(dataset.DataError) as e:
        dataset.load_corpus(get_profile("smoke", "switchboard").data, data_dir=tmp_path / "explicit")
    msg = str(e.value)
    for where in ("explicit", "env", "shared", "cache/data", "NTLIB_DATA", "download=True",
                  "swb1_dialogact_annot.tar.gz", "https://web.stanford.edu", "split_official.tsv: no public URL"):
        assert where in msg, where


def test_sha256_verification_and_download(tmp_path, monkeypatch):
    src = tmp_path / "src.json"
    src.write_text(json.dumps([{"text": f"hello {k}\nworld"} for k in range(4)]))
    good = sources.sha256_file(src)
    with pytest.raises(dataset.DataError, match=r"dest\.json: sha256 .* does not match the expected 0000"):
        sources.verify_sha256(src.rename(tmp_path / "dest.json"), "0" * 64)
    src = tmp_path / "dest.json"
    with pytest.raises(dataset.DataError, match="does not match"):
        sources.fetch(src.as_uri(), tmp_path / "dl/out.json", "f" * 64)
    assert not (tmp_path / "dl/out.json").exists() and not list((tmp_path / "dl").iterdir())
    assert sources.verify_sha256(sources.fetch(src.as_uri(), tmp_path / "dl/out.json", good), good) == good
    # the resolver's download step, on a local URL
    monkeypatch.setenv("NTLIB_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("NTLIB_DATA", raising=False)
    monkeypatch.setattr(sources, "REPO_SHARED_DATA", tmp_path / "none")
    monkeypatch.setitem(sources.DOWNLOADS, "ubuntu_sample/dialogues_small.json", (src.as_uri(), good))
    monkeypatch.setitem(sources.SOURCES, "ubuntu", sources.SOURCES["ubuntu"][1:])
    c = dataset.load_corpus(DataConfig(corpus="ubuntu"), download=True)
    assert (tmp_path / "cache/data/ubuntu_sample/dialogues_small.json").is_file()
    assert c.train[0] == [["hello", "0"], ["world"]]
    # SHA256SUMS beside the data is checked: a changed file is refused, naming it
    root = tmp_path / "cache/data"
    (root / "SHA256SUMS").write_text(f"{'1' * 64}  ubuntu_sample/dialogues_small.json\n")
    with pytest.raises(dataset.DataError, match=r"dialogues_small\.json: sha256 .*SHA256SUMS"):
        dataset.load_corpus(DataConfig(corpus="ubuntu"))


def test_data_dir_is_resolved_from_the_package_not_the_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert sources.REPO_SHARED_DATA == sources.Path(dataset.__file__).resolve().parents[3] / "shared" / "data"
    assert [label for label, _ in sources.data_locations()][0] == "data_dir argument"


def test_non_utf8_vocabulary_names_file_and_line(tmp_path):
    p = tmp_path / "vocab.txt"
    p.write_bytes(b"i\nyou\n\xff\xfe\n")
    with pytest.raises(dataset.DataError, match=r"vocab\.txt:3: not UTF-8"):
        dataset.Vocab.from_file(p)
    with pytest.warns(UserWarning, match="not verified"), pytest.raises(dataset.DataError, match=r"vocab\.txt:3"):
        dataset.build_vocab(dataset.Corpus("toy", [], [], []), DataConfig(vocab_file=str(p)))
