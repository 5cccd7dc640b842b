"""notebooks/03_malicious.ipynb runs top to bottom on the smoke profile and writes its reports."""
import json
import math

import pytest


@pytest.mark.slow
def test_notebook_03_smoke(run_notebook):
    reports = run_notebook("03_malicious")
    res = json.loads((reports / "results" / "malicious_switchboard.json").read_text())
    assert res["profile"] == "smoke" and res["thresholds"]["t_out"] < 0 and res["thresholds"]["t_in"] < 0
    assert res["targets"]["train"]["lines"] == 500 and res["targets"]["train_2.5k"]["lines"] == 2500
    rates = [r for lst in ("train", "test") for r in res["baseline"][lst].values()]
    rates += [r for run in res["neg_train"].values() for m in ("train", "test") for r in run[m].values()]
    for r in rates:
        assert r["n"] == 8 and 0 <= r["lo"] <= r["rate"] <= r["hi"] <= 1
    lists = ("+neg-tr(0.5k)", "+neg-tr(1k)", "+neg-tr(2.5k)")
    assert set(res["neg_train"]) == {f"{lst} {ht}" for lst in lists for ht in ("o_sample_avg", "io_sample_avg")}
    assert all(math.isfinite(run["ppl"]) for run in res["neg_train"].values())
    # one schema: every run (baseline or neg-train) keys its hit records by hit type
    assert all(set(run[m]) == {key.split(" ")[1]}
               for key, run in res["neg_train"].items() for m in ("train", "test"))
    assert all(0 <= v <= 1 for v in res["nbest_overlap"].values())
    # per-target hit vectors (McNemar pairs them), the ablation row and tested verdicts
    for r in rates:
        assert len(r["hits"]) == r["n"] and sum(r["hits"]) == r["k"]
    assert set(res["ablation"]) == {"+neg-tr(0.5k) o_sample_avg"}
    assert res["verdicts"] and all(v["outcome"] in ("holds", "does not hold", "inconclusive")
                                   and ("McNemar" in v["evidence"] or "binomial" in v["evidence"]
                                        or "PPL" in v["evidence"]) for v in res["verdicts"])
    assert (reports / "table3_switchboard.md").exists() and (reports / "table3_switchboard.csv").exists()
    for fig in ("malicious_iterations_switchboard", "malicious_word_nll_switchboard"):
        assert (reports / "figures" / f"{fig}.png").stat().st_size > 1000
