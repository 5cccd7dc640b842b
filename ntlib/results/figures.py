"""The figures of notebooks 01–05, each built from plain data (lists, dicts of numbers and strings) so that a
test can build it from a few synthetic values; the stage drivers (:mod:`ntlib.stages`) pick the data out of
their runs and save what these return. The look is :mod:`ntlib.results.plots`; notebook 07's trade-off
figure is :func:`ntlib.results.loss_tables.tradeoff_figure`.
"""
from __future__ import annotations

import math
import re

from ntlib.results import plots

LIST_SIZES = {"train": "0.5k", "train_1k": "1k", "train_2.5k": "2.5k", "test": "0.5k test"}
D_CANNOT_TELL = 0.5          # D(x, G(x)) = 0.5: the discriminator cannot tell real from generated
_SEED = re.compile(r"\s*seed=(\d+)$")


def _seed(name: str) -> tuple[str, int | None]:
    """("+neg-train (1%)", 2) from "+neg-train (1%) seed=2"; (name, None) without a seed."""
    m = _SEED.search(name)
    return (name[:m.start()], int(m.group(1))) if m else (name, None)


def _count(k: int, noun: str) -> str:
    """``1 response``, ``8 responses``."""
    return f"{k:,} {noun}{'s' * (k != 1)}"


def _seed_style(seeds: list) -> dict:
    """One marker and dash per baseline seed (the model's colour stays the model's)."""
    return {s: (plots.MARKERS[i % len(plots.MARKERS)], plots.DASHES[i % len(plots.DASHES)])
            for i, s in enumerate(dict.fromkeys(seeds))}


def data_lengths(src_lens: list[int], tgt_lens: list[int], src_crop: int, tgt_crop: int, *, corpus: str,
                 profile: str, cap: int = 60):
    """Notebook 01: source and response lengths of the training pairs before the crops (counts per length)."""
    fig, axes = plots.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    for ax, lens, crop, name in ((axes[0], src_lens, src_crop, "source (previous utterance + <eou>)"),
                                 (axes[1], tgt_lens, tgt_crop, "response")):
        ax.hist([min(x, cap) for x in lens], bins=range(0, cap + 2), color=plots.model_colour("Test-set"))
        ax.axvline(crop + 0.5, ls="--", color="k", lw=1.2, label=f"crop at {crop} tokens (App. B)")
        ax.set(title=name, xlabel=f"length (tokens; ≥ {cap} in the last bin)", xlim=(0, cap + 1))
        plots.integer_ticks(ax)
        plots.thousands(ax, "y")
        plots.legend_outside(ax, where="below")
    axes[0].set_ylabel("training pairs (count)")
    fig.suptitle(plots.title("Source and response lengths before cropping", corpus, profile, len(src_lens),
                             "training pairs"))
    return fig


def baselines_curves(histories: dict, *, corpus: str, profile: str, n_pairs: int):
    """Notebook 02: training NLL and validation perplexity per epoch of the LM and each seq2seq baseline
    ({"lm": {epoch, train_loss, valid_ppl}, "seq2seq seed=1": …}); the x-axis ends at the last epoch."""
    fig, axes = plots.subplots(1, 2, figsize=(11, 3.8))
    styles = _seed_style([_seed(k)[1] for k in histories])
    epochs = [e for h in histories.values() for e in h["epoch"]]
    for k, h in histories.items():
        model, seed = _seed(k)
        marker, ls = styles[seed]
        label = "LM" if model == "lm" else f"{model}, baseline seed {seed}" if seed is not None else model
        kw = dict(marker=marker, ls=ls, color=plots.model_colour(model), label=label)
        axes[0].plot(h["epoch"], h["train_loss"], **kw)
        axes[1].plot(h["epoch"], h["valid_ppl"], **kw)
    axes[0].set(xlabel="epoch", ylabel="training NLL (nats per word)", title="training NLL")
    axes[1].set(xlabel="epoch", ylabel="validation perplexity (per word)", title="validation perplexity")
    for ax in axes:
        plots.integer_axis(ax, min(epochs), max(epochs))
    plots.legend_outside(axes[1])
    n_s2s = sum(1 for k in histories if k != "lm")
    fig.suptitle(plots.title(f"Training the LM and {_count(n_s2s, 'seq2seq baseline')}", corpus, profile,
                             n_pairs, "training pairs"))
    return fig


def _top(responses: list[str], k: int = 10) -> list[tuple[str, float]]:
    from ntlib.results.metrics import frequent_responses
    return frequent_responses(responses, k)


