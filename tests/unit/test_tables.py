"""ntlib.results.tables: Table 3 / 4 / 9 cells, one evaluation set per table, and the paper's claims judged by
tests (paired bootstrap over inputs, interval across seeds) on hand-made results."""
import json

import numpy as np
import pytest
from toys import malicious_results

from ntlib.methods.evaluate import response_scores
from ntlib.results import metrics, stats, tables, verdicts
from ntlib.stages import TABLE_STAGES


def test_table3_rows_are_the_runs_present():
    res = {"malicious": malicious_results()}
    t = tables.table3(res, "switchboard")
    assert list(t.index) == ["Baseline", "+neg-tr(0.5k)", "+neg-tr(2.5k)"]
    assert t.loc["+neg-tr(0.5k)", "o-sample-avg train"].startswith("0.0 [0.0–0.0]")     # 0/20 on both baselines
    assert t.loc["Baseline", "o-sample-avg train"].startswith("40.0 [40.0–40.0]") and t.loc["Baseline", "baselines"] == 2
    assert t.loc["+neg-tr(2.5k)", "o-sample-avg test"].startswith("10.0 (") and t.loc["+neg-tr(2.5k)", "baselines"] == 1
    each = tables.table3_per_baseline(res)
    assert " 0/20" in each.loc[("+neg-tr(0.5k)", "baseline seed 2"), "o-sample-avg train"]
    assert ("+neg-tr(2.5k)", "baseline seed 2") not in each.index


def test_table3_columns_keep_the_papers_order_after_a_json_round_trip():
    """Notebook 03 writes Table 3 from its results in memory, 06 from the JSON (keys sorted): same columns,
    in the paper's order (o-sample-avg, then io-sample-avg)."""
    m = malicious_results()
    for b in m["per_baseline"]:
        for r in [b["baseline"], *b["neg_train"].values()]:      # add the io criterion after the o one
            for split in ("train", "test"):
                r[split]["io_sample_avg"] = r[split]["o_sample_avg"]
        b["neg_train"] = {**b["neg_train"], **{k.replace("o_sample", "io_sample"): v for k, v in b["neg_train"].items()}}
    res = {"malicious": m}
    again = json.loads(json.dumps(res, sort_keys=True))
    kinds = [c.rsplit(" ", 1)[0] for c in tables.table3(res, "switchboard").columns if c != "baselines"]
    assert kinds == ["o-sample-avg"] * 3 + ["io-sample-avg"] * 3
    assert list(tables.table3(again, "switchboard").columns) == list(tables.table3(res, "switchboard").columns)
    claims = [v.claim for v in verdicts.verdicts(res)["Table 3"]]           # the verdicts too, o-sample-avg first
    assert claims == [v.claim for v in verdicts.verdicts(again)["Table 3"]] and claims[0].startswith("o_sample_avg")


