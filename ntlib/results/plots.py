"""Shared look of the paper-ready figures in notebooks 01–07 (issues 19, 30).

One style (:data:`STYLE`: font sizes a printed page can read, applied by :func:`subplots`), one colour per
model across notebooks from colour-blind-safe palettes (Okabe & Ito; Tol's muted for the spares:
:data:`MODEL_COLOURS`, :func:`model_colour`), series that are not models (seeds, α_G) coloured by
:func:`series_colours`, a title that names corpus, profile and n (:func:`title`), integer axes that end at
the last epoch / iteration drawn (:func:`integer_axis`), thousands separators on count axes
(:func:`thousands`), values printed on bars and legends placed outside the data. The figures themselves are
:mod:`ntlib.results.figures`; :func:`ntlib.results.reports.save_figure` writes them.
"""
from __future__ import annotations

import re
import textwrap
import zlib

import matplotlib as mpl
import matplotlib.pyplot as plt
from matplotlib.ticker import FuncFormatter, MaxNLocator

TICK_PT, LABEL_PT, TITLE_PT, SUPTITLE_PT, LEGEND_PT, BAR_PT = 9, 10, 10.5, 11.5, 9, 8
STYLE = {"font.size": LABEL_PT, "axes.labelsize": LABEL_PT, "axes.titlesize": TITLE_PT,
         "figure.titlesize": SUPTITLE_PT, "xtick.labelsize": TICK_PT, "ytick.labelsize": TICK_PT,
         "legend.fontsize": LEGEND_PT, "axes.spines.top": False, "axes.spines.right": False,
         "axes.grid": True, "grid.alpha": 0.3, "grid.linewidth": 0.6, "lines.linewidth": 1.6,
         "lines.markersize": 5, "errorbar.capsize": 3}

# Okabe & Ito (2008), the colour-blind-safe qualitative palette, then Tol's muted spares
OKABE_ITO = ("#0072B2", "#D55E00", "#009E73", "#E69F00", "#CC79A7", "#56B4E9", "#000000")
TOL_MUTED = ("#882255", "#332288", "#999933", "#44AA99", "#AA4499", "#117733")

# one colour per model (lower case, no leading "+", no seed / hit-type suffix)
MODEL_COLOURS: dict[str, str] = {
    "test-set": "#7f7f7f",             # the references
    "baseline": "#0072B2",             # the MLE seq2seq every experiment starts from
    "seq2seq": "#0072B2",              # = the baseline (notebook 02's training curves)
    "lm": "#000000",                   # the baseline LSTM LM
    # malicious response problem (notebook 03): Algorithm 1 on each training list
    "neg-tr(0.5k)": "#D55E00",
    "neg-train (fwa)": "#D55E00",      # = the 0.5k run (Figure 1)
    "neg-train (no fwa)": "#44AA99",
    "neg-tr(1k)": "#CC79A7",
    "neg-tr(2.5k)": "#882255",
    # frequent response problem (notebook 04): Algorithm 2 at each r_thres
    "neg-train (10%)": "#009E73",
    "neg-train (1%)": "#56B4E9",
    "neg-train (0.1%)": "#999933",
    # notebook 05
    "gan": "#AA4499",
    "mmi": "#332288",
    # notebook 07: the negative losses
    "nll": "#D55E00",
    "unlikelihood": "#CC79A7",
    "cringe": "#009E73",
}
_EXTRA = ("#44AA99", "#117733", "#999933", "#AA4499", "#332288", "#882255")
_SUFFIX = re.compile(r"\s+(seed=\d+|[oi]o?_[a-z_]+)$")
MARKERS = ("o", "s", "^", "D", "v", "P", "X")
DASHES = ("-", "--", ":", "-.")


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


def series_colours(n: int) -> list[str]:
    """``n`` clearly different colours for series that are not models (α_G, baseline seeds)."""
    pool = OKABE_ITO + TOL_MUTED
    if n > len(pool):
        raise ValueError(f"series_colours({n}): at most {len(pool)} series tell apart by colour")
    return list(pool[:n])