def baselines_frequent(test_responses: list[str], baselines: dict, *, corpus: str, profile: str, n_inputs: int):
    """Notebook 02: the responses among the ten most frequent greedy responses of any baseline ({seed:
    [response]}), each one's share under every baseline and in the references: how stable the dull
    responses are across seeds (notebook 04's figure shows one baseline's top 10 before and after)."""
    shown = list(dict.fromkeys(r for resp in baselines.values() for r, _ in _top(resp)))
    share = {seed: {r: resp.count(r) / len(resp) for r in shown} for seed, resp in baselines.items()}
    shown.sort(key=lambda r: sum(s[r] for s in share.values()))            # most frequent on top
    ref = {r: test_responses.count(r) / max(1, len(test_responses)) for r in shown}
    fig, ax = plots.subplots(figsize=(8, 1.2 + 0.34 * len(shown)))
    y = range(len(shown))
    for i, r in enumerate(shown):                                          # the spread across baselines
        vals = [100 * s[r] for s in share.values()]
        ax.plot([min(vals), max(vals)], [i, i], color=plots.model_colour("Baseline"), lw=1, alpha=0.5)
    ax.plot([100 * ref[r] for r in shown], y, "D", ms=5, color=plots.model_colour("Test-set"), label="references")
    styles = _seed_style(list(baselines))
    for seed, s in share.items():
        ax.plot([100 * s[r] for r in shown], y, styles[seed][0], ls="none", ms=6, mfc="none", mew=1.4,
                color=plots.model_colour("Baseline"), label=f"baseline seed {seed}")
    ax.set_yticks(list(y), [plots.wrap(r, 40) for r in shown])
    ax.set(xlabel="share of greedy test responses (%)", ylim=(-0.6, len(shown) - 0.4))
    ax.set_xlim(left=-1)
    plots.legend_outside(ax)
    whose = (f"any of the {len(baselines)} baselines" if len(baselines) > 1 else f"the baseline (seed {next(iter(baselines))})")
    fig.suptitle(plots.title(f"The {_count(len(shown), 'greedy response')} in the top 10 of {whose}, and how often the "
                             "references say them", corpus, profile, n_inputs, "test inputs"))
    return fig


def frequent_top10(tops: dict, *, corpus: str, profile: str, n_inputs: int, seed: int):
    """Notebook 04: each model's ten most frequent greedy responses ({row: [(response, share)]}: the baseline and
    every neg-train model of one baseline), side by side on one scale."""
    fig, axes = plots.subplots(1, len(tops), figsize=(3.9 * len(tops) + 0.8, 1.4 + 0.42 * max(map(len, tops.values()))),
                               sharex=True, squeeze=False)
    for ax, (row, top) in zip(axes[0], tops.items()):
        top = top[:10][::-1]
        ax.barh([plots.wrap(r) for r, _ in top], [100 * x for _, x in top], color=plots.model_colour(row))
        plots.label_bars(ax, "{:.1f} %")
        ax.set_title(row if len(top) == 10 else f"{row} ({_count(len(top), 'distinct response')})", loc="left")
        ax.set_xlabel("share of greedy test responses (%)")
        ax.grid(axis="y", visible=False)
    fig.suptitle(plots.title(f"Ten most frequent greedy responses, before and after negative training (baseline "
                             f"seed {seed})", corpus, profile, n_inputs, "test inputs"))
    return fig


def frequent_training(histories: dict, *, corpus: str, profile: str, n_inputs: int):
    """Notebook 04: max-ratio and Ent-3 of greedy validation responses during Algorithm 2 ({"<model> seed=<s>":
    {step, max_ratio, ent3}}): one colour per model, one marker and dash per baseline seed."""
    fig, (a1, a2) = plots.subplots(1, 2, figsize=(12, 3.8))
    styles = _seed_style([_seed(k)[1] for k in histories])
    steps = [x for h in histories.values() for x in h["step"]]
    for name, h in histories.items():
        model, seed = _seed(name)
        marker, ls = styles[seed]
        kw = dict(marker=marker, ms=4, ls=ls, color=plots.model_colour(model),
                  label=f"{model}, baseline seed {seed}" if seed is not None else model)
        a1.plot(h["step"], [100 * x for x in h["max_ratio"]], **kw)
        a2.plot(h["step"], h["ent3"], **kw)
    a1.set(xlabel="mini-batch of Algorithm 2", ylabel="max-ratio (%, validation)", title="max-ratio")
    a2.set(xlabel="mini-batch of Algorithm 2", ylabel="Ent-3 (nats, validation)", title="Ent-3")
    for a in (a1, a2):
        plots.integer_axis(a, min(steps), max(steps))
    plots.legend_outside(a2)
    fig.suptitle(plots.title("Max-ratio and Ent-3 of greedy validation responses during negative training", corpus,
                             profile, n_inputs, "validation inputs per point"))
    return fig


