"""Every notebook, executed on the smoke profile, wrote what it should (the system layer).

A notebook is executed once per `make test`: nbval runs the smoke references (tests/notebooks) first and
these tests read what they wrote (the ``run_notebook`` fixture); run alone, the fixture executes the
notebook with papermill instead."""
import json
import math
import shutil
from pathlib import Path

import pandas as pd
import pytest

from ntlib.machine.kernel import ensure_installed
from ntlib.methods import evaluate, frequent
from ntlib.methods.decode import respond
from ntlib.results import loss_tables, loss_verdicts, metrics, paper, stats, tables, verdicts
from ntlib.results.reports import read_json
from ntlib.run import pipeline
from ntlib.run.config import override
from ntlib.run.profiles import get_profile
from ntlib.stages import TABLE_STAGES, losses_compared, own_model


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


@pytest.mark.slow
def test_notebook_02_smoke(run_notebook):
    reports = run_notebook("02_baselines")
    r = read_json(reports / "results/baselines_switchboard.json")
    assert r["profile"] == "smoke" and r["corpus"] == "switchboard" and r["seeds"] == [1, 2]   # two baselines
    assert r["lm"]["ppl"] == pytest.approx(math.exp(r["lm"]["nll"]), rel=1e-6) and 1 < r["lm"]["ppl"] < 505
    assert [x["seed"] for x in r["seq2seq"]] == [1, 2]
    for x in r["seq2seq"]:
        assert x["ppl"] == pytest.approx(math.exp(x["nll"]), rel=1e-6) and 1 < x["ppl"] < 505   # better than uniform
    assert r["seq2seq"][0]["ppl"] != r["seq2seq"][1]["ppl"]                   # trained independently
    assert set(r["history"]) == {"lm", "seq2seq seed=1", "seq2seq seed=2"}
    for h in r["history"].values():
        assert len(h["valid_ppl"]) == 2 and h["lr"] == [1.0, 0.5]         # smoke: 1 fixed + 1 halving epoch
    assert r["T_out"] == pytest.approx([-x["nll"] for x in r["seq2seq"]]) and r["T_in"] == pytest.approx(-r["lm"]["nll"])
    assert r["n_eval_inputs"] == 64                           # DecodeConfig.max_eval_inputs (smoke)
    assert set(r["rows"]) == {"Test-set", "Baseline"} and len(r["rows"]["Test-set"]) == 1
    assert [x["seed"] for x in r["rows"]["Baseline"]] == [1, 2]
    test = r["rows"]["Test-set"][0]
    assert set(test["dialogues"]) == set(range(4))            # spread over every test dialogue (smoke: 4)
    for row in [test, *r["rows"]["Baseline"]]:               # one evaluation set, with its provenance
        assert (row["profile"], row["corpus"], row["n_inputs"]) == ("smoke", "switchboard", 64)
        assert len(row["responses"]) == 64 and row["inputs_sha"] == test["inputs_sha"]
        assert row["dialogues"] == test["dialogues"]
        assert 0 < row["max_ratio"] <= 1 and row["ent2"] >= 0 and row["ent3"] >= 0
        assert 0 <= row["rep4_share"] <= 1 and 0 <= row["distinct1"] <= 1
    for base in r["rows"]["Baseline"]:
        assert test["ent3"] > base["ent3"]                     # references are more diverse (§4.3)
        assert set(base["bleu4_variants"]) == set(metrics.BLEU_VARIANTS) and base["bleu4_variant"] == "sent_raw"
        assert base["bleu4"] == base["bleu4_variants"][metrics.BLEU_CHOSEN] == pytest.approx(
            sum(base["bleu4_sentences"]) / 64, abs=1e-5)
        assert all(0 <= v <= 1 for v in base["bleu4_variants"].values())
        assert base["top10"][0][1] == pytest.approx(base["max_ratio"])
    for bs, x in zip(r["ppl_bootstrap"], r["seq2seq"]):      # Table 8's test: seq2seq − LM per-word NLL
        assert bs["baseline_seed"] == x["seed"] and bs["clusters"] == 4 and bs["lo"] <= bs["hi"]
        assert bs["diff"] == pytest.approx(x["nll"] - r["lm"]["nll"], abs=1e-4)      # float32 batches
    assert r["paper"]["table8"]["seq2seq"]["ppl"] == 42.81
    assert len(r["samples"]) == 8
    assert set(r["samples"][0]) == {"input", "reference", "baseline seed 1", "baseline seed 2"}
    for name in ("table8", "table4", "table9"):
        assert (reports / f"baselines_{name}_switchboard.md").is_file()
        assert (reports / f"baselines_{name}_switchboard.csv").is_file()
    for fig in ("curves", "frequent"):
        assert (reports / f"figures/baselines_{fig}_switchboard.png").is_file()
    lm_dir = Path(r["lm_dir"])
    assert (lm_dir / "lm.pt").is_file() and not list(lm_dir.glob("*.resume.pt"))
    for run_dir in map(Path, r["run_dirs"]):
        assert (run_dir / "seq2seq.pt").is_file() and not (run_dir / "lm.pt").exists()
        assert not list(run_dir.glob("*.resume.pt"))               # finished runs leave no resume file
        prov = read_json(run_dir / "provenance.json")             # one file says what trained both models
        assert prov["lm"]["run_dir"] == str(lm_dir) and "seq2seq" in prov