def record(responses, refs=None, *, seed=1, ppl=50.0, profile="smoke", sha="abc", **extra):
    """A Table 4 row record as evaluate.table4_row writes it (refs: the references, for BLEU-4; the inputs
    come from test dialogues of 10 inputs each)."""
    refs = refs or ["yeah"] * len(responses)
    return {"profile": profile, "corpus": "switchboard", "seed": seed, "n_inputs": len(responses),
            "inputs_sha": sha, "dialogues": [i // 10 for i in range(len(responses))], "provenance": {}, "ppl": ppl,
            **response_scores(responses, refs, refs), "responses": responses, **extra}


N = 100
REFS = [f"reference number {i} here" for i in range(N)]          # a diverse test set
GENERIC = ["i do n't know"] * 60 + [f"answer {i}" for i in range(40)]   # max-ratio 0.6
FIXED = [f"a fresh answer {i}" for i in range(N)]                 # max-ratio 1/100
LOOPING = [f"to be able to be able to {i}" for i in range(N)]     # diverse, every response repeats a 4-gram


def results(nt=FIXED, nt2=None, gan=GENERIC, mmi=FIXED, nt_ppl=(51.0, 51.2)):
    """Hand-made results of notebooks 02, 04 and 05 in the schema tables.py reads: two baselines (seeds 1, 2)."""
    test, base = record(REFS, REFS, ppl=None), [record(GENERIC, REFS, seed=s) for s in (1, 2)]
    nt2 = nt if nt2 is None else nt2
    rows = {"Test-set": [test], "Baseline": base}
    boot = {"diff": -0.18, "lo": -0.2, "hi": -0.16, "n": 100, "clusters": 10, "resamples": 1000, "seed": 0}
    baselines = {"profile": "smoke", "corpus": "switchboard", "seeds": [1, 2], "lm": {"ppl": 60.0, "nll": 4.09},
                 "seq2seq": [{"ppl": 50.0, "nll": 3.91, "seed": 1}, {"ppl": 50.4, "nll": 3.92, "seed": 2}],
                 "rows": rows, "ppl_bootstrap": [{**boot, "baseline_seed": 1}, {**boot, "diff": -0.17, "baseline_seed": 2}]}
    frequent = {"profile": "smoke", "corpus": "switchboard", "rows": {
        **rows,
        "+neg-train (10%)": [record(GENERIC, REFS, seed=s, ppl=51.0, r_thres=0.1) for s in (1, 2)],
        "+neg-train (1%)": [record(x, REFS, seed=s, ppl=p, r_thres=0.01)
                            for s, x, p in ((1, nt, nt_ppl[0]), (2, nt2, nt_ppl[1]))]}}
    gan_mmi = {"profile": "smoke", "corpus": "switchboard", "rows": {
        **rows, "+GAN": [record(gan, REFS, seed=s, ppl=49.0) for s in (1, 2)],
        "+MMI": [record(mmi, REFS, seed=s, ppl=None) for s in (1, 2)]}}
    return {"baselines": baselines, "frequent": frequent, "gan_mmi": gan_mmi}


def by_claim(items):
    assert all(isinstance(v, stats.Verdict) for v in items)
    return {v.claim: v for v in items}


def test_table4_and_9_rows_columns_and_seed_intervals():
    res = results()
    rows = tables.table4_rows(res)
    assert list(rows) == ["Test-set", "Baseline", "+GAN", "+MMI", "+neg-train (10%)", "+neg-train (1%)"]
    shuffled = {k: rows[k] for k in sorted(rows)}                       # the JSON sorts its keys
    assert list(tables.table4(res, "switchboard", shuffled).index) == list(rows)
    t4 = tables.table4(res, "switchboard")
    assert t4.loc["Baseline", "M-ratio %"] == "60.0 [60.0–60.0] (37.4)" and t4.loc["Test-set", "PPL"].startswith("–")
    assert t4.loc["+neg-train (1%)", "PPL"].startswith("51.10 [") and t4.loc["+neg-train (1%)", "baselines"] == 2
    assert t4.loc["Baseline", "n"] == N and t4.loc["+neg-train (1%)", "rep-4 %"].startswith("0.0")
    t9 = tables.table9(res, "switchboard")            # the paper's Neg-train row: the smaller threshold
    assert list(t9.index) == ["Baseline", "+neg-train (1%)"]
    assert t9.loc["Baseline", f"BLEU-4 ({metrics.BLEU_CHOSEN})"].endswith("(0.476)")
    seeds = tables.seed_table(rows)
    assert ("+neg-train (1%)", "baseline seed 2") in seeds.index and ("+GAN", "95 % interval") in seeds.index
    assert tables.top10_table(rows).loc[1, "Baseline"] == "i do n't know (60.0 %)"
    assert "sent_raw (chosen)" in tables.bleu_variants_table(rows).columns and metrics.BLEU_CHOSEN == "sent_raw"
    t8 = tables.table8(res, "switchboard")
    assert t8.loc["LM", "models"] == 1 and t8.loc["Seq2seq", "models"] == 2 and t8.loc["LM", "Test-PPL"] == "60.00 (44.37)"
    assert tables.table8_per_baseline(res).loc["baseline seed 2", "NLL − LM's [95 %]"] == "-0.170 [-0.200, -0.160]"


def test_rows_on_other_inputs_or_profiles_are_refused_with_their_names():
    res = results()
    res["gan_mmi"]["rows"]["+MMI"] = [record(FIXED[:60], REFS[:60], ppl=None, sha="other")]
    with pytest.raises(tables.MixedResultsError, match=r"\+MMI \[gan_mmi\] \(seed 1\): .*n_inputs=60"):
        tables.table4(res, "switchboard")
    res = results()
    res["frequent"]["rows"]["+neg-train (1%)"][1]["profile"] = "small"
    with pytest.raises(tables.MixedResultsError, match=r"\+neg-train \(1%\) \[frequent\] \(seed 2\): profile=small"):
        verdicts.verdicts(res)
    with pytest.raises(tables.MixedResultsError, match="no inputs_sha"):
        tables.check_same_inputs({"Old row": [{"profile": "smoke", "corpus": "switchboard", "n_inputs": 3}]})


def test_load_results_refuses_stages_of_two_profiles(tmp_path):
    (tmp_path / "results").mkdir()
    for stage, profile in (("baselines", "smoke"), ("frequent", "small")):
        (tmp_path / "results" / f"{stage}_switchboard.json").write_text(
            json.dumps({"profile": profile, "corpus": "switchboard"}))
    with pytest.raises(tables.MixedResultsError, match="baselines: profile 'smoke'.*frequent: profile 'small'"):
        tables.load_results(tmp_path, "switchboard")


def test_resampled_statistics_equal_the_metrics():
    rec = record(GENERIC[:50] + LOOPING[:48] + ["", "yeah yeah"], REFS)
    enc, idx = verdicts.EncodedResponses(rec), np.arange(N)
    for key in ("max_ratio", "ent2", "ent3", "distinct1", "distinct2", "rep4_share", "bleu4"):
        assert enc.stat(key, idx) == pytest.approx(rec[key], abs=1e-6), key


def test_bootstrap_verdict_inconclusive_on_equal_samples_and_holds_on_a_clear_difference():
    base = [record(GENERIC, REFS, seed=s) for s in (1, 2)]
    same = [record(list(GENERIC), REFS, seed=s) for s in (1, 2)]
    outcome, evidence = verdicts.judge(base, same, "max_ratio", "below")
    assert outcome == stats.INCONCLUSIVE and "1000 resamples" in evidence and "10 test dialogues" in evidence
    fixed = [record(FIXED, REFS, seed=s) for s in (2, 1)]       # paired by seed, not by position
    outcome, evidence = verdicts.judge(base, fixed, "max_ratio", "below")
    assert outcome == stats.HOLDS and evidence.index("seed 2:") < evidence.index("seed 1:")
    assert verdicts.judge(base, fixed, "max_ratio", "above")[0] == stats.FAILS
    # every baseline's bootstrap and the interval across baselines must agree
    mixed = [record(FIXED, REFS, seed=1), record(GENERIC, REFS, seed=2)]
    assert verdicts.judge(base, mixed, "max_ratio", "below")[0] == stats.INCONCLUSIVE
    # one baseline is never enough; a record of a baseline the reference lacks is refused
    outcome, evidence = verdicts.judge(base[:1], fixed[1:], "max_ratio", "below")
    assert outcome == stats.INCONCLUSIVE and "needs ≥ 2" in evidence
    with pytest.raises(tables.MixedResultsError, match=r"baseline seed\(s\) \[3\]"):
        verdicts.judge(base, [record(FIXED, REFS, seed=3)], "max_ratio", "below")


def test_table8_4_9_verdicts_follow_the_tests():
    v = verdicts.verdicts(results())
    assert v["Table 8"][0].outcome == stats.HOLDS
    t4 = by_claim(v["Table 4"])
    o = {c: x.outcome for c, x in t4.items()}
    assert o["greedy baseline max-ratio is more than twice the test set's (frequent-response problem)"] == stats.HOLDS
    assert o["negative training (+neg-train (1%)) cuts max-ratio by ≥ 50 % relative"] == stats.HOLDS
    assert o["negative training (+neg-train (1%)) raises Ent-3"] == stats.HOLDS
    assert o["negative training (+neg-train (10%)) cuts max-ratio by ≥ 50 % relative"] == stats.FAILS
    assert o["negative training (+neg-train (1%)) moves PPL by < 10 %"] == stats.HOLDS    # 51, 51.2 vs 50
    assert o["negative training (+neg-train (1%)) fixes the frequent-response problem without trading it "
             "for degenerate responses"] == stats.HOLDS
    assert o["the vanilla GAN does not lower max-ratio much (< 25 % relative)"] == stats.HOLDS
    assert o["MMI-antiLM raises Ent-3 over the baseline"] == stats.HOLDS
    (t9,) = v["Table 9"]
    assert t9.claim.startswith("negative training (+neg-train (1%)) does not lower BLEU-4 (sent_raw)")
    md = verdicts.verdict_markdown(v["Table 4"])
    assert "- ✔ holds: negative training (+neg-train (1%)) raises Ent-3 — Ent-3: difference above 0; paired " \
           "bootstrap over 10 test dialogues (100 inputs" in md
    assert "- ✘ does not hold:" in md


def test_a_generic_answer_traded_for_a_degenerate_one_is_not_a_fix():
    v = by_claim(verdicts.verdicts(results(nt=LOOPING, nt_ppl=(58.0, 40.0)))["Table 4"])
    name = "+neg-train (1%)"
    assert v[f"negative training ({name}) cuts max-ratio by ≥ 50 % relative"].outcome == stats.HOLDS
    degenerate = v[f"negative training ({name}) does not make responses degenerate (share repeating a 4-gram "
                   "at most 2 points above the test set's)"]
    assert degenerate.outcome == stats.FAILS
    fix = v[f"negative training ({name}) fixes the frequent-response problem without trading it for "
            "degenerate responses"]
    assert fix.outcome == stats.FAILS and "✘" in fix.evidence
    # PPL 58 and 40 (+16 %, −20 %): the interval across 2 baselines straddles the ±10 % band
    assert v[f"negative training ({name}) moves PPL by < 10 %"].outcome == stats.INCONCLUSIVE


def test_verdict_markdown_renders_each_outcome():
    items = [stats.Verdict("c1", stats.HOLDS, "t1"), stats.Verdict("c2", stats.FAILS, "t2"),
             stats.Verdict("c3", stats.INCONCLUSIVE, "t3")]
    assert verdicts.verdict_markdown(items).splitlines() == [
        "- ✔ holds: c1 — t1", "- ✘ does not hold: c2 — t2", "- ~ inconclusive: c3 — t3"]


def test_a_missing_stage_result_is_an_error_naming_file_and_notebook(tmp_path):
    """Issue 27: a missing results JSON made notebook 06 write tables.md without Table 3 (exit 0)."""
    (tmp_path / "results").mkdir()
    for stage in ("data", "baselines", "frequent", "gan_mmi"):
        (tmp_path / "results" / f"{stage}_switchboard.json").write_text('{"profile": "small", "corpus": "switchboard"}')
    with pytest.raises(tables.MissingResultsError, match=r"malicious_switchboard\.json \(written by notebooks/03_malicious"):
        tables.load_results(tmp_path, "switchboard", required=TABLE_STAGES)
    assert set(tables.load_results(tmp_path, "switchboard")) == {"data", "baselines", "frequent", "gan_mmi"}
