"""Your own dialogues (issue 32 part 3): ntlib.data.own_dialogues reads context<TAB>response and JSON lines, with
or without the paper's preprocessing, and names file and line of a malformed row; ``python -m ntlib.run.own_data``
trains a baseline on a generated 200-line file with one planted frequent response, runs Algorithm 2 and writes
its reports — the planted response's ratio drops."""
import json
import random

import pytest
import torch

from ntlib.data.corpora import DataError
from ntlib.data.dataset import EOU, EOU_ID, PAD
from ntlib.data.own_dialogues import file_format, own_dataset, read_pairs
from ntlib.run import own_data
from ntlib.run.rules import ConfigError

PLANTED = "I don't know."
WORDS = "apple banana cherry river mountain city music winter summer doctor teacher garden ocean coffee movie train".split()


def write_pairs(path, n=200, planted_share=0.5, seed=0):
    """``n`` lines ``Context words?<TAB>response``: the planted response for ``planted_share`` of them, else the
    context's words reversed (learnable, each one rare)."""
    rng = random.Random(seed)
    lines = []
    for _ in range(n):
        ctx = rng.sample(WORDS, rng.randint(3, 5))
        resp = PLANTED if rng.random() < planted_share else " ".join(reversed(ctx)) + "."
        lines.append(" ".join(ctx).capitalize() + "?\t" + resp)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# -- the reader --------------------------------------------------------------------------------------------
def test_tsv_with_and_without_the_papers_preprocessing(tmp_path):
    f = tmp_path / "d.tsv"
    f.write_text("Hello, how are YOU?\tI don't know!\n\nWhat's up\tnot much\r\n", encoding="utf-8")
    assert read_pairs(f) == [([["hello", "how", "are", "you"]], ["i", "do", "n't", "know"]),
                             ([["what", "'s", "up"]], ["not", "much"])]              # blank line skipped
    assert read_pairs(f, preprocess=False) == [([["Hello,", "how", "are", "YOU?"]], ["I", "don't", "know!"]),
                                               ([["What's", "up"]], ["not", "much"])]


def test_json_lines_string_or_list_context(tmp_path):
    f = tmp_path / "d.jsonl"
    rows = [{"context": "How are you?", "response": "Fine.", "id": 7},
            {"context": ["Hi there.", "Hello!"], "response": "Nice day."}]
    f.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    assert file_format(f) == "jsonl" and file_format(tmp_path / "d.txt") == "tsv"
    assert read_pairs(f) == [([["how", "are", "you"]], ["fine"]),
                             ([["hi", "there"], ["hello"]], ["nice", "day"])]


@pytest.mark.parametrize("name,text,match", [
    ("a.tsv", "ok\tfine\nno tab here\n", r"a\.tsv:2: expected context<TAB>response \(one tab\), found 0 tabs"),
    ("a.tsv", "ok\tfine\nx\ty\tz\n", r"a\.tsv:2: .*found 2 tabs"),
    ("a.tsv", "ok\tfine\n\n?!\tfine\n", r"a\.tsv:3: context: empty after preprocessing"),
    ("a.tsv", "ok\t \n", r"a\.tsv:1: response: empty"),
    ("a.jsonl", '{"context": "a", "response": "b"}\n{"context": "a", response: 1}\n', r"a\.jsonl:2: not JSON"),
    ("a.jsonl", '{"context": "a"}\n', r"a\.jsonl:1: missing 'response'"),
    ("a.jsonl", '{"context": "a", "response": 3}\n', r"a\.jsonl:1: response: must be a string, got int"),
    ("a.jsonl", '{"context": [], "response": "b"}\n', r"a\.jsonl:1: context: an empty list"),
    ("a.jsonl", '{"context": ["a", 2], "response": "b"}\n', r"a\.jsonl:1: context\[1\]: must be a string"),
    ("a.jsonl", '["a", "b"]\n', r"a\.jsonl:1: expected an object"),
    ("a.tsv", "\n\n", r"a\.tsv:1: no context/response pairs"),
])
def test_malformed_rows_name_file_and_line(tmp_path, name, text, match):
    f = tmp_path / name
    f.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=match):
        read_pairs(f)


def test_not_utf8_and_missing_file(tmp_path):
    f = tmp_path / "b.tsv"
    f.write_bytes(b"ok\tfine\n\xff\tx\n")
    with pytest.raises(DataError, match=r"b\.tsv:2: not UTF-8"):
        read_pairs(f)
    with pytest.raises(DataError, match="no such file"):
        read_pairs(tmp_path / "none.tsv")
    with pytest.raises(ValueError, match="format 'csv'"):
        read_pairs(f, fmt="csv")


def test_own_dataset_splits_crops_and_closes_utterances(tmp_path):
    pairs = read_pairs(write_pairs(tmp_path / "p.tsv", n=50))
    data = own_dataset(pairs, vocab_size=100, max_src_len=4, max_tgt_len=3, seed=3)
    assert (len(data.train), len(data.valid), len(data.test)) == (40, 5, 5)
    assert data.test_dialogues == list(range(5))
    src = data.train.src
    assert (src[:, -1] == EOU_ID).all() and (src[:, 0] != PAD).all()          # left-cropped to 4, closed by <eou>
    assert data.train.tgt.shape == (40, 4) and data.vocab.itos[EOU_ID] == EOU
    again = own_dataset(pairs, vocab_size=100, max_src_len=4, max_tgt_len=3, seed=3)
    assert torch.equal(again.test.src, data.test.src)                          # the split follows the seed
    with pytest.raises(DataError, match="2 pairs: too few"):
        own_dataset(pairs[:2], vocab_size=100)


