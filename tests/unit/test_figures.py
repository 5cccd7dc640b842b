"""ntlib.results.figures: every figure of notebooks 01–05 and 07 built from small synthetic inputs — its title
names corpus, profile and n, its axes are labelled with units, integer axes end at the last epoch / iteration,
distinct series get distinct colours and every tick is readable (issue 30, point 5)."""
import importlib
import inspect
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from ntlib.results import figures, loss_tables  # noqa: E402

C, P = "switchboard", "smoke"


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _titles(fig) -> str:
    return " ".join([fig._suptitle.get_text() if fig._suptitle else ""] + [a.get_title() for a in fig.axes])


def _check_common(fig, n: str, x: bool = True, y: bool = True):
    """Title with corpus, profile and n; the figure's numeric axes labelled (``x`` / ``y`` False: that axis
    shows words, e.g. responses), each label with a unit in brackets; no tick label under 9 pt."""
    fig.canvas.draw()
    text = _titles(fig)
    assert f"{C}, profile {P}, n = {n}" in text, text
    xl = [a.get_xlabel() for a in fig.axes if a.get_xlabel()]
    yl = [a.get_ylabel() for a in fig.axes if a.get_ylabel()]
    assert (bool(xl) or not x) and (bool(yl) or not y), (xl, yl)
    assert all(re.search(r"\(.+\)", lab) or lab in {"epoch", "G update", "iteration of Algorithm 1"}
               or lab.startswith("mini-batch") for lab in xl + yl), xl + yl
    for ax in fig.axes:
        for t in ax.get_xticklabels() + ax.get_yticklabels():
            if t.get_text():
                assert t.get_fontsize() >= 9, (t.get_text(), t.get_fontsize())


def _visible_xticks(ax):
    lo, hi = ax.get_xlim()
    return [t for t in ax.get_xticks() if lo <= t <= hi]


def _line_colours(ax) -> dict:
    return {line.get_label(): to_hex(line.get_color()) for line in ax.get_lines()
            if not line.get_label().startswith("_")}


def test_baselines_curves_end_at_the_last_epoch():
    h = lambda d: {"epoch": [1, 2], "train_loss": [4.8 + d, 4.2 + d], "valid_ppl": [70 + d, 60 + d]}
    fig = figures.baselines_curves({"lm": h(0), "seq2seq seed=1": h(0.1), "seq2seq seed=2": h(0.2)},
                                   corpus=C, profile=P, n_pairs=181029)
    _check_common(fig, "181,029")
    for ax in fig.axes:
        assert _visible_xticks(ax) == [1, 2]                     # no empty trailing "3"
        assert 2 < ax.get_xlim()[1] < 2.5 and 0.5 < ax.get_xlim()[0] < 1
    colours = _line_colours(fig.axes[0])
    assert colours["LM"] != colours["seq2seq, baseline seed 1"]
    markers = {line.get_marker() for line in fig.axes[0].get_lines()}
    assert len(markers) == 3                                      # seeds of one model: told apart by marker


def _series(seed, lst, ht, rates, final, n=20):
    hist = [{"iteration": i + 1, "rate": r, "lo": max(0, r - 0.1), "hi": min(1, r + 0.1)} for i, r in enumerate(rates)]
    return {"list": lst, "hit_type": ht, "seed": seed, "targets": n, "history": hist,
            "final": {"rate": final, "lo": max(0, final - 0.1), "hi": final + 0.1}}