def hit_type_words(ht: str) -> str:
    """A hit type as the paper writes it: ``o_sample_avg`` → ``o-sample-avg``."""
    return ht.replace("_", "-")


def subplots(*args, **kw):
    """``plt.subplots`` under :data:`STYLE` with the constrained layout: every figure's fonts and grid."""
    mpl.rcParams.update(STYLE)
    kw.setdefault("layout", "constrained")
    return plt.subplots(*args, **kw)


def title(what: str, corpus: str, profile: str, n: int | str, unit: str = "") -> str:
    """A figure title: what it shows, then corpus, profile and the n it rests on (with its unit);
    ``n`` may be a string for a figure resting on several sets (e.g. ``"8 / 16 / 40"``)."""
    count = f"{n:,}" if isinstance(n, int) else str(n)
    return f"{what}\n{corpus}, profile {profile}, n = {count} {unit}".rstrip()


def integer_axis(ax, first: int, last: int, axis: str = "x", after: str | None = None, pad: float = 0.35) -> None:
    """An integer axis (epoch, iteration, G update, mini-batch) from ``first`` to ``last`` and no further:
    integer ticks only, the limits ``pad`` (at least 2 % of the span) beyond the end points (no marker or
    error bar clipped, no empty tick); ``after``: one more labelled position at ``last + 1`` (e.g. the rate
    after the last iteration)."""
    end = last + (1 if after else 0)
    pad = max(pad, 0.02 * (end - first))
    ticks = [int(t) for t in MaxNLocator(nbins=10, integer=True).tick_values(first, last) if first <= t <= last]
    ticks = ticks or [first]
    labels = [f"{t:,}" for t in ticks] + ([after] if after else [])
    ticks = ticks + ([end] if after else [])
    if axis == "x":
        ax.set_xticks(ticks, labels)
        ax.set_xlim(first - pad, end + pad)
    else:
        ax.set_yticks(ticks, labels)
        ax.set_ylim(first - pad, end + pad)


def integer_ticks(ax, axis: str = "x") -> None:
    """Integer tick labels on an integer axis whose data span more than a few steps (mini-batches,
    tokens); :func:`integer_axis` for short ones that must end at the last value."""
    (ax.xaxis if axis == "x" else ax.yaxis).set_major_locator(MaxNLocator(integer=True))


def thousands(ax, axis: str = "y") -> None:
    """Thousands separators on a count axis (``12,345``)."""
    fmt = FuncFormatter(lambda v, _: f"{v:,.0f}" if float(v).is_integer() else f"{v:,.1f}")
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(fmt)


def dodge(n: int, width: float = 0.3) -> list[float]:
    """x offsets that spread ``n`` series at the same x over ``width`` (none overlap its neighbours' bars)."""
    if n <= 1:
        return [0.0] * n
    step = width / (n - 1)
    return [-width / 2 + i * step for i in range(n)]


def wrap(label: str, width: int = 26) -> str:
    """A long response on at most a few lines (a bar label that would otherwise push the bars aside)."""
    return "\n".join(textwrap.wrap(label, width, max_lines=3, placeholder=" …")) if label else "(empty response)"


def label_bars(ax, fmt: str = "{:.1f}", padding: float = 2, fontsize: float = BAR_PT) -> None:
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
    kw.setdefault("fontsize", LEGEND_PT)
    kw.setdefault("frameon", False)
    if where == "right":
        return ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0, **kw)
    if where == "below":
        return ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.28), **kw)
    raise ValueError(f"legend_outside(where={where!r}): must be 'right' or 'below'")


def errorbars(ax, x: list, rate: list, lo: list, hi: list, **style):
    """Points with asymmetric error bars from interval ends (rates in %)."""
    return ax.errorbar(x, rate, yerr=[[r - a for r, a in zip(rate, lo)], [b - r for r, b in zip(rate, hi)]],
                       **style)
