"""notebooks/01_data.ipynb executed by papermill on the smoke profile; checks what it wrote."""

import pytest

from ntlib.results.reports import read_json


@pytest.mark.slow
def test_notebook_01_smoke(run_notebook):
    reports = run_notebook("01_data")
    r = read_json(reports / "results/data_switchboard.json")
    assert {"profile", "corpus", "splits", "paper", "oov", "lengths", "sample", "verify_switchboard",
            "vocab_size", "load_seconds"} <= set(r)
    assert r["profile"] == "smoke" and r["vocab_size"] == 500
    assert {s: r["splits"][s]["dialogues"] for s in ("train", "valid", "test")} == \
        {"train": 40, "valid": 4, "test": 4}                       # smoke subsample of the profile
    for s in r["splits"].values():
        assert s["pairs"] == s["sentences"] - s["dialogues"] and s["words"] > s["sentences"]
    assert r["paper"]["train_dialogues"] == 1100
    assert r["verify_switchboard"]["total"]["utterances"] == 9060
    assert r["verify_switchboard"]["utterance_pct"] >= 99.9
    for name, rates in r["oov"].items():
        assert all(0 <= x < 0.3 for x in rates.values()), name
    assert r["oov"]["authors' vocab_h10k"]["test"] < 0.05
    assert 3 < r["lengths"]["source_mean"] < 20 and 0 < r["lengths"]["response_cropped"] < 0.5
    assert r["sample"][0].startswith("A: ") and r["sample"][1].startswith("B: ")
    assert (reports / "data_stats.md").read_text().count("train_dialogues") == 1
    assert (reports / "data_stats.csv").is_file() and (reports / "figures/data_lengths_switchboard.png").is_file()
