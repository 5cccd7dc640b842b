"""ntlib.stages.losses_compared (notebook 07): the stage config, benign near-neighbours, collateral damage, the
table and verdicts of losses_compared.loss_comparison / loss_verdicts, and the opt-in reproduce stage."""
import types

import pytest
import torch

from ntlib.data.dataset import EOS, Vocab, encode_sentences
from ntlib.methods import collateral, malicious
from ntlib.methods.models import build_model
from ntlib.results import loss_verdicts, reports, stats, tables, verdicts
from ntlib.run import reproduce
from ntlib.run.config import ModelConfig
from ntlib.run.profiles import get_profile
from ntlib.run.rules import ConfigError
from ntlib.stages import losses_compared

WORDS = ["you", "are", "i", "the", "so", "much", "hate", "stupid", "love", "people", "money", "school",
         "house", "a", "idiot", "weather", "ok", "'s", "n't", "music", "cars"]


def _vocab():
    return Vocab(WORDS)                      # ids follow this order: the training frequency rank


# -- the stage config ----------------------------------------------------------------------------------
def test_presets_and_validation():
    small = losses_compared.compare_config("small")
    assert small.losses == ("nll", "unlikelihood", "cringe", "npo", "simnpo") and not hasattr(small, "seeds")   # the profile's baselines
    assert get_profile("small").baselines >= 3 and get_profile("smoke").baselines == 2
    assert small.iterations == 1 and small.max_targets == 50 and small.training_list == "train"
    s = losses_compared.resolved(small, get_profile("small"), "switchboard")
    assert s["hit_type"] == "o_sample_avg" and s["r_thres"] == 0.01 and s["frequent_passes"] == 0.05
    paper = losses_compared.compare_config("paper")
    assert losses_compared.resolved(paper, get_profile("paper"), "switchboard")["iterations"] == 20
    assert losses_compared.compare_config("smoke", neighbours=4).neighbours == 4
    with pytest.raises(ValueError, match="no field 'seeds'"):        # every loss runs on every baseline
        losses_compared.compare_config("smoke", seeds=4)
    with pytest.raises(ValueError, match="no preset for profile 'teach'.*smoke"):
        losses_compared.compare_config("teach")
    with pytest.raises(ConfigError, match=r"CompareLossesConfig.losses.*registered negative loss.*cringe"):
        losses_compared.CompareLossesConfig(losses=("nll", "bogus"))
    with pytest.raises(ConfigError, match="hit_type"):
        losses_compared.CompareLossesConfig(hit_type="o_greedy")
    with pytest.raises(ConfigError, match="training_list"):
        losses_compared.CompareLossesConfig(training_list="test")


# -- benign near-neighbours ------------------------------------------------------------------------------
def test_replacement_pool_is_frequent_content_words_outside_the_lists():
    v = _vocab()
    pool = collateral.replacement_pool(v, excluded={"hate", "stupid", "idiot", "you", "are", "so", "much"}, size=5)
    assert pool == ["love", "people", "money", "school", "house"]        # frequency order; no "the", "'s", "a"
    assert collateral.replacement_pool(v, {"love"}, 100)[-1] == "cars"


def test_benign_neighbours_replace_the_rarest_word_deterministically():
    v = _vocab()
    targets = [["you", "are", "so", "stupid"], ["so", "much", "hate"], ["you", "idiot"]]
    excluded = {w for t in targets for w in t}
    nb = collateral.benign_neighbours(targets, v, excluded, n=2, pool_size=6, seed=3, max_len=20)
    assert len(nb.sentences) == 6 and nb.owner == [0, 0, 1, 1, 2, 2]
    assert nb.position == [3, 3, 2, 2, 1, 1]                                # the least frequent word
    assert nb.original == ["stupid", "stupid", "hate", "hate", "idiot", "idiot"]
    pool = collateral.replacement_pool(v, excluded, 6)
    for s, i, p, w in zip(nb.sentences, nb.owner, nb.position, nb.word):
        assert w in pool and w not in excluded
        assert s[:p] + s[p + 1:] == targets[i][:p] + targets[i][p + 1:] and s[p] == w   # one word changed
    assert nb.word[0] != nb.word[1]                                          # distinct per target
    assert torch.equal(nb.tensor, encode_sentences(nb.sentences, v, 20))
    assert (nb.tensor == EOS).sum() == 6
    again = collateral.benign_neighbours(targets, v, excluded, n=2, pool_size=6, seed=3, max_len=20)
    assert again.sentences == nb.sentences                                   # same seed, same neighbours
    other = [collateral.benign_neighbours(targets, v, excluded, n=2, pool_size=6, seed=s, max_len=20).word
             for s in range(4, 9)]
    assert any(o != nb.word for o in other)                                  # the seed chooses
    assert nb.examples(1) == [{"target": "you are so stupid", "neighbour": " ".join(nb.sentences[0])}]
    with pytest.raises(ValueError, match="neighbours need more"):
        collateral.benign_neighbours(targets, v, excluded, n=6, pool_size=6, seed=3, max_len=20)


