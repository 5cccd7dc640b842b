"""ntlib.results.stats: exact tests against hand computations, the bootstrap's verdicts, seed intervals."""
import math

import numpy as np
import pytest

from ntlib.results import stats


def test_binomial_below_matches_hand_computation():
    # 0 hits in 100 at p0 = 5 %: 0.95^100
    assert stats.binomial_below(0, 100, 0.05) == pytest.approx(0.95 ** 100, rel=1e-12)      # 0.00592
    # 2 hits in 24: 0.95^24 + 24·0.05·0.95^23 + 276·0.05²·0.95^22
    hand = 0.95 ** 24 + 24 * 0.05 * 0.95 ** 23 + 276 * 0.05 ** 2 * 0.95 ** 22
    assert stats.binomial_below(2, 24, 0.05) == pytest.approx(hand, rel=1e-12)               # 0.884
    assert stats.binomial_below(24, 24, 0.05) == 1.0
    with pytest.raises(ValueError, match="p0"):
        stats.binomial_below(1, 10, 0.0)


def test_mcnemar_exact_one_sided_matches_hand_computation():
    assert stats.mcnemar_fell(5, 0) == pytest.approx(1 / 32)                 # all 5 discordant pairs fell
    assert stats.mcnemar_fell(6, 1) == pytest.approx((1 + 7) / 128)          # P(X ≥ 6 | 7, ½)
    assert stats.mcnemar_fell(0, 3) == 1.0 and stats.mcnemar_fell(0, 0) == 1.0
    assert stats.paired_counts([1, 1, 0, 0, 1], [0, 1, 1, 0, 0]) == (2, 1)
    with pytest.raises(ValueError, match="same targets"):
        stats.paired_counts([1, 0], [1])


def test_bootstrap_inconclusive_on_equal_samples_and_holds_on_a_clear_difference():
    mean = lambda xs: sum(xs) / len(xs)
    a = [i % 7 for i in range(200)]
    same = stats.paired_bootstrap(mean, a, list(a))
    assert same["diff"] == same["lo"] == same["hi"] == 0
    assert stats.compare_interval(same["lo"], same["hi"], 0.0, "above") == stats.INCONCLUSIVE
    # two draws of one distribution: the interval straddles 0
    b = [(i * 3) % 7 for i in range(200)]
    noise = stats.paired_bootstrap(mean, a, b)
    assert noise["lo"] < 0 < noise["hi"]
    assert stats.compare_interval(noise["lo"], noise["hi"], 0.0, "above") == stats.INCONCLUSIVE
    clear = stats.paired_bootstrap(mean, a, [x + 2 for x in a])
    assert clear["lo"] == pytest.approx(2) and stats.compare_interval(clear["lo"], clear["hi"], 0, "above") == stats.HOLDS
    assert stats.compare_interval(clear["lo"], clear["hi"], 0, "below") == stats.FAILS
    again = stats.paired_bootstrap(mean, a, b)                             # fixed seed: the same interval
    assert (again["lo"], again["hi"]) == (noise["lo"], noise["hi"]) and noise["resamples"] == 1000


def test_seed_interval_is_the_t_interval():
    r = stats.seed_interval([1.0, 2.0, 3.0])
    assert r["mean"] == 2.0 and r["hi"] - 2.0 == pytest.approx(4.303 * 1.0 / math.sqrt(3))
    assert math.isnan(stats.seed_interval([5.0])["lo"])
    assert stats.compare_interval(float("nan"), float("nan"), 0, "above") == stats.INCONCLUSIVE


def test_verdict_outcomes_and_markdown():
    assert stats.outcome_from_p(0.01) == stats.HOLDS
    assert stats.outcome_from_p(0.2, 0.01) == stats.FAILS
    assert stats.outcome_from_p(0.2, 0.3) == stats.INCONCLUSIVE
    v = stats.Verdict("the rate fell", stats.INCONCLUSIVE, "exact McNemar: 2 fell, 1 rose, p = 0.50")
    assert v.markdown() == "- ~ inconclusive: the rate fell — exact McNemar: 2 fell, 1 rose, p = 0.50"
    with pytest.raises(ValueError, match="outcome"):
        stats.Verdict("x", "maybe", "")


def test_band_interval_holds_inside_fails_outside_and_is_inconclusive_on_a_bound():
    assert stats.band_interval(-0.01, 0.02, -0.05, 0.05) == stats.HOLDS
    assert stats.band_interval(0.06, 0.09, -0.05, 0.05) == stats.FAILS
    assert stats.band_interval(-0.09, -0.06, -0.05, 0.05) == stats.FAILS
    assert stats.band_interval(0.03, 0.07, -0.05, 0.05) == stats.INCONCLUSIVE     # straddles +5 %
    assert stats.band_interval(0.05, 0.07, -0.05, 0.05) == stats.INCONCLUSIVE     # touches it
    assert stats.band_interval(float("nan"), float("nan"), -0.05, 0.05) == stats.INCONCLUSIVE
    assert stats.percentile_interval(list(range(1000))) == (25, 974)              # 2.5 % and 97.5 % of 1,000


def test_cluster_bootstrap_draws_whole_dialogues_two_dialogue_hand_case():
    """Two test dialogues: A holds inputs 0 and 1 (difference 1 each), B input 2 (difference 0). A resample
    draws two dialogues with replacement — AA, AB, BA, BB with probability ¼ each — so the mean difference is
    1, ⅔ or 0 (probabilities ¼, ½, ¼), never the ½ that resampling single inputs could give ({0, 2})."""
    d = np.array([1.0, 1.0, 0.0])
    for idx in stats.cluster_resamples(["A", "A", "B"], resamples=200, seed=3):
        assert sorted(idx.tolist()) in ([0, 0, 1, 1], [0, 1, 2], [2, 2])       # whole dialogues only
    boot = stats.paired_cluster_bootstrap(lambda idx: d[idx].mean(), ["A", "A", "B"], resamples=4000, seed=0)
    assert boot["diff"] == pytest.approx(2 / 3) and boot["n"] == 3 and boot["clusters"] == 2
    assert (boot["lo"], boot["hi"]) == (0.0, 1.0)
    values = [d[idx].mean() for idx in stats.cluster_resamples(["A", "A", "B"], resamples=4000, seed=0)]
    share = {v: values.count(v) / len(values) for v in set(values)}
    assert set(share) == {0.0, 2 / 3, 1.0}
    assert share[2 / 3] == pytest.approx(0.5, abs=0.03) and share[0.0] == pytest.approx(0.25, abs=0.03)


def test_seed_interval_clipped_to_the_quantitys_range_for_showing():
    """Issue 30: 'rep-4 % 1.2 [-1.2–3.5]' — a share's interval is clipped to [0, 1]; the mean is unchanged."""
    raw = stats.seed_interval([0.0, 0.0, 0.036])
    shown = stats.seed_interval([0.0, 0.0, 0.036], bounds=(0.0, 1.0))
    assert raw["lo"] < 0 and shown["lo"] == 0.0 and shown["hi"] == raw["hi"] and shown["mean"] == raw["mean"]
    # bounds that do not hold the mean belong to another quantity (a share's on a Δ log p: "-0.229 [+0.000–-0.077]")
    with pytest.raises(ValueError, match=r"mean -0.229 lies outside the range \(0.0, 1.0\)"):
        stats.seed_interval([-0.2, -0.229, -0.258], bounds=(0.0, 1.0))
