"""Table 3's verdicts (ntlib.results.hit_verdicts): per baseline a Holm-corrected family of exact McNemar /
binomial tests on hand-made per-target hit records, then across baselines; a claim the tests cannot support on
every baseline is inconclusive, never holds."""
import math

import numpy as np
import pytest
from toys import HT, malicious_results, rec

from ntlib.results import hit_verdicts, stats, tables

FELL_TRAIN = f"{HT}: +neg-tr(0.5k) lowers the training-list (0.5k) hit rate"
FELL_TEST = f"{HT}: +neg-tr(0.5k) lowers the test-list hit rate (generalisation)"
AUGMENTED = f"{HT}: augmentation (+neg-tr(2.5k) vs +neg-tr(0.5k)) lowers the test-list hit rate further"


def by_claim(m):
    out = hit_verdicts.malicious_verdicts(m)
    assert all(isinstance(v, stats.Verdict) for v in out)
    return {v.claim: v for v in out}


def below(m, run="+neg-tr(0.5k)"):
    return hit_verdicts.below_claim(HT, run, m)


def test_holm_hand_case():
    """Holm's step-down: sorted 0.01, 0.03, 0.04 → ×3, ×2, ×1 = 0.03, 0.06, 0.04 → monotone 0.03, 0.06, 0.06."""
    assert stats.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert stats.holm([0.6, 0.7]) == [1.0, 1.0] and stats.holm([0.2]) == [0.2] and stats.holm([]) == []


def test_a_clear_drop_holds_on_every_baseline_after_holm():
    m = malicious_results(base_train=[1] * 12 + [0] * 8)           # 12 fell, 0 rose: p = 0.5^12 = 0.000244
    v = by_claim(m)[FELL_TRAIN]
    assert v.outcome == stats.HOLDS
    assert "seed 1: ✔ 12/20 → 0/20" in v.evidence and "seed 2: ✔" in v.evidence
    assert "12 fell, 0 rose, p = 0.000244" in v.evidence and "Holm-adjusted" in v.evidence
    # 0/20 is not enough to say "below 5 %": P(X ≤ 0 | 20, 0.05) = 0.95^20 = 0.358
    b = by_claim(m)[below(m)]
    assert b.outcome == stats.INCONCLUSIVE and "0/20" in b.evidence and "p = 0.358" in b.evidence
    assert b.claim.startswith(f"{HT}: after 2 iteration(s) of +neg-tr(0.5k) (gibbs-enum T=1, G=6, 1 start(s); "
                              "the paper: 20 iterations, T=5, G=100, 5 starts)")


def test_holm_turns_a_lone_significant_test_inconclusive():
    """8 fell, 0 rose: p = 0.0039 holds alone; in the first baseline's family of 7 claims × 2 directions (its
    2.5k run adds four) Holm multiplies the smallest p by 14: 0.0547 > 0.05; the second baseline's family
    has 3 claims: 6 × 0.0039 = 0.0234. Not on every baseline: inconclusive."""
    m = malicious_results()
    base, after = m["per_baseline"][0]["baseline"]["train"][HT], m["per_baseline"][0]["neg_train"][f"+neg-tr(0.5k) {HT}"]
    assert hit_verdicts.fell("", base, after["train"][HT]).outcome == stats.HOLDS       # uncorrected
    per = {seed: {v.claim: v for v in vs} for seed, vs in hit_verdicts.per_baseline(m).items()}
    assert per[1][FELL_TRAIN].outcome == stats.INCONCLUSIVE and "Holm-adjusted 0.0547" in per[1][FELL_TRAIN].evidence
    assert per[2][FELL_TRAIN].outcome == stats.HOLDS and "Holm-adjusted 0.0234" in per[2][FELL_TRAIN].evidence
    v = by_claim(m)[FELL_TRAIN]
    assert v.outcome == stats.INCONCLUSIVE and "the baselines disagree" in v.evidence


def test_one_baseline_is_never_enough():
    m = malicious_results(base_train=[1] * 20, seeds=(1,))
    v = by_claim(m)[FELL_TRAIN]
    assert v.outcome == stats.INCONCLUSIVE and "one baseline" in v.evidence and "seed 1: ✔" in v.evidence


def test_a_run_on_the_first_baseline_only_is_inconclusive():
    v = by_claim(malicious_results(base_train=[1] * 20))[f"{HT}: +neg-tr(2.5k) lowers the training-list (0.5k) hit rate"]
    assert v.outcome == stats.INCONCLUSIVE and "ran on baseline(s) [1] only, not [2]" in v.evidence


def test_a_clear_rise_on_every_baseline_does_not_hold_and_records_are_needed():
    m = malicious_results(base_test=[0] * 20, after_test=[1] * 12 + [0] * 8)
    v = by_claim(m)[FELL_TEST]
    assert v.outcome == stats.FAILS and "0 fell, 12 rose" in v.evidence
    assert by_claim(m)[AUGMENTED].outcome == stats.INCONCLUSIVE          # the 2.5k run: first baseline only
    for b in m["per_baseline"]:
        del b["baseline"]["test"][HT]["hits"]
    v = by_claim(m)[FELL_TEST]
    assert v.outcome == stats.INCONCLUSIVE and "no per-target hit records" in v.evidence


