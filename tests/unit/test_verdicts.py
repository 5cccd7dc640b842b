"""Table 3's verdicts (ntlib.results.tables.malicious_verdicts): exact McNemar / binomial tests on hand-made
per-target hit records; a claim the test cannot support is inconclusive, never holds."""
import math

import numpy as np
import pytest
from toys import HT, malicious_results, rec

from ntlib.results import stats, tables, verdicts


def by_claim(m):
    out = verdicts.malicious_verdicts(m)
    assert all(isinstance(v, stats.Verdict) for v in out)
    return {v.claim: v for v in out}


def test_a_clear_drop_holds_with_counts_test_and_p():
    v = by_claim(malicious_results())
    fell = v[f"{HT}: +neg-tr(0.5k) lowers the training-list (0.5k) hit rate"]
    assert fell.outcome == stats.HOLDS                       # 8 fell, 0 rose: p = 0.5^8 = 0.0039
    assert "8/20 → 0/20" in fell.evidence and "8 fell, 0 rose" in fell.evidence
    assert "McNemar" in fell.evidence and "p = 0.00391" in fell.evidence
    # 0/20 is not enough to say "below 5 %": P(X ≤ 0 | 20, 0.05) = 0.95^20 = 0.358
    below = v[f"{HT}: training-list (0.5k) hit rate after +neg-tr(0.5k) is below 5 %"]
    assert below.outcome == stats.INCONCLUSIVE and "0/20" in below.evidence and "p = 0.358" in below.evidence


def test_two_fell_one_rose_is_inconclusive():
    m = malicious_results(base_test=[1, 1, 0] + [0] * 17, after_test=[0, 0, 1] + [0] * 17)
    v = by_claim(m)[f"{HT}: +neg-tr(0.5k) lowers the test-list hit rate (generalisation)"]
    assert v.outcome == stats.INCONCLUSIVE                     # p = P(X ≥ 2 | 3, ½) = 0.5
    assert "2 fell, 1 rose" in v.evidence and "p = 0.5" in v.evidence
    assert v.markdown().startswith("- ~ inconclusive")


def test_a_clear_rise_does_not_hold_and_records_are_needed():
    # augmentation: 0.5k run hits none of the test list, 2.5k hits 7: the opposite is supported
    m = malicious_results(after_test=[0] * 20, test_25k=[1] * 7 + [0] * 13)
    v = by_claim(m)[f"{HT}: augmentation (+neg-tr(2.5k) vs +neg-tr(0.5k)) lowers the test-list hit rate further"]
    assert v.outcome == stats.FAILS and "0 fell, 7 rose" in v.evidence
    for r in (m["baseline"]["test"][HT],):
        del r["hits"]
    v = by_claim(m)[f"{HT}: +neg-tr(0.5k) lowers the test-list hit rate (generalisation)"]
    assert v.outcome == stats.INCONCLUSIVE and "no per-target hit records" in v.evidence


def test_below_five_percent_needs_enough_targets():
    m = malicious_results(base_train=[1] * 20 + [0] * 80, after_train=[0] * 100)
    v = by_claim(m)[f"{HT}: training-list (0.5k) hit rate after +neg-tr(0.5k) is below 5 %"]
    assert v.outcome == stats.HOLDS                            # 0.95^100 = 0.0059
    assert "p = 0.00592" in v.evidence
    m = malicious_results(base_train=[1] * 20 + [0] * 80, after_train=[1] * 15 + [0] * 85)
    assert by_claim(m)[f"{HT}: training-list (0.5k) hit rate after +neg-tr(0.5k) is below 5 %"].outcome \
        == stats.FAILS                                         # 15/100: P(X ≥ 15 | 0.05) < 0.05


