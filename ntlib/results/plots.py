"""Shared look of the paper-ready figures in notebooks 01–05 (issue 19).

One colour per model across notebooks (:data:`MODEL_COLOURS`, :func:`model_colour`: the baseline
is always the same blue, whatever a notebook calls it), a title that names corpus, profile and n
(:func:`title`), integer ticks on integer axes, values printed on bars (near-zero ones too) and
legends placed outside the data. The figures are written by :func:`ntlib.results.reports.save_figure`.
"""
from __future__ import annotations

import re
import zlib

from matplotlib.ticker import MaxNLocator

# one colour per model (lower case, no leading "+", no seed / hit-type suffix); tab20 shades
MODEL_COLOURS: dict[str, str] = {
    "test-set": "#7f7f7f",             # the references
    "baseline": "#1f77b4",             # the MLE seq2seq every experiment starts from
    "seq2seq": "#1f77b4",              # = the baseline (notebook 02's training curves)
    "lm": "#aec7e8",                   # the baseline LSTM LM
    # malicious response problem (notebook 03): Algorithm 1 on each training list
    "neg-tr(0.5k)": "#d62728",
    "neg-train (fwa)": "#d62728",      # = the 0.5k run (Figure 1)
    "neg-train (no fwa)": "#ff9896",
    "neg-tr(1k)": "#ff7f0e",
    "neg-tr(2.5k)": "#ffbb78",
    # frequent response problem (notebook 04): Algorithm 2 at each r_thres
    "neg-train (10%)": "#2ca02c",
    "neg-train (1%)": "#98df8a",
    "neg-train (0.1%)": "#17becf",
    # notebook 05
    "gan": "#9467bd",
    "mmi": "#8c564b",
}
_EXTRA = ("#e377c2", "#bcbd22", "#c5b0d5", "#c49c94", "#f7b6d2", "#dbdb8d", "#9edae5")
_SUFFIX = re.compile(r"\s+(seed=\d+|[oi]o?_[a-z_]+)$")


def model_key(name: str) -> str:
    """The :data:`MODEL_COLOURS` key of a row / curve label: lower case, without a leading "+",
    a trailing ``seed=N`` or hit type (``o_sample_min`` ...) and the ablation's note."""
    key = name.strip().lower().lstrip("+").strip()
    while True:
        short = _SUFFIX.sub("", key)
        if short == key:
            break
        key = short
    return key


def model_colour(name: str) -> str:
    """The colour of a model in every figure: :data:`MODEL_COLOURS` by :func:`model_key`, else a
    colour of a spare palette chosen by a checksum of the key (stable across runs and processes)."""
    key = model_key(name)
    if key in MODEL_COLOURS:
        return MODEL_COLOURS[key]
    return _EXTRA[zlib.crc32(key.encode("utf-8")) % len(_EXTRA)]


def title(what: str, corpus: str, profile: str, n: int | str, unit: str = "") -> str:
    """A figure title: what it shows, then corpus, profile and the n it rests on (with its unit);
    ``n`` may be a string for a figure resting on several sets (e.g. ``"8 / 16 / 40"``)."""
    count = f"{n:,}" if isinstance(n, int) else str(n)
    return f"{what}\n{corpus}, profile {profile}, n = {count} {unit}".rstrip()


def integer_ticks(ax, axis: str = "x") -> None:
    """Integer tick labels on an integer axis (epoch, iteration, G update, mini-batch, tokens).
    Call it after plotting: an axis spanning less than 2 (one epoch, one iteration) is widened
    to ±1 around its middle, where MaxNLocator would otherwise fall back to fractional ticks."""
    (ax.xaxis if axis == "x" else ax.yaxis).set_major_locator(MaxNLocator(integer=True))
    get, set_ = (ax.get_xlim, ax.set_xlim) if axis == "x" else (ax.get_ylim, ax.set_ylim)
    lo, hi = get()
    if abs(hi - lo) < 2:
        mid = round((lo + hi) / 2)
        set_(mid - 1, mid + 1)


def label_bars(ax, fmt: str = "{:.1f}", padding: float = 2, fontsize: float = 7) -> None:
    """Print each bar's value at its end (``ax.bar`` or ``ax.barh``) — near-zero bars too, so a
    bar too short to see still shows its number."""
    for bars in ax.containers:
        if hasattr(bars, "datavalues"):
            ax.bar_label(bars, labels=[fmt.format(v) for v in bars.datavalues], padding=padding,
                         fontsize=fontsize)
            if getattr(bars, "orientation", "vertical") == "horizontal":
                ax.margins(x=0.18)           # room for the labels at the bars' ends
            else:
                ax.margins(y=0.18)


def legend_outside(ax, where: str = "right", **kw):
    """A legend beside the axes (``right``) or under them (``below``), never over the data."""
    kw.setdefault("fontsize", 8)
    kw.setdefault("frameon", False)
    if where == "right":
        return ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0, **kw)
    if where == "below":
        return ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.28), **kw)
    raise ValueError(f"legend_outside(where={where!r}): must be 'right' or 'below'")


def word_nll(ax, series: dict, title: str) -> None:
    """Figure 1's panel: each word's NLL along the same sentences, one line per model ({model: [(word, nll)]})."""
    words = [w for w, _ in next(iter(series.values()))]
    for name, pairs in series.items():
        ax.plot(range(len(words)), [v for _, v in pairs], marker="o", ms=4, color=model_colour(name), label=name)
    ax.set_xticks(range(len(words)), words, rotation=75, fontsize=7)
    ax.set(title=title, ylabel="NLL (nats)")


def rate_per_iteration(ax, history: list[dict], **style) -> None:
    """An Algorithm 1 run's hit rate per iteration (%), with its Wilson interval as error bars."""
    it = [h["iteration"] for h in history]
    rate, lo, hi = ([100 * h[k] for h in history] for k in ("rate", "lo", "hi"))
    ax.errorbar(it, rate, yerr=[[r - a for r, a in zip(rate, lo)], [b - r for r, b in zip(rate, hi)]], capsize=3,
                **style)