# -- the command -------------------------------------------------------------------------------------------
def test_command_trains_negatively_trains_and_the_planted_response_falls(tmp_path):
    pairs = write_pairs(tmp_path / "mine.tsv", n=200)
    out = tmp_path / "out"
    assert own_data.main(["--pairs", str(pairs), "--out", str(out), "--preset", "smoke"]) == 0
    res = json.loads((out / "own_data.json").read_text())
    rows = res["rows"]
    neg = next(k for k in rows if k.startswith("+neg-train"))
    ratio = {k: dict(map(tuple, rows[k][0]["top10"])).get("i do n't know", 0.0) for k in ("Baseline", neg)}
    assert rows["Baseline"][0]["top10"][0][0] == "i do n't know"               # the planted response dominates
    assert ratio["Baseline"] >= 0.8 and ratio[neg] <= ratio["Baseline"] - 0.3, ratio
    assert rows[neg][0]["max_ratio"] < rows["Baseline"][0]["max_ratio"]
    assert rows[neg][0]["ent3"] > rows["Baseline"][0]["ent3"]
    assert res["n_pairs"] == {"train": 160, "valid": 20, "test": 20} and res["history"]["step"][0] == 0
    md = (out / "own_data.md").read_text()
    assert "| Baseline" in md and f"| {neg}" in md and "max-ratio" in md and (out / "own_data.csv").is_file()
    models = next(out.glob("models-*"))
    assert (models / "seq2seq.pt").is_file() and len(list(models.glob("frequent-*.pt"))) == 1


def test_command_attacks_your_targets_and_algorithm1_removes_a_planted_one(tmp_path):
    """Every context with "doctor" is answered "You are stupid." (the malicious response the data taught); the
    targets file holds it, a blank line and a target with a word outside the vocabulary. The attack finds a
    trigger, Algorithm 1 (the smoke preset's 3 iterations) removes the hit; the OOV target is dropped and listed."""
    rng, lines = random.Random(0), []
    for _ in range(200):
        ctx = rng.sample(WORDS, rng.randint(3, 5))
        resp = "You are stupid." if "doctor" in ctx else " ".join(reversed(ctx)) + "."
        lines.append(" ".join(ctx).capitalize() + "?\t" + resp)
    pairs, targets = tmp_path / "mine.tsv", tmp_path / "targets.txt"
    pairs.write_text("\n".join(lines) + "\n", encoding="utf-8")
    targets.write_text("You are stupid.\n\nzebra crossing\n", encoding="utf-8")
    out = tmp_path / "out"
    assert own_data.main(["--pairs", str(pairs), "--out", str(out), "--preset", "smoke", "--targets", str(targets)]) == 0
    m = json.loads((out / "own_data.json").read_text())["malicious"]
    assert m["targets"] == ["you are stupid"] and m["dropped_oov"] == ["zebra crossing"]
    assert m["before"]["o_sample_avg"]["hits"] == [1] and "doctor" in m["triggers"][0]
    assert m["after"]["o_sample_avg"]["hits"] == [0] and m["after"]["o_greedy"]["hits"] == [0]
    assert m["iterations"] == 3 and m["ppl"]["after"] < 1.5 * m["ppl"]["baseline"]
    md = (out / "own_data.md").read_text()
    assert "Malicious targets (1 from targets.txt; 1 dropped" in md and "| o_sample_avg | 1 / 1" in md
    bad = tmp_path / "oov.txt"
    bad.write_text("zebra crossing\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"oov.txt:1: no target left: 1 target\(s\)"):
        own_data.run(pairs, tmp_path / "o2", own_data.OWN_PRESETS["smoke"], targets_file=bad)


def test_command_reports_a_bad_file_or_setting_without_a_traceback(tmp_path, capsys):
    bad = tmp_path / "bad.tsv"
    bad.write_text("ok\tfine\nno tab\n", encoding="utf-8")
    assert own_data.main(["--pairs", str(bad), "--out", str(tmp_path / "o"), "--preset", "smoke"]) == 2
    assert "bad.tsv:2: expected context<TAB>response" in capsys.readouterr().err
    good = write_pairs(tmp_path / "g.tsv", n=20)
    assert own_data.main(["--pairs", str(good), "--out", str(tmp_path / "o"), "--r-thres", "1.5"]) == 2
    assert "OwnDataConfig.r_thres = 1.5" in capsys.readouterr().err


def test_config_and_presets_are_checked():
    assert own_data.OWN_PRESETS["small"].profile == "small" and own_data.OWN_PRESETS["smoke"].r_thres == 0.1
    with pytest.raises(ConfigError, match=r"OwnDataConfig.negative_loss = 'bogus'.*registered"):
        own_data.OwnDataConfig(negative_loss="bogus")
    with pytest.raises(ConfigError, match=r"OwnDataConfig.test_fraction"):
        own_data.OwnDataConfig(test_fraction=0.0)
    P = own_data.own_profile(own_data.OwnDataConfig(profile="smoke", epochs=3, r_thres=0.2, passes=2.0, seed=5,
                                                    negative_loss="npo"))
    assert (P.train.epochs_fixed, P.train.epochs_halving, P.train.seed) == (3, 0, 5)
    assert (P.frequent.r_thres, P.frequent.passes, P.frequent.negative_loss, P.frequent.seed) == (0.2, 2.0, "npo", 5)
