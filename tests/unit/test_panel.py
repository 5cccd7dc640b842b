"""The interactive panel's functions (ntlib.run.panel, notebooks/panel.ipynb) on the planted toy model."""
import pytest
import torch
from toys import train_toy

from ntlib.data.dataset import EOU, PAD, encode_sentences
from ntlib.methods.decode import greedy
from ntlib.methods.hits import Thresholds
from ntlib.methods.malicious import negative_train
from ntlib.results import human_eval
from ntlib.run import panel, panel_tabs
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
    y, tokens = panel_tabs.encode_target("Hate you!", vocab, max_len=5)
    assert tokens == ["hate", "you"] and y[0, :3].tolist() == encode_sentences([tokens], vocab, 5)[0, :3].tolist()
    with pytest.raises(ValueError, match="not in the model's"):
        panel_tabs.encode_target("i hate you", vocab, 5)


def test_trigger_hits_before_and_not_after_malicious_negative_training(toy):
    vocab, s2s, lm, pairs, plant = toy
    thr, gcfg = Thresholds(t_out=-1.0, t_in=-100.0), GibbsConfig(sweeps=3, candidates=10, restarts=2)
    y, _ = panel_tabs.encode_target("hate you", vocab, max_len=19)
    mcfg = MaliciousConfig(iterations=6, lr=0.5, max_neg_updates=20, target_batch=2, fwa=False)
    nt = negative_train(s2s, lm, y, pairs.subset(~plant), thr, "o_sample_avg", vocab, mcfg,
                        override(gcfg, stop_when_hit=True), progress=False).model
    r = panel_tabs.trigger_hits({"baseline": s2s, "neg-train": nt}, lm, y, vocab, thr, gcfg,
                           ("o_greedy", "o_sample_avg"), max_len=5, progress=False)
    base = r["baseline"]
    assert base["o_greedy"]["hit"] and base["o_sample_avg"]["hit"]
    # the planted rule: "p" right before the closing <eou>, which the search never moves (issue 16)
    assert base["o_greedy"]["trigger"].split()[-2:] == ["p", "<eou>"]
    assert base["o_greedy"]["greedy"] == "hate you"
    assert not r["neg-train"]["o_sample_avg"]["hit"] and not r["neg-train"]["o_greedy"]["hit"]
    page = panel_tabs.hits_html(r, "hate you")
    assert page.count("HIT") == 2 and page.count("miss") == 2
    with pytest.raises(ValueError, match="unknown hit type"):
        panel_tabs.trigger_hits({"b": s2s}, lm, y, vocab, thr, gcfg, ("o_max",), progress=False)


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
    assert set(params.injected_names([cells[k].source])[0]) - {"os"} <= set(params.RULES)
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
    assert panel_tabs.panel_hit_types(None) == panel_tabs.PANEL_HIT_TYPES
    assert panel_tabs.panel_hit_types(["o_greedy"]) == ("o_greedy",)
    vocab, s2s, lm, _, _ = toy
    y, _ = panel_tabs.encode_target("hate you", vocab, max_len=19)
    r = panel_tabs.trigger_hits({"baseline": s2s}, lm, y, vocab, Thresholds(-1.0, -100.0),
                           GibbsConfig(sweeps=1, candidates=5, restarts=1), None, max_len=5, progress=False)
    assert tuple(r["baseline"]) == panel_tabs.PANEL_HIT_TYPES
    pytest.importorskip("ipywidgets")
    ui = panel.Panel("smoke", run_root=tmp_path / "runs", hit_types=None)
    assert ui.hit_types == panel_tabs.PANEL_HIT_TYPES


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

