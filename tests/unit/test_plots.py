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


def test_integer_axis_ends_at_the_last_value_and_legend_outside():
    fig, ax = plt.subplots()
    ax.plot([1, 2], [0.1, 0.2], "o", label="baseline")
    plots.integer_axis(ax, 1, 2)                       # two epochs: ticks 1, 2 and no empty "3"
    fig.canvas.draw()
    assert list(ax.get_xticks()) == [1, 2] and ax.get_xlim()[0] < 1 and 2 < ax.get_xlim()[1] < 3
    fig2, ax2 = plt.subplots()
    plots.integer_axis(ax2, 1, 3, after="after")      # one more labelled position after the last iteration
    assert list(ax2.get_xticks()) == [1, 2, 3, 4] and [t.get_text() for t in ax2.get_xticklabels()][-1] == "after"
    assert ax2.get_xlim()[1] < 5
    plt.close(fig2)
    leg = plots.legend_outside(ax)
    fig.canvas.draw()
    box, axes_box = leg.get_window_extent(), ax.get_window_extent()
    assert box.x0 >= axes_box.x1                       # beside the data, not over it
    with pytest.raises(ValueError, match="right' or 'below"):
        plots.legend_outside(ax, where="inside")
    plt.close(fig)


def test_thousands_dodge_and_series_colours():
    fig, ax = plt.subplots()
    ax.bar([0, 1], [1500, 12000])
    plots.thousands(ax, "y")
    fig.canvas.draw()
    assert "12,000" in [t.get_text() for t in ax.get_yticklabels()]
    plt.close(fig)
    assert plots.dodge(1) == [0.0] and plots.dodge(3, 0.2) == pytest.approx([-0.1, 0.0, 0.1])
    assert len(set(plots.series_colours(6))) == 6
    with pytest.raises(ValueError, match="at most"):
        plots.series_colours(99)