@pytest.mark.slow
def test_notebook_03_smoke(run_notebook):
    reports = run_notebook("03_malicious")
    res = json.loads((reports / "results" / "malicious_switchboard.json").read_text())
    assert res["profile"] == "smoke" and res["seeds"] == [1, 2] == [b["seed"] for b in res["per_baseline"]]
    assert res["targets"]["train"]["lines"] == 500 and res["targets"]["train_2.5k"]["lines"] == 2500
    lists = {1: ("+neg-tr(0.5k)", "+neg-tr(1k)", "+neg-tr(2.5k)"), 2: ("+neg-tr(0.5k)",)}   # smoke: the first
    training = {b["search_seeds"]["training"] for b in res["per_baseline"]}           # baseline runs every list
    for b in res["per_baseline"]:
        assert b["thresholds"]["t_out"] < 0 and b["thresholds"]["t_in"] < 0
        # the attacks that measure hit rates start from seeds no training search used (the authors draw fresh
        # starts): after training the search does not replay the one it was trained on
        assert b["search_seeds"] == {"training": b["seed"], "evaluation": 1000 + b["seed"]}
        assert b["search_seeds"]["evaluation"] not in training
        rates = [r for lst in ("train", "test") for r in b["baseline"][lst].values()]
        rates += [r for run in b["neg_train"].values() for m in ("train", "test") for r in run[m].values()]
        for r in rates:
            assert r["n"] == 8 and 0 <= r["lo"] <= r["rate"] <= r["hi"] <= 1
            assert len(r["hits"]) == r["n"] and sum(r["hits"]) == r["k"]       # McNemar pairs them
        assert set(b["neg_train"]) == {f"{lst} {ht}" for lst in lists[b["seed"]] for ht in ("o_sample_avg", "io_sample_avg")}
        assert all(math.isfinite(run["ppl"]) and run["ppl_change"]["clusters"] == 4 for run in b["neg_train"].values())
        # one schema: every run (baseline or neg-train) keys its hit records by hit type
        assert all(set(run[m]) == {key.split(" ")[1]} for key, run in b["neg_train"].items() for m in ("train", "test"))
        assert set(b["ablation"]) == ({"+neg-tr(0.5k) o_sample_avg"} if b["seed"] == 1 else set())
    assert all(0 <= v <= 1 for v in res["nbest_overlap"].values())
    assert res["verdicts"] and all(v["outcome"] in ("holds", "does not hold", "inconclusive")
                                   and ("McNemar" in v["evidence"] or "binomial" in v["evidence"]
                                        or "PPL" in v["evidence"]) for v in res["verdicts"])
    assert all(v["outcome"] == "inconclusive" and "ran on baseline(s) [1] only" in v["evidence"]
               for v in res["verdicts"] if "2.5k" in v["claim"] or "1k" in v["claim"])
    md = (reports / "table3_switchboard.md").read_text()
    assert "Holm-corrected" in md and "baseline seed 2" in md and (reports / "table3_switchboard.csv").exists()
    for fig in ("malicious_iterations_switchboard", "malicious_word_nll_switchboard"):
        assert (reports / "figures" / f"{fig}.png").stat().st_size > 1000


