"""What the interactive panel (:mod:`ntlib.run.panel`, notebooks/panel.ipynb) does with the models, as
plain functions the tests call: responses to a typed context side by side, a trigger search for a typed
target with its hits before / after Algorithm 1, the A/B sheet's responses, and loading (or training) the
models the notebooks cached.
"""
from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ntlib.data.corpora import tokenize
from ntlib.data.dataset import EOU, PAD, Vocab
from ntlib.methods import frequent
from ntlib.methods.decode import greedy, respond, sample
from ntlib.methods.hits import thresholds
from ntlib.run import pipeline
from ntlib.run.config import Profile, override
from ntlib.run.panel_targets import malicious_model_cached
from ntlib.run.profiles import baseline_profile, get_profile


# -- text in, ids out --------------------------------------------------------------------
def encode_context(text: str, vocab: Vocab, max_src_len: int) -> tuple[torch.Tensor, list[str], list[str]]:
    """A typed context → ``(1, max_src_len)`` source ids (left-padded, closed by ``<eou>``, as
    ``data.make_pairs``), its tokens, and the words outside the vocabulary (read as ``<unk>``).
    Utterances may be separated by ``|`` (e.g. ``how are you | fine``)."""
    utts = [tokenize(u) for u in str(text).split("|")]
    tokens = [t for u in utts if u for t in u + [EOU]][-max_src_len:]
    if not tokens:
        raise ValueError(f"context {text!r} has no words (after lower-casing and removing punctuation)")
    unknown = [t for t in tokens if t not in vocab.stoi]
    src = torch.full((1, max_src_len), PAD, dtype=torch.long)
    src[0, -len(tokens):] = torch.tensor(vocab.encode(tokens))
    return src, tokens, unknown


def _words(vocab: Vocab, ids) -> str:
    return " ".join(vocab.decode(ids))


# -- tab 1: respond ----------------------------------------------------------------------
def respond_side_by_side(models: dict, text: str, vocab: Vocab, max_src_len: int, max_len: int,
                         n_samples: int = 3, seed: int = 1) -> dict:
    """Each model's greedy response and ``n_samples`` samples (seeded, the same seed for every
    model) to the typed context ``text``.

    Returns ``{"tokens": [...], "unknown": [...], "responses": {name: {"greedy": str,
    "samples": [str, ...]}}}``; an empty response is the empty string."""
    src, tokens, unknown = encode_context(text, vocab, max_src_len)
    out = {}
    for name, model in models.items():
        dev = next(model.parameters()).device
        s = src.to(dev)
        g = _words(vocab, greedy(model, s, max_len)[0].cpu())
        samples = []
        if n_samples:
            gen = torch.Generator().manual_seed(seed)   # CPU: the same draws on any device (decode.sample)
            ids = sample(model, s.expand(n_samples, -1), max_len, generator=gen).cpu()
            samples = [_words(vocab, row) for row in ids]
        out[name] = {"greedy": g, "samples": samples}
    return {"tokens": tokens, "unknown": unknown, "responses": out}


def responses_html(result: dict) -> str:
    """The side-by-side table of :func:`respond_side_by_side` as HTML (``<empty>`` for "")."""
    names = list(result["responses"])
    show = lambda s: html.escape(s) if s else "<i>&lt;empty&gt;</i>"
    head = "".join(f"<th style='text-align:left;padding:2px 12px'>{html.escape(n)}</th>" for n in names)
    rows = [("greedy", [result["responses"][n]["greedy"] for n in names])]
    k = max(len(r["samples"]) for r in result["responses"].values())
    rows += [(f"sample {i + 1}", [result["responses"][n]["samples"][i] for n in names]) for i in range(k)]
    body = "".join(f"<tr><td style='padding:2px 12px'><b>{label}</b></td>"
                   + "".join(f"<td style='padding:2px 12px'>{show(v)}</td>" for v in vals) + "</tr>"
                   for label, vals in rows)
    note = (f"<p>read as: <code>{html.escape(' '.join(result['tokens']))}</code>"
            + (f" — not in the vocabulary (→ &lt;unk&gt;): {html.escape(', '.join(result['unknown']))}"
               if result["unknown"] else "") + "</p>")
    return f"{note}<table class='ntlib-responses'><tr><th></th>{head}</tr>{body}</table>"


