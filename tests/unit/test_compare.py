"""Issue 15: ``python -m ntlib.run.reproduce --compare`` says which numbers of a run lie outside the
tolerance of the committed ones (exact on the same machine + threads; timings ignored)."""
import copy
import json

import pytest

from ntlib.machine import provenance
from ntlib.results.tables import load_results
from ntlib.results.verdicts import verdicts
from ntlib.run.compare import compare
from ntlib.run.reproduce import main, timing_summary, timings

PROV = {"code_version": "abc", "torch": "2.13.0+cpu", "threads": 2, "cpu": "AMD EPYC", "cpu_count": 2,
        "device": "cpu", "gpu": None, "python": "3.11", "git": None}
RESULTS = {"profile": "small", "seconds": 123.4, "run_dir": "../runs/baselines-x-1",
           "seq2seq": {"ppl": 61.95, "nll": 4.126}, "rows": {"Baseline": {"max_ratio": 0.591, "ent3": 4.2},
                                                          "+GAN": {"max_ratio": 0.570, "verdict": "HOLDS"}},
           "history": {"valid_ppl": [80.0, 70.0, 61.9], "tokens_per_s": [3000.0, 3100.0]},
           "samples": [{"input": "hi", "Baseline": "i do n't know"}], "provenance": PROV,
           "timing": {"baseline hit rates": 108.7, "train train o_sample_avg": 85.6}}   # notebook 03's per-step times


def _write(folder, results, name="baselines_switchboard.json"):
    (folder / "results").mkdir(parents=True, exist_ok=True)
    (folder / "results" / name).write_text(json.dumps(results))
    return folder


def _pair(tmp_path, change=None, prov_run=PROV, prov_ref=PROV):
    ref, run = copy.deepcopy(RESULTS), copy.deepcopy(RESULTS)
    ref["provenance"], run["provenance"] = prov_ref, prov_run
    if change:
        change(run)
    return _write(tmp_path / "run", run), _write(tmp_path / "ref", ref)


def test_identical_runs_compare_equal_and_timings_provenance_run_dir_are_ignored(tmp_path, capsys):
    def timing_only(r):
        r["seconds"], r["run_dir"] = 999.0, "elsewhere"
        r["history"]["tokens_per_s"] = [1.0, 2.0]
        r["timing"] = {"baseline hit rates": 96.9, "train train o_sample_avg": 74.5}
        r["provenance"] = {**PROV, "git": {"commit": "x", "dirty": True}, "python": "3.12"}
    run, ref = _pair(tmp_path, timing_only)
    c = compare(run, ref)
    assert c.ok and c.files["baselines_switchboard.json"]["mode"] == "exact"
    assert main(["--compare", str(run), "--against", str(ref)]) == 0
    assert "EQUAL" in capsys.readouterr().out


def test_same_machine_and_threads_require_exact_equality(tmp_path, capsys):
    run, ref = _pair(tmp_path, lambda r: r["seq2seq"].__setitem__("ppl", 61.950001))
    c = compare(run, ref)
    assert not c.ok and [d.path for d in c.failures] == ["seq2seq.ppl"]
    assert main(["--compare", str(run), "--against", str(ref)]) == 1
    out = capsys.readouterr().out
    assert "seq2seq.ppl: run 61.950001 vs committed 61.95" in out and "DIFFERENT: 1 value" in out


def test_another_thread_count_is_judged_within_the_tolerance(tmp_path):
    def moved(r):
        r["seq2seq"]["ppl"] = 61.43                       # 0.8 %: inside 5 %
        r["rows"]["+GAN"]["max_ratio"] = 0.358            # 37 %: outside
        r["history"]["valid_ppl"][0] = 80.5
        r["samples"][0]["Baseline"] = "yeah"              # generated text: listed, not judged
    run, ref = _pair(tmp_path, moved, prov_run={**PROV, "threads": 1})
    c = compare(run, ref)
    f = c.files["baselines_switchboard.json"]
    assert f["mode"] == "tolerance" and f["why"] == ["threads: 1 vs 2"]
    assert [d.path for d in c.failures] == ["rows.+GAN.max_ratio"]
    assert [d.path for d in f["differences"] if not d.judged] == ["samples[0].Baseline"]
    assert compare(run, ref, rtol=0.5).ok                 # the tolerance is the caller's to state
    assert "threads: 1 vs 2" in c.report()