@pytest.mark.slow
def test_notebook_04_smoke(run_notebook):
    reports = run_notebook("04_frequent", eos_comparison=True)
    runs = reports.parent / "runs"
    r = read_json(reports / "results/frequent_switchboard.json")
    assert r["profile"] == "smoke" and r["corpus"] == "switchboard"
    assert set(r["rows"]) == {"Test-set", "Baseline", "+neg-train (10%)", "+neg-train (1%)"}
    assert r["seeds"] == [1, 2]                                   # smoke: two baselines, one run from each
    for k, thres in (("+neg-train (10%)", 0.1), ("+neg-train (1%)", 0.01)):
        assert [x["r_thres"] for x in r["rows"][k]] == [thres, thres]
        assert [x["seed"] for x in r["rows"][k]] == [1, 2]
    # every row on the one evaluation set: same inputs, same run
    recs = [x for v in r["rows"].values() for x in v]
    assert {(x["profile"], x["n_inputs"], x["inputs_sha"]) for x in recs} == {("smoke", 64, recs[0]["inputs_sha"])}

    # each Baseline record is its cached baseline, measured again here
    P = get_profile("smoke", "switchboard")
    ev = None
    for b, base in zip(pipeline.all_baselines(P, run_root=runs, progress=False), r["rows"]["Baseline"]):
        ev = ev or evaluate.eval_set(b.data, P.decode.max_eval_inputs)
        resp = respond(b.seq2seq, ev.pairs.src, b.data.vocab, max_len=P.decode.max_len)
        assert base["seed"] == b.seed and base["responses"] == resp and base["dialogues"] == ev.dialogues
        assert base["max_ratio"] == pytest.approx(metrics.max_ratio(resp))
        assert base["ent3"] == pytest.approx(metrics.ent_n(resp, 3))
        assert base["ppl"] == pytest.approx(evaluate.perplexity(b.seq2seq, b.data.test)["ppl"])
        assert base["top10"][0][1] == pytest.approx(base["max_ratio"])

    # negative training ran (the window filled and updates were taken) and moved each baseline's model
    for name in ("+neg-train (10%)", "+neg-train (1%)"):
        for s in (1, 2):
            h = r["histories"][f"{name} seed={s}"]
            assert h["step"][0] == 0 and h["step"][-1] == 7           # ceil(0.1 * 4165 / 64) batches
            assert any(x is not None for x in h["loss"])
        assert all(x["ppl"] != pytest.approx(b["ppl"]) for x, b in zip(r["rows"][name], r["rows"]["Baseline"]))
        assert r["rows"][name][0]["ppl"] != r["rows"][name][1]["ppl"]    # the baselines differ
    cfg = override(P.frequent, **{k: v for k, v in r["config"].items() if k != "seed"})
    for s, run_dir in zip((1, 2), map(Path, r["run_dirs"])):     # 2 thresholds per baseline, each cached there
        for t in cfg.sweep:
            assert frequent.cached_model_path(override(cfg, r_thres=t, seed=s), run_dir, P.decode.max_len).is_file()
    for e in (0.0, 1.0):                                            # footnote 10's runs: the first baseline
        c = override(cfg, r_thres=min(cfg.sweep), eos_scale=e, seed=1)
        assert frequent.cached_model_path(c, Path(r["run_dirs"][0]), P.decode.max_len).is_file()
    assert set(r["eos_comparison"]) == {"eos_scale=0", "eos_scale=0.1", "eos_scale=1"}
    assert r["eos_comparison"]["eos_scale=0.1"]["PPL"] == pytest.approx(r["rows"]["+neg-train (1%)"][0]["ppl"])

    assert len(r["samples"]) == 10 and set(r["samples"][0]) == {"input", "Baseline", "Neg-train"}
    for name in ("table4_frequent", "table9_bleu", "table5_samples", "frequent_eos_scale"):
        assert (reports / f"{name}_switchboard.md").is_file() and (reports / f"{name}_switchboard.csv").is_file()
    for fig in ("top10", "training", "lengths"):
        assert (reports / f"figures/frequent_{fig}_switchboard.png").is_file()
    assert "42.81" in (reports / "table4_frequent_switchboard.md").read_text()   # paper beside ours