# -- tab 3: Table 6 A/B ------------------------------------------------------------------
def ab_responses(models: dict, src: torch.Tensor, vocab: Vocab, max_len: int) -> tuple[list[str], dict]:
    """(contexts, {name: greedy responses}) of the two models on test sources ``src`` — the input
    of ``human_eval.ab_sheet``."""
    contexts = [" ".join(t for t in vocab.decode(row) if t != EOU) for row in src]
    return contexts, {name: respond(m, src, vocab, max_len=max_len) for name, m in models.items()}


# -- loading what the notebooks cached ---------------------------------------------------
@dataclass
class PanelModels:
    """What the panel found (or trained): the baselines, the frequent-NT model, the malicious-NT
    model, the thresholds; ``missing`` names what is not cached yet."""
    profile: Profile
    run_root: Path
    baselines: object = None
    frequent: torch.nn.Module | None = None
    malicious: torch.nn.Module | None = None
    thresholds: object = None
    missing: list[str] = field(default_factory=list)
    frequent_path: Path | None = None
    malicious_path: Path | None = None


def frequent_config(P: Profile, seed: int = 1):
    """The frequent-NT config of notebook 04's "+neg-train" row: the smaller r_thres of the sweep."""
    return override(P.frequent, seed=seed, r_thres=min(P.frequent.sweep))


def panel_profile(profile: str, corpus: str = "switchboard", seed: int = 1, run_seed: int | None = None) -> Profile:
    """The configs of baseline ``seed`` of the ``profile`` run whose first baseline is ``run_seed`` (None:
    ``seed``), as the stage drivers build them (``NotebookRun.P`` then ``baseline_profile``): the same run
    folders, so the panel finds what notebooks 02–04 cached."""
    return baseline_profile(get_profile(profile, corpus, seed=seed if run_seed is None else run_seed), seed)


def load_models(profile: str, corpus: str = "switchboard", seed: int = 1, run_root: str | Path = "runs",
                data_dir=None, device=None, train: bool = False, progress: bool = True,
                hit_type: str = "o_sample_avg", run_seed: int | None = None) -> PanelModels:
    """The panel's models from the notebooks' run folders (baseline ``seed`` of the run whose first
    baseline is ``run_seed``, :func:`panel_profile`); ``train=True`` trains what is missing (baselines,
    frequent NT, malicious NT), else only loads and lists the missing ones."""
    P = panel_profile(profile, corpus, seed, run_seed)
    out = PanelModels(P, Path(run_root))
    need = (pipeline.lm_run_dir(P, run_root, data_dir) / "lm.pt", pipeline.baselines_run_dir(P, run_root, data_dir)
            / "seq2seq.pt")
    if not train and not all(p.exists() for p in need):
        out.missing = ["baselines (notebook 02)", "frequent NT (notebook 04)", "malicious NT (Algorithm 1)"]
        return out
    b = pipeline.baselines(P, run_root=run_root, data_dir=data_dir, progress=progress, device=device)
    out.baselines = b
    out.thresholds = thresholds(b.seq2seq, b.lm, b.data.test)
    fcfg, max_len = frequent_config(P, seed), P.decode.max_len
    fpath = frequent.cached_model_path(fcfg, b.run_dir, max_len)      # notebook 04's model, when it ran
    if train or fpath.exists():
        out.frequent, _ = frequent.negative_train_cached(b.seq2seq, b.data, fcfg, b.run_dir, max_len, progress)
        out.frequent_path = fpath
    else:
        out.missing.append("frequent NT (notebook 04)")
    mal = malicious_model_cached(b, P, out.thresholds, hit_type, data_dir=data_dir, seed=seed,
                                 progress=progress, train=train)
    if mal is None:
        out.missing.append("malicious NT (Algorithm 1)")
    else:
        out.malicious, _, out.malicious_path = mal
    return out