def test_a_flipped_verdict_or_a_changed_structure_is_outside_any_tolerance(tmp_path):
    def flipped(r):
        r["rows"]["+GAN"]["verdict"] = "FAILS"
        r["history"]["valid_ppl"].append(60.0)
        del r["rows"]["Baseline"]["ent3"]
    run, ref = _pair(tmp_path, flipped, prov_run={**PROV, "cpu": "Intel Xeon"})
    paths = sorted(d.path for d in compare(run, ref).failures)
    assert paths == ["history.valid_ppl (length)", "rows.+GAN.verdict", "rows.Baseline.ent3"]


def test_without_provenance_the_tolerance_applies_and_missing_files_fail(tmp_path, capsys):
    ref = copy.deepcopy(RESULTS)
    del ref["provenance"]                                  # committed before issue 15
    _write(tmp_path / "ref", ref)
    _write(tmp_path / "ref", {"x": 1}, "frequent_switchboard.json")
    run = copy.deepcopy(RESULTS)
    run["seq2seq"]["ppl"] = 62.0
    _write(tmp_path / "run", run)
    c = compare(tmp_path / "run", tmp_path / "ref")
    assert c.files["baselines_switchboard.json"]["mode"] == "tolerance" and not c.failures
    assert c.missing == ["frequent_switchboard.json"] and not c.ok
    # the opt-in stage 07's committed results are not required of a run that did not run it
    _write(tmp_path / "ref", {"x": 1}, "negative_losses_switchboard.json")
    c = compare(tmp_path / "run", tmp_path / "ref")
    assert c.missing == ["frequent_switchboard.json"] and c.not_run == ["negative_losses_switchboard.json"]
    assert "negative_losses_switchboard.json: committed by an opt-in stage the run did not run" in c.report()
    assert main(["--compare", str(tmp_path / "run"), "--against", str(tmp_path / "ref")]) == 1
    assert main(["--compare", str(tmp_path / "nothing"), "--against", str(tmp_path / "ref")]) == 2
    assert "no results folder" in capsys.readouterr().err


def test_the_timing_summary_lists_every_stage_and_a_readme_line():
    recs = [{"stage": "01_data", "cached": False, "seconds": 108.2, "threads": 2},
            {"stage": "02_baselines", "cached": True, "seconds": 1425.0, "threads": 2}]
    t = timings(recs, 110.0, 2)
    assert t["stage_seconds_total"] == 1533.2 and not t["from_scratch"] and t["threads"] == 2
    assert t["provenance"]["code_version"] == provenance.code_version()
    text = timing_summary(t)
    assert "README: 01 108 s · 02 1,425 s" in text and "NOT from scratch" in text


def test_the_report_opens_with_the_verdicts_that_changed(tmp_path):
    """Issue 26: what a reader concludes first — here the committed run's Table 4 verdicts with one row's
    responses replaced by the baseline's (the frequent-response cut is gone) — then the numbers."""
    import shutil

    from ntlib.run.params import COMMITTED_REPORTS
    src = COMMITTED_REPORTS / "results"
    if not (src / "frequent_switchboard.json").is_file():
        pytest.skip("no committed results")
    for side in ("run", "ref"):
        shutil.copytree(src, tmp_path / side / "results")
    path = tmp_path / "run" / "results" / "frequent_switchboard.json"
    res = json.loads(path.read_text())
    base = res["rows"]["Baseline"][0]
    res["rows"]["+neg-train (10%)"] = [{**rec, **{k: base[k] for k in ("responses", "max_ratio", "ent3", "top10")}}
                                      for rec in res["rows"]["+neg-train (10%)"]]
    path.write_text(json.dumps(res))
    c = compare(tmp_path / "run", tmp_path / "ref")
    changed = {claim: (old, new) for table, claim, old, new in c.verdicts}
    claim = "negative training (+neg-train (10%)) cuts max-ratio by ≥ 50 % relative"
    committed = {v.claim: v.outcome for vs in verdicts(load_results(COMMITTED_REPORTS, "switchboard")).values()
                 for v in vs}.get(claim)
    assert committed in ("holds", "inconclusive")          # the committed run: the cut holds or is undecided
    assert changed[claim] == (committed, "does not hold")   # with the baseline's responses it does not hold
    report = c.report().splitlines()
    assert report[0].endswith("verdict(s) differ (committed → run):") and claim in "\n".join(report[1:len(c.verdicts) + 1])
    assert not compare(tmp_path / "ref", tmp_path / "ref").verdicts