@pytest.mark.slow
def test_notebook_05_smoke(run_notebook):
    reports = run_notebook("05_gan_mmi")
    r = read_json(reports / "results/gan_mmi_switchboard.json")
    P = get_profile("smoke")
    assert r["profile"] == "smoke" and set(r["rows"]) == {"Test-set", "Baseline", "+GAN", "+MMI"}
    assert r["seeds"] == [1, 2]                                    # a GAN and an MMI selection per baseline
    for row in ("Baseline", "+GAN", "+MMI"):
        assert [x["seed"] for x in r["rows"][row]] == [1, 2], row
    recs = [x for v in r["rows"].values() for x in v]
    assert {(x["profile"], x["n_inputs"], x["inputs_sha"]) for x in recs} == {("smoke", 64, recs[0]["inputs_sha"])}
    for x in recs:
        assert 0 < x["max_ratio"] <= 1 and x["ent3"] >= 0 and x["ent2"] >= 0
    assert all(x["ppl"] is None for x in r["rows"]["+MMI"] + r["rows"]["Test-set"])
    assert all(x["ppl"] > 1 for x in r["rows"]["+GAN"] + r["rows"]["Baseline"])
    assert all(x["bleu4_variant"] == "sent_raw" for x in recs if x.get("bleu4_variant"))
    for s, sel in r["gan_selection"].items():
        assert [x["g_lr"] for x in sel] == [None, *P.gan.g_lrs] and sum(x["chosen"] for x in sel) == 1
    assert all(x["g_lr"] in P.gan.g_lrs for x in r["rows"]["+GAN"])
    n_settings = sum(1 for lam in P.mmi.lambdas for g in P.mmi.gs if lam or g == P.mmi.gs[0])
    assert set(r["mmi_grid"]) == {"1", "2"}
    for x in r["rows"]["+MMI"]:
        grid = r["mmi_grid"][str(x["seed"])]
        chosen = [g for g in grid if g["chosen"]]
        assert len(grid) == n_settings * len(P.mmi.gammas) and len(chosen) == 1
        assert x["setting"] == chosen[0]["setting"] and x["sane"] == chosen[0]["sane"]
    ref = r["mmi_reference"]
    assert all(g["sane"] == (g["avg_len"] >= P.mmi.min_len_ratio * ref["ref_avg_len"]
                             and g["avg_len"] <= P.mmi.max_len_ratio * ref["ref_avg_len"]
                             and g["lm_ppl"] <= P.mmi.max_lm_ppl_ratio * ref["ref_lm_ppl"])
               for grid in r["mmi_grid"].values() for g in grid)
    assert r["rows"]["Test-set"][0]["max_ratio"] < r["rows"]["Baseline"][0]["max_ratio"]
    table = (reports / "table4_gan_mmi_switchboard.md").read_text()
    assert "+GAN" in table and "+MMI" in table
    assert f"({100 * paper.TABLE4['switchboard']['+MMI']['max_ratio']:.1f})" in table   # paper beside ours
    assert (reports / "mmi_grid_switchboard.csv").is_file()
    assert (reports / "figures/gan_d_fake_switchboard.png").is_file()


