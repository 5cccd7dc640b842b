"""notebooks/04_frequent.ipynb executed by papermill on the smoke profile; checks what it wrote."""
from pathlib import Path

import pytest

from ntlib import evaluate, metrics, pipeline
from ntlib.config import get_profile
from ntlib.decode import respond
from ntlib.reports import read_json


@pytest.mark.slow
def test_notebook_04_smoke(run_notebook):
    reports = run_notebook("04_frequent", eos_comparison=True)
    runs = reports.parent / "runs"
    r = read_json(reports / "results/frequent_switchboard.json")
    assert r["profile"] == "smoke" and r["corpus"] == "switchboard"
    assert set(r["rows"]) == {"Test-set", "Baseline", "+neg-train (10%)", "+neg-train (1%)"}
    assert [r["rows"][k]["r_thres"] for k in ("+neg-train (10%)", "+neg-train (1%)")] == [0.1, 0.01]

    # the Baseline row is the cached baseline, measured again here
    P = get_profile("smoke", "switchboard")
    b = pipeline.baselines(P, run_root=runs, progress=False)
    n = P.decode.max_eval_inputs
    resp = respond(b.seq2seq, b.data.test.src[:n], b.data.vocab, max_len=P.decode.max_len)
    base = r["rows"]["Baseline"]
    assert base["max_ratio"] == pytest.approx(metrics.max_ratio(resp))
    assert base["ent3"] == pytest.approx(metrics.ent_n(resp, 3))
    assert base["ppl"] == pytest.approx(evaluate.perplexity(b.seq2seq, b.data.test)["ppl"])
    assert r["top10"]["Baseline"][0][1] == pytest.approx(base["max_ratio"])

    # negative training ran (the window filled and updates were taken) and moved the model
    for name in ("+neg-train (10%)", "+neg-train (1%)"):
        h = r["histories"][name]
        assert h["step"][0] == 0 and h["step"][-1] == 7           # ceil(0.1 * 4165 / 64) batches
        assert any(x is not None for x in h["loss"])
        assert r["rows"][name]["ppl"] != pytest.approx(base["ppl"])
    assert len(list(Path(r["run_dir"]).glob("frequent-*.pt"))) == 4   # 2 thresholds + eos 0 and 1
    assert set(r["eos_comparison"]) == {"eos_scale=0", "eos_scale=0.1", "eos_scale=1"}
    assert r["eos_comparison"]["eos_scale=0.1"]["PPL"] == pytest.approx(r["rows"]["+neg-train (1%)"]["ppl"])

    assert len(r["samples"]) == 10 and set(r["samples"][0]) == {"input", "Baseline", "Neg-train"}
    for name in ("table4_frequent", "table9_bleu", "table5_samples", "frequent_eos_scale"):
        assert (reports / f"{name}_switchboard.md").is_file() and (reports / f"{name}_switchboard.csv").is_file()
    for fig in ("top10", "training", "lengths"):
        assert (reports / f"figures/frequent_{fig}_switchboard.png").is_file()
    assert "42.81" in (reports / "table4_frequent_switchboard.md").read_text()   # paper beside ours
