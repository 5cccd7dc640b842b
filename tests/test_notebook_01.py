"""notebooks/01_data.ipynb executed by papermill on the smoke profile; checks what it wrote."""
from pathlib import Path

import pytest

from ntlib import data as D
from ntlib.reports import read_json

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


@pytest.mark.slow
def test_notebook_01_smoke(tmp_path):
    pm = pytest.importorskip("papermill")
    try:
        D.resolve_data([("swda/swb1_dialogact_annot.tar.gz", "swda/split_official.tsv", D.OFFICIAL_VALID)])
    except D.DataError:
        pytest.skip("shared data not found by the resolver")
    reports = tmp_path / "reports"
    pm.execute_notebook(str(NOTEBOOKS / "01_data.ipynb"), str(tmp_path / "01.ipynb"),
                        parameters=dict(profile="smoke", corpus="switchboard", run_root=str(tmp_path / "runs"),
                                        reports_dir=str(reports)),
                        cwd=str(NOTEBOOKS), progress_bar=False, kernel_name="python3")
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