def test_malicious_iterations_end_at_table3_and_dodge_their_error_bars():
    series = [_series(1, "train", "o_sample_avg", [0.4, 0.3, 0.2], 0.15), _series(2, "train", "o_sample_avg",
              [0.42, 0.31, 0.2], 0.14), _series(1, "train_2.5k", "o_sample_avg", [0.35, 0.2, 0.1], 0.08, 483),
              _series(1, "train", "io_sample_avg", [0.3, 0.2, 0.1], 0.05)]
    fig = figures.malicious_iterations(series, corpus=C, profile=P)
    _check_common(fig, "20 / 483")
    assert [a.get_title() for a in fig.axes] == ["o-sample-avg hits", "io-sample-avg hits"]
    ax = fig.axes[0]
    assert _visible_xticks(ax) == [1, 2, 3, 4]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "3", "after\n(Table 3)"]
    points = [line for line in ax.get_lines() if line.get_marker() not in ("_", "None", "")]   # no caps
    xs = [x for line in points for x in line.get_xdata()]
    lo, hi = ax.get_xlim()
    assert lo < min(xs) - 0.1 and max(xs) + 0.1 < hi < 4.6       # nothing clipped, nothing beyond "after"
    # the final point: Table 3's rate, at the position after the last iteration
    finals = [line for line in ax.get_lines() if list(line.get_linestyle()) == list(":")] or ax.get_lines()
    assert any(abs(line.get_xdata()[-1] - 4) < 0.3 and line.get_ydata()[-1] == pytest.approx(15.0) for line in finals)
    # dodged: at every iteration the three series sit at three different x
    at_one = sorted(x for line in points for x in line.get_xdata() if abs(x - 1) < 0.4)
    assert len(at_one) == 3 and min(b - a for a, b in zip(at_one, at_one[1:])) >= 0.1
    leg = fig.legends or [a.get_legend() for a in fig.axes if a.get_legend()]
    labels = [t.get_text() for t in leg[0].get_texts()]
    assert "Alg. 1 on the 0.5k list · baseline seed 1 (20 targets)" in labels
    assert not any("_" in lab or "neg-tr" in lab for lab in labels)        # words, not code names
    assert len(labels) == len(set(labels)) == 3                            # one legend, each series once
    colours = {c.get_label(): to_hex(c.lines[0].get_color()) for c in ax.containers}
    assert colours[labels[0]] != colours["Alg. 1 on the 2.5k list · baseline seed 1 (483 targets)"]


def _responses(spec: dict) -> list[str]:
    return [r for r, k in spec.items() for _ in range(k)]


def test_baselines_frequent_title_counts_the_rows_drawn():
    b1 = _responses({"yeah": 50, "uh-huh": 30, "right": 20})
    b2 = _responses({"yeah": 40, "i do n't know": 60})
    refs = _responses({"yeah": 10, **{f"r{i}": 1 for i in range(90)}})
    fig = figures.baselines_frequent(refs, {1: b1, 2: b2}, corpus=C, profile=P, n_inputs=100)
    _check_common(fig, "100", y=False)
    ax = fig.axes[0]
    rows = [t.get_text() for t in ax.get_yticklabels()]
    assert sorted(rows) == ["i do n't know", "right", "uh-huh", "yeah"]
    assert fig._suptitle.get_text().startswith("The 4 greedy responses in the top 10 of any of the 2 baselines")
    assert rows[-1] == "yeah"                                     # most frequent across baselines on top
    assert not ax.containers                                      # a dot plot, not notebook 04's bar panel


def test_frequent_top10_shows_every_neg_train_model_on_one_scale():
    tops = {"Baseline": [("yeah", 0.6), ("uh-huh", 0.3), ("right", 0.1)],
            "+neg-train (10%)": [(f"r{i}", 0.1) for i in range(10)],
            "+neg-train (1%)": [(f"s{i}", 0.1) for i in range(10)]}
    fig = figures.frequent_top10(tops, corpus=C, profile=P, n_inputs=1000, seed=1)
    _check_common(fig, "1,000", y=False)
    assert [a.get_title(loc="left") for a in fig.axes] == ["Baseline (3 distinct responses)", "+neg-train (10%)",
                                                          "+neg-train (1%)"]
    assert len({a.get_xlim() for a in fig.axes}) == 1             # shared scale
    assert fig.axes[0].get_xlim()[1] < 80                          # no wide empty margin beyond the 60 % bar
    colours = {to_hex(a.patches[0].get_facecolor()) for a in fig.axes}
    assert len(colours) == 3