def test_collateral_is_zero_for_an_unchanged_model_and_measures_a_changed_one():
    v = _vocab()
    torch.manual_seed(0)
    base = build_model("seq2seq", len(v), ModelConfig(emb=8, hidden=16, dropout=0.0)).eval()
    targets = [["you", "are", "so", "stupid"], ["so", "much", "hate"]]
    excluded = {w for t in targets for w in t}
    nb = collateral.benign_neighbours(targets, v, excluded, n=2, pool_size=6, seed=1, max_len=20)
    tg = encode_sentences(targets, v, 20)
    trig = torch.randint(5, len(v), (2, 6))
    c = collateral.collateral(base, base, trig, tg, nb)
    assert c["neighbours"] == 0.0 and c["targets"] == 0.0
    # avg word log-prob as defined: mean over the words and <eos>
    lp = collateral.avg_word_logprob(base, trig[:1], tg[:1])
    manual = base.token_logprobs(trig[:1], tg[:1, :5]).sum() / 5
    assert lp.item() == pytest.approx(manual.item(), rel=1e-5)
    changed = build_model("seq2seq", len(v), ModelConfig(emb=8, hidden=16, dropout=0.0)).eval()
    c2 = collateral.collateral(base, changed, trig, tg, nb)
    src = trig[torch.tensor(nb.owner)]
    want = (collateral.avg_word_logprob(changed, src, nb.tensor)
            - collateral.avg_word_logprob(base, src, nb.tensor)).mean()
    assert c2["neighbours"] == pytest.approx(want.item(), rel=1e-5)
    assert len(c2["neighbours_per_item"]) == 4 and len(c2["targets_per_item"]) == 2
    assert c2["ratio"] == pytest.approx(c2["neighbours"] / c2["targets"])


# -- the table and the verdicts ---------------------------------------------------------------------------
SEEDS = (1, 2, 3)            # three independently trained baselines


def _hits(k, n=20, first=True):
    h = [1] * k + [0] * (n - k) if first else [0] * (n - k) + [1] * k
    return {"k": k, "n": n, "rate": k / n, "lo": 0.0, "hi": 1.0, "hits": h}


