"""ntlib.results.plots: one colour per model in every notebook, titles with corpus / profile / n, bar values."""
import os
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from ntlib.results import plots  # noqa: E402


def test_the_baseline_has_one_colour_whatever_a_notebook_calls_it():
    names = ("Baseline", "baseline", "seq2seq", "Baseline seed=3")
    assert {plots.model_colour(n) for n in names} == {plots.MODEL_COLOURS["baseline"]}


def test_a_model_keeps_its_colour_across_seeds_hit_types_and_notebooks():
    assert plots.model_colour("+neg-train (1%) seed=2") == plots.model_colour("+neg-train (1%)")
    assert plots.model_colour("+neg-tr(0.5k) o_sample_min") == plots.model_colour("+neg-tr(0.5k) io_sample_avg")
    assert plots.model_colour("neg-train (FWA)") == plots.model_colour("+neg-tr(0.5k) o_sample_min")  # same run
    assert plots.model_colour("+GAN") == plots.MODEL_COLOURS["gan"]
    assert plots.model_colour("+MMI") == plots.MODEL_COLOURS["mmi"]


def test_different_models_of_one_figure_get_different_colours():
    for group in (("Test-set", "Baseline", "+neg-train (10%)", "+neg-train (1%)", "+GAN", "+MMI"),
                  ("baseline", "neg-train (FWA)", "neg-train (no FWA)"),
                  ("+neg-tr(0.5k)", "+neg-tr(1k)", "+neg-tr(2.5k)"),
                  ("lm", "seq2seq")):
        colours = [plots.model_colour(n) for n in group]
        assert len(set(colours)) == len(colours), group


def test_an_unknown_model_gets_the_same_colour_in_another_process():
    here = plots.model_colour("+some new model")
    code = "from ntlib.results import plots; print(plots.model_colour('+some new model'))"
    there = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={"PYTHONHASHSEED": "123", **os.environ}).stdout.strip()
    assert here == there and here.startswith("#")


def test_title_names_corpus_profile_and_n():
    t = plots.title("hit rate", "switchboard", "smoke", 1234, "targets")
    assert t == "hit rate\nswitchboard, profile smoke, n = 1,234 targets"
    assert plots.title("hit rate", "ubuntu", "teach", "8 / 16", "targets per list").endswith("n = 8 / 16 targets per list")


def test_label_bars_prints_every_value_near_zero_ones_too():
    fig, ax = plt.subplots()
    ax.barh(["a", "b"], [50.0, 0.004])
    plots.label_bars(ax, "{:.2f} %")
    texts = [t.get_text() for t in ax.texts]
    assert texts == ["50.00 %", "0.00 %"]
    plt.close(fig)


def test_integer_ticks_and_legend_outside():
    fig, ax = plt.subplots()
    ax.plot([1, 2, 3], [0.1, 0.2, 0.3], label="baseline")
    ax.set_xlim(0.8, 3.2)
    plots.integer_ticks(ax)
    fig.canvas.draw()
    assert all(float(t).is_integer() for t in ax.get_xticks())
    fig2, ax2 = plt.subplots()
    ax2.plot([1], [0.25], "o")                          # one iteration: no 0.96, 0.98, ... ticks
    plots.integer_ticks(ax2)
    fig2.canvas.draw()
    visible = [t for t in ax2.get_xticks() if ax2.get_xlim()[0] <= t <= ax2.get_xlim()[1]]
    assert visible and all(float(t).is_integer() for t in visible) and 1 in visible
    plt.close(fig2)
    leg = plots.legend_outside(ax)
    fig.canvas.draw()
    box, axes_box = leg.get_window_extent(), ax.get_window_extent()
    assert box.x0 >= axes_box.x1                       # beside the data, not over it
    with pytest.raises(ValueError, match="right' or 'below"):
        plots.legend_outside(ax, where="inside")
    plt.close(fig)
