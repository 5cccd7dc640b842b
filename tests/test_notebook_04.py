"""notebooks/04_frequent.ipynb executed by papermill on the smoke profile; checks what it wrote."""
from pathlib import Path

import pytest

from ntlib.methods import evaluate
from ntlib.results import metrics
from ntlib.run import pipeline
from ntlib.run.profiles import get_profile
from ntlib.methods.decode import respond
from ntlib.results.reports import read_json


@pytest.mark.slow
def test_notebook_04_smoke(run_notebook):
    reports = run_notebook("04_frequent", eos_comparison=True)
    runs = reports.parent / "runs"
    r = read_json(reports / "results/frequent_switchboard.json")
    assert r["profile"] == "smoke" and r["corpus"] == "switchboard"
    assert set(r["rows"]) == {"Test-set", "Baseline", "+neg-train (10%)", "+neg-train (1%)"}
    assert r["seeds"] == [1, 2]                                   # smoke: FrequentConfig.seeds = 2
    for k, thres in (("+neg-train (10%)", 0.1), ("+neg-train (1%)", 0.01)):
        assert [x["r_thres"] for x in r["rows"][k]] == [thres, thres]
        assert [x["seed"] for x in r["rows"][k]] == [1, 2]
    # every row on the one evaluation set: same inputs, same run
    recs = [x for v in r["rows"].values() for x in v]
    assert {(x["profile"], x["n_inputs"], x["inputs_sha"]) for x in recs} == {("smoke", 64, recs[0]["inputs_sha"])}

    # the Baseline row is the cached baseline, measured again here
    P = get_profile("smoke", "switchboard")
    b = pipeline.baselines(P, run_root=runs, progress=False)
    n = P.decode.max_eval_inputs
    resp = respond(b.seq2seq, b.data.test.src[:n], b.data.vocab, max_len=P.decode.max_len)
    base = r["rows"]["Baseline"][0]
    assert base["responses"] == resp
    assert base["max_ratio"] == pytest.approx(metrics.max_ratio(resp))
    assert base["ent3"] == pytest.approx(metrics.ent_n(resp, 3))
    assert base["ppl"] == pytest.approx(evaluate.perplexity(b.seq2seq, b.data.test)["ppl"])
    assert base["top10"][0][1] == pytest.approx(base["max_ratio"])

    # negative training ran (the window filled and updates were taken) and moved the model, per seed
    for name in ("+neg-train (10%)", "+neg-train (1%)"):
        for s in (1, 2):
            h = r["histories"][f"{name} seed={s}"]
            assert h["step"][0] == 0 and h["step"][-1] == 7           # ceil(0.1 * 4165 / 64) batches
            assert any(x is not None for x in h["loss"])
        assert all(x["ppl"] != pytest.approx(base["ppl"]) for x in r["rows"][name])
        assert r["rows"][name][0]["ppl"] != r["rows"][name][1]["ppl"]    # the seeds differ
    assert len(list(Path(r["run_dir"]).glob("frequent-*.pt"))) == 6   # 2 thresholds × 2 seeds + eos 0 and 1
    assert set(r["eos_comparison"]) == {"eos_scale=0", "eos_scale=0.1", "eos_scale=1"}
    assert r["eos_comparison"]["eos_scale=0.1"]["PPL"] == pytest.approx(r["rows"]["+neg-train (1%)"][0]["ppl"])

    assert len(r["samples"]) == 10 and set(r["samples"][0]) == {"input", "Baseline", "Neg-train"}
    for name in ("table4_frequent", "table9_bleu", "table5_samples", "frequent_eos_scale"):
        assert (reports / f"{name}_switchboard.md").is_file() and (reports / f"{name}_switchboard.csv").is_file()
    for fig in ("top10", "training", "lengths"):
        assert (reports / f"figures/frequent_{fig}_switchboard.png").is_file()
    assert "42.81" in (reports / "table4_frequent_switchboard.md").read_text()   # paper beside ours