def frequent_lengths(lengths: dict, *, corpus: str, profile: str, n_inputs: int):
    """Notebook 04: greedy response lengths ({row: [tokens]}), one panel per model with the references'
    distribution as a grey outline in each."""
    ref = lengths.get("Test-set")
    models = {k: v for k, v in lengths.items() if k != "Test-set"}
    top = max(max(v, default=0) for v in lengths.values())
    bins = list(range(0, top + 2))
    fig, axes = plots.subplots(1, len(models), figsize=(3.6 * len(models) + 1.2, 3.4), sharey=True, squeeze=False)
    for ax, (row, v) in zip(axes[0], models.items()):
        ax.hist(v, bins=bins, weights=[100 / len(v)] * len(v), color=plots.model_colour(row), label=row, align="left")
        if ref:
            ax.hist(ref, bins=bins, weights=[100 / len(ref)] * len(ref), histtype="step", color="k", lw=1.2,
                    label="references (test set)", align="left")
        ax.set(title=row, xlabel="response length (tokens)")
        plots.integer_axis(ax, 0, top, pad=0.8)
    axes[0][0].set_ylabel("share of responses (%)")
    if ref:
        plots.legend_outside(axes[0][-1], handles=axes[0][-1].get_legend_handles_labels()[0][-1:])
    fig.suptitle(plots.title("Greedy response length, before and after negative training", corpus, profile,
                             n_inputs, "test inputs"))
    return fig


def gan_d_fake(curves: dict, *, corpus: str, profile: str, samples: int, seed: int):
    """Notebook 05: mean D(x, G(x)) on the generator's samples per G update, one colour per α_G
    ({α_G as written: [value per update]})."""
    fig, ax = plots.subplots(figsize=(8, 3.6))
    ax.axhline(D_CANNOT_TELL, ls="--", color="k", lw=1, label="0.5: D cannot tell")
    for (alpha, values), colour, marker in zip(curves.items(), plots.series_colours(len(curves)), plots.MARKERS):
        ax.plot(range(1, len(values) + 1), values, marker=marker, ms=4, color=colour, label=f"α_G = {alpha}")
    ax.set(xlabel="G update", ylabel="mean D(x, G(x)) (probability)", ylim=(0, 1),
           title=plots.title(f"Discriminator output on the generator's samples (baseline seed {seed})", corpus,
                             profile, samples, "samples per G update"))
    plots.integer_axis(ax, 1, max(map(len, curves.values()), default=1))
    plots.legend_outside(ax)
    return fig


def malicious_iterations(series: list[dict], *, corpus: str, profile: str):
    """Notebook 03: the hit rate of each iteration's searches on the list being trained, then Table 3's rate
    after the last iteration (a fresh attack), one panel per hit type. ``series``: dicts with ``list``
    (train, train_1k, train_2.5k), ``hit_type``, ``seed``, ``targets`` (n), ``history`` (Algorithm 1's,
    rate / lo / hi per iteration) and ``final`` (rate / lo / hi after training)."""
    types = list(dict.fromkeys(s["hit_type"] for s in series))
    last = max(len(s["history"]) for s in series)
    fig, axes = plots.subplots(1, len(types), figsize=(4.6 * len(types) + 3.2, 4.0), sharey=True, squeeze=False)
    styles = _seed_style([s["seed"] for s in series])
    top = 0.0
    for ax, ht in zip(axes[0], types):
        mine = [s for s in series if s["hit_type"] == ht]
        for s, dx in zip(mine, plots.dodge(len(mine), min(0.45, 0.12 * (len(mine) - 1)))):
            size = LIST_SIZES[s["list"]]
            marker, ls = styles[s["seed"]]
            colour = plots.model_colour(f"+neg-tr({size})")
            pts = [*s["history"], s["final"]]
            x = [i + 1 + dx for i in range(len(s["history"]))] + [last + 1 + dx]
            rate, lo, hi = ([100 * p[k] for p in pts] for k in ("rate", "lo", "hi"))
            top = max(top, *hi)
            plots.errorbars(ax, x[:-1], rate[:-1], lo[:-1], hi[:-1], marker=marker, ls=ls, color=colour, capsize=2,
                            label=f"Alg. 1 on the {size} list · baseline seed {s['seed']} ({s['targets']:,} targets)")
            ax.plot(x[-2:], rate[-2:], ls=":", color=colour, lw=1)
            plots.errorbars(ax, x[-1:], rate[-1:], lo[-1:], hi[-1:], marker=marker, ls="none", color=colour,
                            capsize=2, mfc="white")
        ax.axvline(last + 0.5, color="grey", lw=0.8)
        ax.set(title=f"{plots.hit_type_words(ht)} hits", xlabel="iteration of Algorithm 1")
        plots.integer_axis(ax, 1, last, after="after\n(Table 3)", pad=0.4)
    axes[0][0].set_ylabel("hit rate on the training list (%)\n95 % Wilson interval")
    axes[0][0].set_ylim(0, min(100, 1.1 * top + 1))
    handles = {}
    for ax in axes[0]:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    plots.legend_outside(axes[0][-1], handles=list(handles.values()), labels=list(handles))
    lists = list(dict.fromkeys(s["list"] for s in series))
    counts = {n: next(s["targets"] for s in series if s["list"] == n) for n in lists}
    fig.suptitle(plots.title("Hit rate of each iteration's searches on the list being trained, and after training",
                             corpus, profile, " / ".join(f"{counts[n]:,}" for n in lists),
                             "targets (" + " / ".join(f"{LIST_SIZES[n]} list" for n in lists) + ")"))
    return fig