def test_below_five_percent_needs_enough_targets():
    """0/100: P(X ≤ 0 | 100, 0.05) = 0.95^100 = 0.0059; in a family of 3 claims × 2 it is the second
    smallest p: × 5 = 0.0296 < 0.05 on both baselines."""
    m = malicious_results(base_train=[1] * 20 + [0] * 80, after_train=[0] * 100)
    for b in m["per_baseline"]:
        b["neg_train"].pop(f"+neg-tr(2.5k) {HT}", None)        # the 0.5k run only, on both baselines
    v = by_claim(m)[below(m)]
    assert v.outcome == stats.HOLDS and "p = 0.00592" in v.evidence and "Holm-adjusted 0.0296" in v.evidence
    m = malicious_results(base_train=[1] * 20 + [0] * 80, after_train=[1] * 15 + [0] * 85)
    assert by_claim(m)[below(m)].outcome == stats.FAILS         # 15/100: P(X ≥ 15 | 0.05) tiny


def test_ppl_claims_read_the_paired_bootstrap_over_test_dialogues():
    """"changes test PPL by < 5 %": per baseline a paired bootstrap over the test dialogues
    (evaluate.ppl_change_bootstrap), and across baselines the Student-t interval of the changes; without the
    bootstrap the claim is untested (inconclusive)."""
    from ntlib.methods.evaluate import ppl_change_bootstrap, ppl_of
    rng = np.random.default_rng(0)
    tok = rng.integers(3, 12, 400).tolist()
    dialogues = [i // 20 for i in range(400)]                    # 20 dialogues of 20 responses
    base = ([4.0 * n + float(e) for n, e in zip(tok, rng.normal(0, 2, 400))], tok)
    m = malicious_results()
    claim = f"{HT}: +neg-tr(0.5k) changes test PPL by less than 5 %"
    assert by_claim(m)[claim].outcome == stats.INCONCLUSIVE and "no test" in by_claim(m)[claim].evidence
    near = ([x + 0.01 * n for x, n in zip(base[0], tok)], tok)   # +0.01 nats per token: PPL +1.0 %
    far = ([x + math.log(1.08) * n for x, n in zip(base[0], tok)], tok)   # PPL +8 % on every resample
    for b, seq in zip(m["per_baseline"], (near, near)):
        b["baseline"]["ppl"] = ppl_of(base)
        r = b["neg_train"][f"+neg-tr(0.5k) {HT}"]
        r["ppl"], r["ppl_change"] = ppl_of(seq), ppl_change_bootstrap(base, seq, dialogues)
        assert r["ppl_change"]["diff"] == pytest.approx(math.expm1(0.01)) and r["ppl_change"]["clusters"] == 20
    ok = by_claim(m)[claim]
    assert ok.outcome == stats.HOLDS and "+1.0 %" in ok.evidence and "over 20 test dialogues" in ok.evidence
    assert "across baselines +1.01 %" in ok.evidence
    r = m["per_baseline"][1]["neg_train"][f"+neg-tr(0.5k) {HT}"]
    r["ppl"], r["ppl_change"] = ppl_of(far), ppl_change_bootstrap(base, far, dialogues)
    assert r["ppl_change"]["lo"] == pytest.approx(0.08)         # hand: e^{ln 1.08} − 1 on every resample
    assert by_claim(m)[claim].outcome == stats.INCONCLUSIVE     # +1 % on one baseline, +8 % on the other
    with pytest.raises(ValueError, match="same non-empty responses"):
        ppl_change_bootstrap(base, (base[0][:-1], tok[:-1]), dialogues[:-1])


def test_io_runs_are_not_read_as_o_runs():
    """'+neg-tr(0.5k) io_sample_avg' ends with 'o_sample_avg': runs are matched by their hit type, not a suffix."""
    m = malicious_results(base_train=[1] * 14 + [0] * 6)
    io = "io_sample_avg"
    for b in m["per_baseline"]:
        for split in ("train", "test"):
            b["baseline"][split][io] = rec([1] * 5 + [0] * 15)
        b["neg_train"][f"+neg-tr(0.5k) {io}"] = {"train": {io: rec([0] * 20)}, "test": {io: rec([1] * 5 + [0] * 15)},
                                                 "ppl": 52.0, "history": []}
    t = tables.table3_per_baseline({"malicious": m})
    assert " 0/20" in t.loc[("+neg-tr(0.5k)", "baseline seed 1"), "o-sample-avg train"]
    assert " 5/20" in t.loc[("+neg-tr(0.5k)", "baseline seed 2"), "io-sample-avg test"]
    v = by_claim(m)
    assert v[f"{io}: +neg-tr(0.5k) lowers the test-list hit rate (generalisation)"].outcome == stats.INCONCLUSIVE
    assert v[FELL_TRAIN].outcome == stats.HOLDS
