"""notebooks/02_baselines.ipynb executed by papermill on the smoke profile; checks what it wrote."""
import math
from pathlib import Path

import pytest

from ntlib.results import metrics
from ntlib.results.reports import read_json


@pytest.mark.slow
def test_notebook_02_smoke(run_notebook):
    reports = run_notebook("02_baselines")
    runs = reports.parent / "runs"
    r = read_json(reports / "results/baselines_switchboard.json")
    assert r["profile"] == "smoke" and r["corpus"] == "switchboard"
    for kind in ("lm", "seq2seq"):
        assert r[kind]["ppl"] == pytest.approx(math.exp(r[kind]["nll"]), rel=1e-6)
        assert 1 < r[kind]["ppl"] < 505                       # better than uniform over V = 505
        assert len(r["history"][kind]["valid_ppl"]) == 2      # smoke: 1 fixed + 1 halving epoch
        assert r["history"][kind]["lr"] == [1.0, 0.5]
    assert r["T_out"] == pytest.approx(-r["seq2seq"]["nll"]) and r["T_in"] == pytest.approx(-r["lm"]["nll"])
    assert r["n_eval_inputs"] == 64                           # DecodeConfig.max_eval_inputs (smoke)
    rows = {k: v[0] for k, v in r["rows"].items()}
    assert set(rows) == {"Test-set", "Baseline"}
    for name, row in rows.items():                           # one evaluation set, with its provenance
        assert (row["profile"], row["corpus"], row["seed"], row["n_inputs"]) == ("smoke", "switchboard", 1, 64)
        assert len(row["responses"]) == 64 and row["inputs_sha"] == rows["Test-set"]["inputs_sha"]
        assert 0 < row["max_ratio"] <= 1 and row["ent2"] >= 0 and row["ent3"] >= 0
        assert 0 <= row["rep4_share"] <= 1 and 0 <= row["distinct1"] <= 1
    assert rows["Test-set"]["ent3"] > rows["Baseline"]["ent3"]      # references are more diverse (§4.3)
    base = rows["Baseline"]
    assert set(base["bleu4_variants"]) == set(metrics.BLEU_VARIANTS)
    assert base["bleu4"] == base["bleu4_variants"][metrics.BLEU_CHOSEN] == pytest.approx(
        sum(base["bleu4_sentences"]) / 64, abs=1e-5)
    assert all(0 <= v <= 1 for v in base["bleu4_variants"].values())
    assert base["top10"][0][1] == pytest.approx(base["max_ratio"])
    bs = r["ppl_bootstrap"]                                  # Table 8's test: seq2seq − LM per-word NLL
    assert bs["diff"] == pytest.approx(r["seq2seq"]["nll"] - r["lm"]["nll"], abs=1e-4)   # float32 batches and bs["lo"] <= bs["hi"]
    assert r["paper"]["table8"]["seq2seq"]["ppl"] == 42.81
    assert len(r["samples"]) == 8 and set(r["samples"][0]) == {"input", "reference", "baseline (greedy)"}
    for name in ("table8", "table4", "table9"):
        assert (reports / f"baselines_{name}_switchboard.md").is_file()
        assert (reports / f"baselines_{name}_switchboard.csv").is_file()
    for fig in ("curves", "frequent"):
        assert (reports / f"figures/baselines_{fig}_switchboard.png").is_file()
    run_dir = Path(r["run_dir"])
    assert (run_dir / "lm.pt").is_file() and (run_dir / "seq2seq.pt").is_file()
    assert not list(run_dir.glob("*.resume.pt"))               # finished runs leave no resume file