@pytest.mark.slow
def test_notebook_06_smoke(run_notebook):
    for stage in ("01_data", "02_baselines", "03_malicious", "05_gan_mmi"):
        run_notebook(stage)
    run_notebook("04_frequent", eos_comparison=True)         # as test_notebook_04 runs it: run once
    reports = run_notebook("06_tables")
    res = tables.load_results(reports, "switchboard")
    assert set(res) == set(TABLE_STAGES) and {r["profile"] for r in res.values()} == {"smoke"}

    md = (reports / "tables.md").read_text(encoding="utf-8")
    assert md.startswith("# Tables: ours (paper) — switchboard, profile smoke\n\n## How to read these tables")
    for legend in ("✔ holds — ✘ does not hold — ~ inconclusive", "α = 0.05", "One-sided", "Holm-corrected",
                   "2 seq2seq baselines trained independently (seeds [1, 2]", "resampling test *dialogues*",
                   "`sent_raw`"):
        assert legend in md, legend
    assert "Stages (profile / corpus): data smoke / switchboard, baselines smoke / switchboard" in md
    judged = verdicts.verdicts(res)
    for name, builder in (("Table 8", tables.table8), ("Table 4", tables.table4), ("Table 9", tables.table9),
                          ("Table 3", tables.table3)):
        slug = name.lower().replace(" ", "")
        assert f"## {name}" in md
        # the CSV is the table built from the results, and the markdown carries its verdicts
        csv = pd.read_csv(reports / f"{slug}_switchboard.csv", index_col=0)
        df = builder(res, "switchboard")
        assert list(csv.index) == list(df.index) and list(csv.columns) == list(df.columns)
        assert verdicts.verdict_markdown(judged[name]) in md
        assert all(isinstance(v, stats.Verdict) for v in judged[name])
    assert "+neg-train (1%)" in md and "+GAN" in md and "+neg-tr(0.5k)" in md
    assert "![baselines_curves_switchboard](figures/baselines_curves_switchboard.png)" in md
    assert "### Table 4 · Top-10 responses" in md and "### Table 9 · BLEU-4 variants" in md
    assert "### Table 3 · Each baseline" in md and "### Table 8 · Each baseline" in md


@pytest.mark.slow
def test_notebook_06_refuses_results_of_two_profiles(run_notebook, tmp_path):
    """One stage's results from another profile: notebook 06 stops, naming the stages."""
    pm = pytest.importorskip("papermill")
    for stage in ("01_data", "02_baselines", "03_malicious", "04_frequent", "05_gan_mmi"):
        run_notebook(stage)
    reports = tmp_path / "reports"
    shutil.copytree(run_notebook("02_baselines"), reports)
    path = reports / "results/frequent_switchboard.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "profile": "small"}))
    notebooks = Path(__file__).resolve().parents[2] / "notebooks"
    with pytest.raises(pm.PapermillExecutionError, match="mix runs.*frequent: profile 'small'"):
        pm.execute_notebook(str(notebooks / "06_tables.ipynb"), str(tmp_path / "06.ipynb"),
                            parameters=dict(profile="smoke", corpus="switchboard", reports_dir=str(reports),
                                            run_root=str(tmp_path / "runs")),
                            cwd=str(notebooks), progress_bar=False, kernel_name=ensure_installed())