def _word_panel(ax, series: dict, title: str) -> None:
    """Figure 1's panel: each word's NLL along the same sentences ({model: [(word, nll)]}), the sentences
    (each ending in <eos>) drawn apart and split by a faint line."""
    words = [w for w, _ in next(iter(series.values()))]
    breaks = [i for i, w in enumerate(words[:-1]) if w == "<eos>"]
    for (name, pairs), marker in zip(series.items(), plots.MARKERS):
        xs, vals = [], []                           # a NaN after each <eos>: no line from one sentence to the next
        for i, (_, v) in enumerate(pairs):
            xs.append(i)
            vals.append(v)
            if i in breaks:
                xs.append(i + 0.5)
                vals.append(math.nan)
        ax.plot(xs, vals, marker=marker, ms=4, color=plots.model_colour(name), label=name)   # markers: equal values show
    for i in breaks:
        ax.axvline(i + 0.5, color="grey", lw=0.6, alpha=0.6)
    ax.set_xticks(range(len(words)), words, rotation=55, ha="right", rotation_mode="anchor", fontsize=plots.TICK_PT)
    ax.set_xlim(-0.6, len(words) - 0.4)
    ax.grid(axis="x", visible=False)
    ax.set(title=title, ylabel="NLL (nats)")


def malicious_word_nll(malicious: dict, test_data: dict, *, corpus: str, profile: str, hit_type: str):
    """Figure 1 (App. D): each word's NLL before and after negative training on test-list malicious targets
    given the baseline's triggers and on test samples ({model: [(word, nll)]} each)."""
    n_mal = sum(w == "<eos>" for w, _ in next(iter(malicious.values())))
    n_dat = sum(w == "<eos>" for w, _ in next(iter(test_data.values())))
    width = max(10.0, 0.3 * max(len(next(iter(d.values()))) for d in (malicious, test_data)) + 2.5)
    fig, axes = plots.subplots(2, 1, figsize=(width, 7.5))
    _word_panel(axes[0], malicious, f"{_count(n_mal, 'test-list malicious target')}, given the baseline's triggers "
                                    f"({plots.hit_type_words(hit_type)})")
    _word_panel(axes[1], test_data, f"{_count(n_dat, 'test data sample')} given their inputs")
    plots.legend_outside(axes[0])
    fig.suptitle(plots.title("Figure 1: NLL of each word before and after negative training", corpus, profile,
                             f"{_count(n_mal, 'target')} / {_count(n_dat, 'test sample')}"))
    return fig


def own_model_training(mle: dict, frequent: dict, *, corpus: str, profile: str, n_pairs: int, model: str):
    """Notebook 08: a Hugging Face model's training NLL per logged Adam step ({step, loss}) and the max-ratio of
    its greedy validation responses during Algorithm 2 ({step, max_ratio}); integer axes end at the last step."""
    fig, (a1, a2) = plots.subplots(1, 2, figsize=(11, 3.8))
    a1.plot(mle["step"], mle["loss"], marker="o", ms=3, color=plots.model_colour("seq2seq"), label=model)
    a2.plot(frequent["step"], [100 * x for x in frequent["max_ratio"]], marker="o", ms=4,
            color=plots.model_colour("+neg-train"), label=f"{model} +neg-train")
    a1.set(xlabel="mini-batch of MLE training (Adam step)", ylabel="training NLL (nats per word)",
           title="training (MLE)")
    a2.set(xlabel="mini-batch of Algorithm 2", ylabel="max-ratio (%, validation)", title="Algorithm 2")
    plots.integer_axis(a1, min(mle["step"]), max(mle["step"]))
    plots.integer_axis(a2, min(frequent["step"]), max(frequent["step"]))
    fig.suptitle(plots.title(f"Your own model: {model} trained, then Algorithm 2", corpus, profile, n_pairs,
                             "training pairs"))
    return fig
