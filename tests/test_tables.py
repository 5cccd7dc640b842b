"""ntlib.tables: Table 3 cells and the paper's claims checked against a hand-made results dict."""
from ntlib import tables


def rate(k, n=20):
    return {"rate": k / n, "lo": 0.0, "hi": 1.0, "k": k, "n": n}


def malicious_results():
    ht = "o_sample_avg"
    base = {"train": {ht: rate(8), "o_greedy": rate(0)}, "test": {ht: rate(6), "o_greedy": rate(0)},
            "ppl": 50.0}
    runs = {"+neg-tr(0.5k)": (rate(0), rate(4), 51.0), "+neg-tr(2.5k)": (rate(1), rate(5), 54.0)}
    neg = {f"{name} {ht}": {"train": {ht: tr}, "test": {ht: te}, "ppl": ppl, "history": []}
           for name, (tr, te, ppl) in runs.items()}
    return {"baseline": base, "neg_train": neg}


def test_malicious_verdicts_per_claim_and_per_run():
    claims = dict(tables._malicious_verdicts(malicious_results()))
    assert claims["o_sample_avg: training-list hit rate after negative training (+neg-tr(0.5k)) < 5 %"]
    assert claims["o_sample_avg: test-list hit rate after negative training (+neg-tr(0.5k)) lower than "
                  "the baseline's"]
    # 2.5k hits 5/20 on the test list, 0.5k 4/20: augmentation does not lower it here
    assert not claims["o_sample_avg: augmentation (2.5k) lowers the test-list hit rate further"]
    assert claims["o_sample_avg: +neg-tr(0.5k) moves PPL by < 5 % (+2.0 %)"]
    assert not claims["o_sample_avg: +neg-tr(2.5k) moves PPL by < 5 % (+8.0 %)"]


def test_table3_rows_are_the_runs_present():
    t = tables.table3({"malicious": malicious_results()}, "switchboard")
    assert list(t.index) == ["Baseline", "+neg-tr(0.5k)", "+neg-tr(2.5k)"]
    assert t.loc["+neg-tr(0.5k)", "o-sample-avg train"].startswith("0.0 [0–100]")
