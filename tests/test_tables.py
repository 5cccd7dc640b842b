"""ntlib.tables: Table 3 cells and the paper's claims checked against a hand-made results dict."""
from ntlib import tables


from test_malicious_verdicts import malicious_results   # hand-made notebook-03 results


def test_table3_rows_are_the_runs_present():
    t = tables.table3({"malicious": malicious_results()}, "switchboard")
    assert list(t.index) == ["Baseline", "+neg-tr(0.5k)", "+neg-tr(2.5k)"]
    assert t.loc["+neg-tr(0.5k)", "o-sample-avg train"].startswith("0.0 [0–")
    assert " 0/20 " in t.loc["+neg-tr(0.5k)", "o-sample-avg train"]


def frequent_results(nt_ratio=0.2, nt_ent3=3.0, nt_ppl=52.0, nt_bleu=0.10, gan_ratio=0.5, mmi_ent3=2.0):
    """Hand-made results of notebooks 02, 04 and 05 (the schema tables.py reads)."""
    baselines = {"lm": {"ppl": 60.0, "nll": 4.09}, "seq2seq": {"ppl": 50.0, "nll": 3.91},
                 "test_set": {"max_ratio": 0.1, "ent2": 8.0, "ent3": 9.0},
                 "baseline": {"max_ratio": 0.6, "ent2": 1.5, "ent3": 1.0},
                 "bleu4": 0.10, "corpus_bleu4": 0.01}
    frequent = {"rows": {
        "Baseline": {"ppl": 50.0, "max_ratio": 0.6, "ent2": 1.5, "ent3": 1.0, "bleu4": 0.10},
        "+neg-train (10%)": {"ppl": 51.0, "max_ratio": 0.4, "ent2": 2.0, "ent3": 2.0, "bleu4": 0.10},
        "+neg-train (1%)": {"ppl": nt_ppl, "max_ratio": nt_ratio, "ent2": 3.0, "ent3": nt_ent3,
                            "bleu4": nt_bleu, "corpus_bleu4": 0.005}}}
    gan_mmi = {"rows": {"+GAN": {"ppl": 49.0, "max_ratio": gan_ratio, "ent2": 1.6, "ent3": 1.1},
                        "+MMI": {"ppl": None, "max_ratio": 0.45, "ent2": 2.0, "ent3": mmi_ent3}}}
    return {"baselines": baselines, "frequent": frequent, "gan_mmi": gan_mmi}


def test_table4_and_9_rows_and_the_best_neg_train_row():
    res = frequent_results()
    assert list(tables.table4_rows(res)) == ["Test-set", "Baseline", "+GAN", "+MMI", "+neg-train (10%)",
                                             "+neg-train (1%)"]
    t4 = tables.table4(res, "switchboard")
    assert t4.loc["Baseline", "M-ratio %"] == "60.0 (37.4)" and t4.loc["Test-set", "PPL"].startswith("–")
    t9 = tables.table9(res, "switchboard")           # the lowest max-ratio neg-train row is Table 9's
    assert list(t9.index) == ["Baseline", "Neg-train (1%)"]
    assert t9.loc["Neg-train (1%)", "BLEU-4"] == "0.100 (0.475)"


def test_table8_4_9_verdicts_follow_the_numbers():
    v = tables.verdicts(frequent_results())
    assert v["Table 8"] == [("the seq2seq's test PPL is lower than the LM's", True)]
    t4 = dict(v["Table 4"])
    assert t4["greedy baseline max-ratio is far above the test set's (frequent-response problem)"]
    assert t4["negative training (+neg-train (1%)) cuts max-ratio by ≥ 50 % relative"]        # 0.2 ≤ 0.3
    assert t4["negative training (+neg-train (1%)) raises Ent-3"]
    assert t4["negative training (+neg-train (1%)) moves PPL by < 10 %"]                        # +4 %
    assert t4["the vanilla GAN does not lower max-ratio much (< 25 % relative)"]                 # 0.5 > 0.45
    assert t4["MMI-antiLM raises Ent-3 over the baseline"]
    assert dict(v["Table 9"])["negative training (+neg-train (1%)) does not lower BLEU-4 by more "
                              "than 10 % relative"]
    # each claim flips when its number crosses the threshold
    v = tables.verdicts(frequent_results(nt_ratio=0.31, nt_ent3=0.9, nt_ppl=56.0, nt_bleu=0.089,
                                         gan_ratio=0.44, mmi_ent3=1.0))
    assert not any(ok for claim, ok in v["Table 4"][1:]), v["Table 4"]
    assert not v["Table 9"][0][1]
    md = tables.verdict_markdown(v["Table 9"])
    assert md.startswith("- ✘ does not hold: negative training")