def test_frequent_lengths_is_one_panel_per_model_with_the_references():
    lengths = {"Test-set": [1, 2, 3, 5, 8, 13], "Baseline": [1, 1, 4, 4, 4, 4], "+neg-train (1%)": [1, 2, 2, 3, 7, 9]}
    fig = figures.frequent_lengths(lengths, corpus=C, profile=P, n_inputs=6)
    _check_common(fig, "6")
    assert [a.get_title() for a in fig.axes] == ["Baseline", "+neg-train (1%)"]
    for ax in fig.axes:
        assert _visible_xticks(ax)[-1] <= 13 and ax.get_xlim()[1] < 14
    bars = [p for p in fig.axes[0].patches if isinstance(p, Rectangle)]              # the outline is a Polygon
    assert sum(p.get_height() for p in bars) == pytest.approx(100)


def test_frequent_training_and_gan_d_fake_colour_their_series_apart():
    h = lambda d: {"step": [0, 30, 60], "max_ratio": [0.6, 0.3 + d, 0.2], "ent3": [1.5, 2.5 + d, 3.5]}
    fig = figures.frequent_training({f"+neg-train ({t}) seed={s}": h(0.01 * s) for t in ("10%", "1%") for s in (1, 2)},
                                    corpus=C, profile=P, n_inputs=300)
    _check_common(fig, "300")
    colours = _line_colours(fig.axes[0])
    assert colours["+neg-train (10%), baseline seed 1"] != colours["+neg-train (1%), baseline seed 1"]
    assert colours["+neg-train (10%), baseline seed 1"] == colours["+neg-train (10%), baseline seed 2"]
    assert fig.axes[0].get_xlim()[1] < 62 and _visible_xticks(fig.axes[0])[-1] <= 60
    fig = figures.gan_d_fake({"0.01": [0.7, 0.5, 0.4], "0.001": [0.6, 0.6, 0.5], "0.0001": [0.5, 0.5, 0.5]},
                             corpus=C, profile=P, samples=64, seed=1)
    _check_common(fig, "64")
    colours = _line_colours(fig.axes[0])
    alphas = [c for lab, c in colours.items() if lab.startswith("α_G")]
    assert len(alphas) == len(set(alphas)) == 3
    assert _visible_xticks(fig.axes[0]) == [1, 2, 3] and fig.axes[0].get_xlim()[1] < 3.5


def test_data_lengths_counts_have_thousands_separators():
    src = [5] * 3000 + [30] * 10
    fig = figures.data_lengths(src, [3] * 3010, 25, 20, corpus=C, profile=P)
    _check_common(fig, "3,010")
    ticks = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert "3,000" in ticks or "2,500" in ticks, ticks
    assert fig.axes[0].get_ylabel() == "training pairs (count)"


def test_word_nll_ticks_are_readable_and_sentences_apart():
    words = [("i", 1.0), ("hate", 5.0), ("<eos>", 0.5), ("you", 2.0), ("<eos>", 0.4)]
    series = {"baseline": words, "neg-train (FWA)": [(w, v + 1) for w, v in words],
              "neg-train (no FWA)": [(w, v + 2) for w, v in words]}
    fig = figures.malicious_word_nll(series, series, corpus=C, profile=P, hit_type="o_sample_avg")
    _check_common(fig, "2 targets / 2 test samples", x=False)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["i", "hate", "<eos>", "you", "<eos>"]
    assert all(t.get_rotation() <= 60 for t in ax.get_xticklabels())
    ys = ax.get_lines()[0].get_ydata()
    assert any(y != y for y in ys)                                # a gap (NaN) between the two sentences
    assert len(set(_line_colours(ax).values())) == 3


def test_tradeoff_has_one_legend_corpus_profile_n_and_cringe():
    tl = importlib.import_module("test_losses_compared")
    fig = loss_tables.tradeoff_figure(tl._results_three())
    _check_common(fig, "3")
    legends = [a.get_legend() for a in fig.axes if a.get_legend()] + fig.legends
    assert len(legends) == 1
    texts = [t.get_text() for t in legends[0].get_texts()]
    assert "CRINGE" in texts and "cringe" not in texts
    colours = [to_hex(c.lines[0].get_color()) for c in fig.axes[0].containers]
    assert len(colours) == len(set(colours)) == 3


def test_every_figure_builder_titles_with_corpus_profile_and_n():
    for name, fn in inspect.getmembers(figures, inspect.isfunction):
        if fn.__module__ == figures.__name__ and not name.startswith("_"):
            assert "plots.title(" in inspect.getsource(fn), name