def test_ppl_claims_read_the_paired_bootstrap_over_test_responses():
    """"changes test PPL by < 5 %": one trained model, so the interval is a paired bootstrap over the
    test responses (evaluate.ppl_change_bootstrap); without it the claim is untested (inconclusive)."""
    from ntlib.methods.evaluate import ppl_change_bootstrap, ppl_of
    rng = np.random.default_rng(0)
    tok = rng.integers(3, 12, 400).tolist()
    base = ([4.0 * n + float(e) for n, e in zip(tok, rng.normal(0, 2, 400))], tok)
    m = malicious_results()
    v = by_claim(m)                                             # the hand-made results carry no bootstrap
    assert all(v[f"{HT}: {r} changes test PPL by less than 5 %"].outcome == stats.INCONCLUSIVE
               and "no test" in v[f"{HT}: {r} changes test PPL by less than 5 %"].evidence
               for r in ("+neg-tr(0.5k)", "+neg-tr(2.5k)"))
    near = ([x + 0.01 * n for x, n in zip(base[0], tok)], tok)   # +0.01 nats per token: PPL +1.0 %
    far = ([x + math.log(1.08) * n for x, n in zip(base[0], tok)], tok)   # PPL +8 % on every resample
    m["baseline"]["ppl"] = ppl_of(base)
    for name, seq in (("+neg-tr(0.5k)", near), ("+neg-tr(2.5k)", far)):
        r = m["neg_train"][f"{name} {HT}"]
        r["ppl"], r["ppl_change"] = ppl_of(seq), ppl_change_bootstrap(base, seq)
    assert m["neg_train"][f"+neg-tr(2.5k) {HT}"]["ppl_change"]["lo"] == pytest.approx(0.08)   # hand: e^{ln 1.08} − 1
    assert m["neg_train"][f"+neg-tr(0.5k) {HT}"]["ppl_change"]["diff"] == pytest.approx(math.expm1(0.01))
    v = by_claim(m)
    ok = v[f"{HT}: +neg-tr(0.5k) changes test PPL by less than 5 %"]
    assert ok.outcome == stats.HOLDS and "+1.0 %" in ok.evidence and "paired bootstrap over 400" in ok.evidence
    bad = v[f"{HT}: +neg-tr(2.5k) changes test PPL by less than 5 %"]
    assert bad.outcome == stats.FAILS and "+8.0 %" in bad.evidence
    # a noisy change whose interval straddles +5 %: inconclusive
    e = rng.normal(0, 0.3, 400)
    e -= (e * tok).sum() / sum(tok)                            # observed change exactly +5 %, noise around it
    noisy = ([x + n * (math.log(1.05) + float(d)) for x, n, d in zip(base[0], tok, e)], tok)
    r = m["neg_train"][f"+neg-tr(2.5k) {HT}"]
    r["ppl"], r["ppl_change"] = ppl_of(noisy), ppl_change_bootstrap(base, noisy)
    assert r["ppl_change"]["lo"] < 0.05 < r["ppl_change"]["hi"]
    assert by_claim(m)[f"{HT}: +neg-tr(2.5k) changes test PPL by less than 5 %"].outcome == stats.INCONCLUSIVE
    assert pytest.approx(0.95 ** 20, abs=5e-4) == 0.358
    with pytest.raises(ValueError, match="same non-empty responses"):
        ppl_change_bootstrap(base, (base[0][:-1], tok[:-1]))


def test_io_runs_are_not_read_as_o_runs():
    """'+neg-tr(0.5k) io_sample_avg' ends with 'o_sample_avg': runs are matched by their hit type, not a suffix."""
    m = malicious_results()
    io = "io_sample_avg"
    for split in ("train", "test"):
        m["baseline"][split][io] = rec([1] * 5 + [0] * 15)
    m["neg_train"][f"+neg-tr(0.5k) {io}"] = {"train": {io: rec([0] * 20)}, "test": {io: rec([1] * 5 + [0] * 15)},
                                            "ppl": 52.0, "history": []}
    t = tables.table3({"malicious": m}, "switchboard")
    assert " 0/20 " in t.loc["+neg-tr(0.5k)", "o-sample-avg train"]
    assert " 5/20 " in t.loc["+neg-tr(0.5k)", "io-sample-avg test"]
    v = by_claim(m)
    assert v[f"{io}: +neg-tr(0.5k) lowers the test-list hit rate (generalisation)"].outcome == stats.INCONCLUSIVE
    assert v[f"{HT}: +neg-tr(0.5k) lowers the training-list (0.5k) hit rate"].outcome == stats.HOLDS