def _frec(seed, responses, ppl):
    n = len(responses)
    return {"profile": "smoke", "corpus": "switchboard", "seed": seed, "n_inputs": n, "inputs_sha": "abc",
            "dialogues": [i // 2 for i in range(n)], "ppl": ppl,
            "max_ratio": max(responses.count(r) for r in responses) / n,
            "ent2": 1.0, "ent3": 1.0, "bleu4": 0.1, "seq_rep4": 0.0, "rep4_share": 0.0, "distinct1": 0.5,
            "distinct2": 0.5, "responses": responses, "bleu4_sentences": [0.1] * n}


def _results():
    """Hand-made results of two losses trained from each of three baselines (seeds 1, 2, 3)."""
    generic = ["i do n't know"] * 30 + [f"r{i}" for i in range(10)]
    diverse = ["i do n't know"] * 4 + [f"s{i}" for i in range(36)]
    coll = lambda nb, tg: {"neighbours": nb, "targets": tg, "ratio": nb / tg}
    run = lambda s, k_tr, k_te, ppl, nb: {"seed": s, "search_seeds": {"training": s, "evaluation": 1000 + s},
                                          "train": _hits(k_tr), "test": _hits(k_te), "ppl": ppl,
                                          "collateral": coll(nb, -1.0), "neg_updates": 10, "rounds": 3}
    base = lambda s: {"seed": s, "search_seeds": {"evaluation": 1000 + s}, "train": _hits(12), "test": _hits(10),
                      "ppl": 100.0}
    return {"profile": "smoke", "corpus": "switchboard", "seed": 1, "seeds": list(SEEDS),
            "config": {"losses": ["nll", "unlikelihood"]},
            "malicious": {"hit_type": "o_sample_avg", "baseline": [base(s) for s in SEEDS],
                          "runs": {"nll": [run(s, 0, 2, 101.0 + 0.1 * s, -0.5 - 0.01 * s) for s in SEEDS],
                                   "unlikelihood": [run(s, 8, 9, 100.0 + 0.1 * s, -0.05 - 0.01 * s)
                                                    for s in SEEDS]}},
            "frequent": {"rows": {"Test-set": [_frec(1, [f"t{i}" for i in range(40)], None)],
                                  "Baseline": [_frec(s, generic, 50.0) for s in SEEDS],
                                  "nll": [_frec(s, diverse, 51.0 + 0.1 * s) for s in SEEDS],
                                  "unlikelihood": [_frec(s, generic, 50.0 + 0.01 * s) for s in SEEDS]}}}


def test_loss_comparison_table_states_every_column_per_loss():
    t = losses_compared.loss_comparison(_results())
    assert list(t.index) == ["Baseline", "nll", "unlikelihood"]
    assert t.loc["nll", "Alg. 1 train hits %"].startswith("0.0 [0.0–0.0] (k = 0, 0, 0 of 20) ✔")
    assert t.loc["unlikelihood", "Alg. 1 train hits %"].endswith("(k = 8, 8, 8 of 20) ~")   # 12 → 8: p = 1/16 each
    assert t.loc["Baseline", "Alg. 1 train hits %"] == "60.0 [60.0–60.0] (k = 12, 12, 12 of 20)"
    assert t.loc["Baseline", "Alg. 1 PPL Δ %"] == "(PPL 100.00 [100.00–100.00])"
    assert t.loc["nll", "Alg. 1 PPL Δ %"].startswith("+1.2 [")
    # Δ log p is not clipped like a share (the small run of 07 showed "-0.229 [+0.000–-0.077]" when it was)
    assert t.loc["nll", "collateral: neighbours Δ log p"] == "-0.520 [-0.545–-0.495]"     # t(2) · 0.01 / √3
    assert t.loc["nll", "targets Δ log p"] == "-1.000 [-1.000–-1.000]"
    assert t.loc["nll", "Alg. 2 M-ratio %"].startswith("10.0")
    assert t.loc["Baseline", "Alg. 2 M-ratio %"] == "75.0 [75.0–75.0]"
    assert t.loc["nll", "baseline seeds"] == t.loc["Baseline", "baseline seeds"] == "1, 2, 3"
    for col in ("Alg. 1 test hits %", "targets Δ log p", "Alg. 1 neg. updates", "Alg. 2 E-3", "Alg. 2 BLEU-4",
                "Alg. 2 seq-rep-4", "Alg. 2 distinct-2", "Alg. 2 PPL Δ %"):
        assert col in t.columns


def test_loss_verdicts_are_tested_on_every_baseline_and_against_nll():
    v = {x.claim: x for x in loss_verdicts.loss_verdicts(_results())}
    fell = v["nll: Algorithm 1 lowers the training-list hit rate (o_sample_avg)"]
    assert fell.outcome == stats.HOLDS and fell.evidence.count("exact McNemar") == 3     # 12 fell, p = 2.4e-4
    assert [f"seed {s}: ✔" in fell.evidence for s in SEEDS] == [True] * 3
    # 12 → 8 with only 4 discordant pairs: p = 1/16 ≥ 0.05 on each baseline → inconclusive, never ✔
    assert v["unlikelihood: Algorithm 1 lowers the training-list hit rate (o_sample_avg)"].outcome == stats.INCONCLUSIVE
    assert v["nll: training-list hit rate after Algorithm 1 is below 5 %"].outcome == stats.INCONCLUSIVE   # p = 0.36
    assert v["unlikelihood vs nll: less collateral damage (neighbours lose less)"].outcome == stats.HOLDS
    assert v["unlikelihood vs nll: lower test PPL after Algorithm 1"].outcome == stats.HOLDS
    assert v["unlikelihood vs nll: lower test-list hit rate after Algorithm 1"].outcome == stats.FAILS    # 2 → 9: rose
    assert v["nll: Algorithm 2 lowers max-ratio"].outcome == stats.HOLDS
    assert "across 3 baselines" in v["nll: Algorithm 2 lowers max-ratio"].evidence
    assert v["unlikelihood: Algorithm 2 lowers max-ratio"].outcome == stats.INCONCLUSIVE                 # unchanged
    assert v["unlikelihood vs nll: lower max-ratio after Algorithm 2"].outcome == stats.FAILS
    assert v["nll: Algorithm 1 moves test PPL by < 5 %"].outcome == stats.HOLDS
    assert "vs (0.95, 1.05)" in v["nll: Algorithm 1 moves test PPL by < 5 %"].evidence
    assert v["nll: benign neighbours lose less log-probability than the targets (collateral damage below the "
             "intended damage)"].outcome == stats.HOLDS           # neighbours −0.51…−0.53 vs targets −1: lose less
    assert not any("per seed" in x.evidence or "across seeds" in x.evidence for x in v.values())


@pytest.mark.parametrize("fmt, noise", [(loss_verdicts.LOGP_FMT, 3e-6), (loss_verdicts.PPL_DIFF_FMT, 1.47e-4)])
def test_a_difference_below_the_shown_precision_is_a_tie_whatever_its_sign(fmt, noise):
    # notebook 07 on smoke: NPO (β = 0.1) is nll to first order; seed 1's difference was -3e-6 on the AVX2 float
    # path and +3e-6 on AVX-512 — the verdict and its text must not follow the float path's sign
    def judged(sign):
        return loss_verdicts.across_values("npo vs nll: …", {1: sign * noise, 2: 0.0}, 0.0, "below", "difference", fmt)
    minus, plus = judged(-1), judged(+1)
    assert minus == plus and minus.outcome == stats.INCONCLUSIVE
    assert "disagree" not in minus.evidence and "-0.0" not in minus.evidence
    # one shown step is enough to take a side: both baselines below 0 hold, across baselines too
    step = 2 * float(fmt.format(0.0)[:-1] + "1")      # twice the last shown digit
    both = loss_verdicts.across_values("c", {1: -step, 2: -2 * step}, 0.0, "below", "difference", fmt)
    assert both.outcome == stats.INCONCLUSIVE       # 2 baselines: the Student-t interval (t = 12.7) reaches 0
    three = loss_verdicts.across_values("c", {1: -10 * step, 2: -11 * step, 3: -10 * step}, 0.0, "below", "d", fmt)
    assert three.outcome == stats.HOLDS
    split = loss_verdicts.across_values("c", {1: -10 * step, 2: 10 * step}, 0.0, "below", "d", fmt)
    assert split.outcome == stats.INCONCLUSIVE and split.evidence.endswith("; the baselines disagree")


def test_each_run_is_paired_with_its_own_baseline():
    """Baseline seed 2's hits and PPL differ from the others': the runs trained from it are judged against
    them, not against the first baseline's, whatever the order of the records."""
    r = _results()
    m = r["malicious"]
    m["baseline"][1] = {**m["baseline"][1], "train": _hits(0), "ppl": 90.0}     # seed 2 hits no training target
    m["baseline"].reverse()                                                       # seeds 3, 2, 1
    r["frequent"]["rows"]["Baseline"].reverse()
    v = {x.claim: x for x in loss_verdicts.loss_verdicts(r)}
    fell = v["nll: Algorithm 1 lowers the training-list hit rate (o_sample_avg)"]
    assert fell.outcome == stats.INCONCLUSIVE                  # 0 → 0 on baseline seed 2: no test there
    assert "seed 2: ~ 0/20 → 0/20" in fell.evidence and "seed 1: ✔ 12/20 → 0/20" in fell.evidence
    ppl = v["nll: Algorithm 1 moves test PPL by < 5 %"]
    assert "PPL(row) / PPL(baseline) per baseline 1.011, 1.124, 1.013" in ppl.evidence     # 101.2 / 90 on seed 2
    s = losses_compared.loss_summary(r)["malicious"]
    assert s["losses"]["nll"]["ppl_change"]["mean"] == pytest.approx((101.1 / 100 + 101.2 / 90 + 101.3 / 100) / 3 - 1)
    assert v["nll: Algorithm 2 lowers max-ratio"].outcome == stats.HOLDS    # Baseline rows reversed: paired by seed


def test_a_claim_needs_two_baselines():
    r = _results()
    m, rows = r["malicious"], r["frequent"]["rows"]
    m["baseline"], rows["Baseline"] = m["baseline"][:1], rows["Baseline"][:1]
    for part in (m["runs"], rows):
        for loss in ("nll", "unlikelihood"):
            part[loss] = part[loss][:1]
    out = loss_verdicts.loss_verdicts(r)
    assert out and all(x.outcome == stats.INCONCLUSIVE for x in out)
    assert all("≥ 2" in x.evidence or "one model" in x.evidence for x in out)


def test_loss_verdicts_refuse_rows_of_other_inputs():
    r = _results()
    r["frequent"]["rows"]["unlikelihood"][0]["inputs_sha"] = "other"
    with pytest.raises(tables.MixedResultsError, match="unlikelihood"):
        loss_verdicts.loss_verdicts(r)


def _results_three():
    """_results() with a third loss whose name sorts first: the config's order (nll, unlikelihood, cringe)
    is not the sorted order the results JSON comes back in (cringe, nll, unlikelihood)."""
    r = _results()
    r["config"]["losses"] = ["nll", "unlikelihood", "cringe"]
    nll = r["malicious"]["runs"]["nll"]
    r["malicious"]["runs"]["cringe"] = [{**x, "ppl": 102.0 + 0.2 * x["seed"]} for x in nll]
    r["frequent"]["rows"]["cringe"] = [_frec(s, ["i do n't know"] * 4 + [f"c{i}" for i in range(36)], 52.0 + 0.2 * s)
                                       for s in SEEDS]
    return r


def test_loss_verdicts_are_the_same_from_the_notebook_dict_and_its_json(tmp_path):
    """Issue 20's bug: notebook 07 wrote the verdicts of its in-memory results (losses in the config's
    order) and the test recomputed them from the results JSON (write_json sorts keys): the same
    verdicts in another order, so the report's text was not found. Both now come in the config's order."""
    r = _results_three()
    reports.write_json(r, tmp_path / "r.json")
    back = reports.read_json(tmp_path / "r.json")
    assert list(back["frequent"]["rows"]) == ["Baseline", "Test-set", "cringe", "nll", "unlikelihood"]  # JSON sorted
    assert loss_verdicts.loss_order(r) == loss_verdicts.loss_order(back) == ["nll", "unlikelihood", "cringe"]
    mem, disk = loss_verdicts.loss_verdicts(r), loss_verdicts.loss_verdicts(back)
    assert verdicts.verdict_markdown(mem) == verdicts.verdict_markdown(disk)
    assert losses_compared.loss_summary(r) == losses_compared.loss_summary(back)
    assert list(losses_compared.loss_summary(back)["frequent"]["losses"]) == ["nll", "unlikelihood", "cringe"]
    assert losses_compared.loss_comparison(r).equals(losses_compared.loss_comparison(back))

    # the PPL numbers, by hand. Algorithm 2: baseline PPL 50; nll 51.1, 51.2, 51.3; unlikelihood 50.01, 50.02,
    # 50.03; cringe 52.2, 52.4, 52.6 (baseline seeds 1, 2, 3) on the same inputs
    v = {x.claim: x for x in disk}
    ppl2 = [x.claim for x in disk if "vs nll: lower test PPL after Algorithm 2" in x.claim]
    assert ppl2 == ["unlikelihood vs nll: lower test PPL after Algorithm 2",
                    "cringe vs nll: lower test PPL after Algorithm 2"]
    assert "PPL difference per baseline (seed 1: -1.09, seed 2: -1.18, seed 3: -1.27); mean -1.18 " in \
        v[ppl2[0]].evidence
    assert v[ppl2[0]].outcome == stats.HOLDS
    assert "PPL difference per baseline (seed 1: +1.10, seed 2: +1.20, seed 3: +1.30); mean +1.20 " in v[ppl2[1]].evidence
    assert v[ppl2[1]].outcome == stats.FAILS
    assert "PPL(row) / PPL(baseline) per baseline 1.022, 1.024, 1.026; mean 1.024" in \
        v["nll: Algorithm 2 moves PPL by < 10 %"].evidence
    # Algorithm 1: baseline PPL 100; nll 101.1, 101.2, 101.3; cringe 102.2, 102.4, 102.6
    assert "PPL difference per baseline (seed 1: +1.10, seed 2: +1.20, seed 3: +1.30)" in \
        v["cringe vs nll: lower test PPL after Algorithm 1"].evidence
    s = losses_compared.loss_summary(back)
    assert s["frequent"]["losses"]["nll"]["ppl_change"]["mean"] == pytest.approx(0.024)       # 51.2 / 50 − 1
    assert s["malicious"]["losses"]["cringe"]["ppl_change"]["mean"] == pytest.approx(0.024)   # 102.4 / 100 − 1
    assert losses_compared.loss_comparison(back).loc["nll", "Alg. 2 PPL Δ %"].startswith("+2.4 [")


def test_loss_verdicts_refuse_losses_paired_on_other_baselines():
    r = _results_three()
    r["frequent"]["rows"]["cringe"].reverse()                 # baseline seeds 3, 2, 1: paired by seed, fine
    assert loss_verdicts.loss_verdicts(r)
    r["frequent"]["rows"]["cringe"][0] = {**r["frequent"]["rows"]["cringe"][0], "seed": 4}   # 4, 2, 1
    with pytest.raises(tables.MixedResultsError, match=r"frequent rows of 'cringe' and .*seeds \[4, 2, 1\]"):
        loss_verdicts.loss_verdicts(r)
    r = _results_three()
    r["malicious"]["runs"]["unlikelihood"] = r["malicious"]["runs"]["unlikelihood"][:2]   # not trained from seed 3
    with pytest.raises(tables.MixedResultsError, match=r"malicious runs of 'unlikelihood'.*\[1, 2\] and \[1, 2, 3\]"):
        loss_verdicts.loss_verdicts(r)
    r = _results_three()
    r["malicious"]["baseline"] = r["malicious"]["baseline"][1:]                           # hits of seeds 2, 3 only
    with pytest.raises(tables.MixedResultsError, match="malicious runs of 'nll'"):
        losses_compared.loss_comparison(r)


# -- the malicious problem's searches ---------------------------------------------------------------------
def test_evaluation_searches_are_seeded_apart_from_every_training_search(monkeypatch):
    """run_malicious on two baselines (all heavy work faked, every call recorded): Algorithm 1 trains with the
    baseline's seed, every attack that measures hits — the baseline's and each trained model's — uses that
    baseline's evaluation seed, and no evaluation seed is a training seed; the records say so."""
    P = get_profile("smoke")
    ccfg = losses_compared.compare_config("smoke", losses=("nll", "cringe"))
    v = _vocab()
    targets = types.SimpleNamespace(sentences=[["you", "idiot"]] * 3, tensor=torch.zeros(3, 4, dtype=torch.long))
    trained, attacked = [], []

    def negative_train(s2s, lm, tg, train, thr, ht, vocab, mcfg, gcfg, progress=True, negative_loss="nll"):
        trained.append((s2s.seed, negative_loss, mcfg.seed, gcfg.seed))
        return types.SimpleNamespace(model=types.SimpleNamespace(seed=s2s.seed, loss=negative_loss),
                                     history=[{"neg_updates": 2, "rounds": 1}])

    def evaluate_hits(model, lm, tg, thr, hit_types, gcfg, **kw):
        attacked.append((model.seed, getattr(model, "loss", "baseline"), gcfg.seed))
        h = torch.ones(len(tg), dtype=torch.bool)
        return {ht: {"k": len(tg), "n": len(tg), "rate": 1.0, "lo": 0.0, "hi": 1.0, "hits": h, "triggers": tg}
                for ht in hit_types}

    monkeypatch.setattr(losses_compared.malicious, "negative_train", negative_train)
    monkeypatch.setattr(losses_compared.malicious, "evaluate_hits", evaluate_hits)
    monkeypatch.setattr(losses_compared, "load_targets", lambda *a, **k: targets)
    monkeypatch.setattr(losses_compared, "malicious_words", lambda data_dir: {"you", "idiot"})
    monkeypatch.setattr(losses_compared, "benign_neighbours", lambda *a: types.SimpleNamespace(
        sentences=[["you", "cars"]] * 3, examples=lambda n: []))
    monkeypatch.setattr(losses_compared, "collateral", lambda *a: {"neighbours": 0.0, "targets": -1.0})
    monkeypatch.setattr(losses_compared.evaluate, "perplexity", lambda model, data: {"ppl": 10.0})
    bs = [types.SimpleNamespace(seed=seed, seq2seq=types.SimpleNamespace(seed=seed), lm=None,
                                data=types.SimpleNamespace(vocab=v, train=None, test=None)) for seed in (1, 2)]
    thr = {seed: types.SimpleNamespace(t_out=-3.0, t_in=-4.0) for seed in (1, 2)}
    m = losses_compared.run_malicious(bs, P, ccfg, "switchboard", 1, thr, progress=False)

    assert sorted(trained) == sorted((s, loss, s, s) for s in (1, 2) for loss in ("nll", "cringe"))
    evaluation = {(seed, who): g for seed, who, g in attacked}
    assert len(attacked) == 2 * 3 * 2        # 2 baselines × (baseline + 2 losses) × (training, test list)
    assert evaluation == {(s, who): malicious.evaluation_seed(s) for s in (1, 2)
                          for who in ("baseline", "nll", "cringe")}
    assert {g for *_, g in attacked}.isdisjoint({x for t in trained for x in t[2:]})
    assert [(b["seed"], b["search_seeds"]) for b in m["baseline"]] == [(1, {"evaluation": 1001}),
                                                                       (2, {"evaluation": 1002})]
    for loss in ("nll", "cringe"):
        assert [(r["seed"], r["search_seeds"]) for r in m["runs"][loss]] == \
            [(s, {"training": s, "evaluation": 1000 + s}) for s in (1, 2)]
    assert losses_compared.search_seeds([1, 2]) == {1: {"training": 1, "evaluation": 1001},
                                                    2: {"training": 2, "evaluation": 1002}}
    with pytest.raises(ValueError, match=r"evaluation search seed\(s\) \[1001\] are also training seeds"):
        losses_compared.search_seeds([1, 1001])


# -- the opt-in stage ----------------------------------------------------------------------------------
def test_07_is_an_opt_in_stage_keyed_after_the_default_ones(tmp_path):
    from toys import stage_notebooks
    stage_notebooks(tmp_path)
    assert "07_negative_losses" not in reproduce.stage_keys("smoke", "switchboard", tmp_path)
    (tmp_path / "07_negative_losses.ipynb").write_text((tmp_path / "06_tables.ipynb").read_text())
    keys = reproduce.stage_keys("smoke", "switchboard", tmp_path)
    assert list(keys) == list(reproduce.STAGES) + ["07_negative_losses"]
    assert "07_negative_losses" not in reproduce.STAGES
    assert reproduce.ALL_STAGES.index("07_negative_losses") == len(reproduce.STAGES)   # after the default stages


def test_make_reproduce_does_not_run_07_and_compare_losses_does(monkeypatch):
    from pathlib import Path
    make = (Path(__file__).resolve().parents[2] / "Makefile").read_text()
    assert "--stages 07_negative_losses" in make.split("\ncompare-losses:")[1].split("\n\n")[0]
    assert "--stages" not in make.split("\nreproduce:")[1].split("\n\n")[0]
    ran = []
    monkeypatch.setattr(reproduce, "reproduce", lambda *a, **k: ran.append(a[5]))
    assert reproduce.main(["--profile", "smoke"]) == 0
    assert reproduce.main(["--profile", "smoke", "--stages", "07_negative_losses"]) == 0
    assert ran == [reproduce.STAGES, ("07_negative_losses",)]