@pytest.mark.slow
def test_notebook_07_smoke(run_notebook):
    reports = run_notebook("07_negative_losses")
    r = read_json(reports / "results/negative_losses_switchboard.json")
    ccfg = losses_compared.compare_config("smoke")
    assert r["profile"] == "smoke" and r["seeds"] == [1, 2] and list(r["config"]["losses"]) == list(ccfg.losses)

    m = r["malicious"]
    n_train, n_test = m["targets"]["train"], m["targets"]["test"]
    assert n_train == n_test == ccfg.max_targets
    for loss in ccfg.losses:
        runs = m["runs"][loss]
        assert [x["seed"] for x in runs] == [1, 2]
        for x in runs:      # the same targets for every loss and seed: paired with the baseline's hits
            assert len(x["train"]["hits"]) == n_train and len(x["test"]["hits"]) == n_test
            assert len(x["collateral"]["neighbours_per_item"]) == n_train * ccfg.neighbours
            assert x["ppl"] > 0 and x["rounds"] >= 0
    assert m["neighbours"]["n"] == n_train * ccfg.neighbours and m["neighbours"]["examples"]

    f = r["frequent"]
    assert set(f["rows"]) == {"Test-set", "Baseline", *ccfg.losses}
    recs = [x for v in f["rows"].values() for x in v]
    assert len({(x["n_inputs"], x["inputs_sha"]) for x in recs}) == 1          # one evaluation set
    assert all(x["negative_loss"] == loss for loss in ccfg.losses for x in f["rows"][loss])
    assert len(f["histories"]) == len(ccfg.losses) * 2
    # same number of mini-batches for every loss
    assert len({h["step"][-1] for h in f["histories"].values()}) == 1
    # the nll models of Algorithm 2 differ from the others (the loss reached the training)
    assert f["rows"]["nll"][0]["ppl"] != f["rows"]["cringe"][0]["ppl"] != f["rows"]["unlikelihood"][0]["ppl"]

    csv = pd.read_csv(reports / "negative_losses_switchboard.csv", index_col=0)
    df = loss_tables.loss_comparison(r)
    assert list(csv.index) == list(df.index) == ["Baseline", *ccfg.losses]
    assert list(csv.columns) == list(df.columns)
    md = (reports / "negative_losses_switchboard.md").read_text(encoding="utf-8")
    assert verdicts.verdict_markdown(loss_verdicts.loss_verdicts(r)) in md
    assert (reports / "figures/negative_losses_tradeoff_switchboard.png").is_file()


@pytest.mark.slow
def test_notebook_08_smoke(run_notebook):
    """Notebook 08 (the hf extra): a tiny GPT-2 trained, attacked, then Algorithms 1 and 2 on it; its reports."""
    pytest.importorskip("transformers")
    reports = run_notebook("08_own_model")
    r = read_json(reports / "results/own_model_switchboard.json")
    cfg = own_model.config("smoke")
    assert r["profile"] == "smoke" and r["config"]["architecture"] == "gpt2" and r["training"]["step"][-1] == cfg.steps
    for stage in ("before", "after"):         # the same targets before and after Algorithm 1: paired per target
        for lst in own_model.LISTS:
            assert set(r["hits"][stage][lst]) == set(own_model.HIT_TYPES)
            assert all(len(x["hits"]) == cfg.max_targets for x in r["hits"][stage][lst].values())
    rows = r["frequent_rows"]
    assert set(rows) == {"Test-set", "Baseline", "+neg-train"}
    assert len({(x["n_inputs"], x["inputs_sha"]) for x in rows.values()}) == 1            # one evaluation set
    assert rows["+neg-train"]["responses"] != rows["Baseline"]["responses"]               # Algorithm 2 reached it
    assert r["ppl"]["before"] == pytest.approx(rows["Baseline"]["ppl"])
    md = (reports / "own_model_switchboard.md").read_text(encoding="utf-8")
    assert "| Baseline" in md and "train list, o_sample_avg" in md
    assert (reports / "figures/own_model_training_switchboard.png").is_file()
