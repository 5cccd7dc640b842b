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
from ntlib.data.dataset import EOU, PAD, Vocab, encode_sentences
from ntlib.data.targets import load_targets
from ntlib.methods import frequent
from ntlib.methods.decode import greedy, respond, sample
from ntlib.methods.hits import thresholds
from ntlib.methods.malicious import evaluate_hits, negative_train
from ntlib.methods.train import load_checkpoint, load_model, save_model
from ntlib.run import pipeline
from ntlib.run.config import HIT_TYPES, GibbsConfig, MaliciousConfig, Profile, config_hash, override
from ntlib.run.profiles import get_profile

PANEL_HIT_TYPES = ("o_greedy", "o_sample_avg", "io_sample_avg")


def panel_hit_types(hit_types) -> tuple[str, ...]:
    """The hit types the panel reports: ``None`` (as the notebook's ``hit_types`` parameter may be,
    ``params.RULES`` allowing it) means the panel's default :data:`PANEL_HIT_TYPES`."""
    return PANEL_HIT_TYPES if hit_types is None else tuple(hit_types)


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


def encode_target(text: str, vocab: Vocab, max_len: int) -> tuple[torch.Tensor, list[str]]:
    """A typed malicious target → ``(1, max_len + 1)`` ids (``y + <eos>``) and its tokens.
    A word outside the vocabulary is refused, as ``malicious.load_targets`` drops such targets:
    the model cannot emit it, and ``<unk>`` in its place would make hits spurious."""
    tokens = tokenize(text)[:max_len]
    if not tokens:
        raise ValueError(f"target {text!r} has no words")
    unknown = [t for t in tokens if t not in vocab.stoi]
    if unknown:
        raise ValueError(f"target {text!r}: {unknown} not in the model's {len(vocab)}-word vocabulary; "
                         "the model cannot say it, so there is no trigger to find")
    return encode_sentences([tokens], vocab, max_len), tokens


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


# -- tab 2: malicious target -------------------------------------------------------------
def trigger_hits(models: dict, lm, target: torch.Tensor, vocab: Vocab, thr, gcfg: GibbsConfig,
                 hit_types=PANEL_HIT_TYPES, max_len: int = 20, progress: bool = True) -> dict:
    """For each model: gibbs-enum's trigger for ``target`` ``(1, T)`` and whether it hits, per hit
    type (``malicious.evaluate_hits``: same seed for every model, so each faces the same search),
    and the model's greedy response to the trigger. ``hit_types=None``: :data:`PANEL_HIT_TYPES`.

    Returns ``{name: {hit_type: {"hit": bool, "trigger": str, "greedy": str}}}``."""
    hit_types = panel_hit_types(hit_types)
    for ht in hit_types:
        if ht not in HIT_TYPES:
            raise ValueError(f"unknown hit type {ht!r}; choose from {list(HIT_TYPES)}")
    out = {}
    for name, model in models.items():
        res = evaluate_hits(model, lm, target, thr, tuple(hit_types), gcfg, progress=progress)
        out[name] = {}
        for ht in hit_types:
            trig = res[ht]["triggers"][:1]
            out[name][ht] = {"hit": bool(res[ht]["hits"][0]), "trigger": _words(vocab, trig[0].cpu()),
                             "greedy": _words(vocab, greedy(model, trig, max_len)[0].cpu())}
    return out


def hits_html(result: dict, target: str) -> str:
    names = list(result)
    hts = list(next(iter(result.values())))
    head = "".join(f"<th style='text-align:left;padding:2px 10px'>{html.escape(n)}</th>" for n in names)
    cell = lambda r: (f"<b style='color:{'#b00' if r['hit'] else '#070'}'>{'HIT' if r['hit'] else 'miss'}</b>"
                      f"<br><small>trigger: <code>{html.escape(r['trigger'])}</code><br>"
                      f"greedy reply: <code>{html.escape(r['greedy']) or '&lt;empty&gt;'}</code></small>")
    body = "".join(f"<tr><td style='padding:2px 10px'><b>{ht}</b></td>"
                   + "".join(f"<td style='padding:2px 10px;vertical-align:top'>{cell(result[n][ht])}</td>"
                             for n in names) + "</tr>" for ht in hts)
    return (f"<p>target: <code>{html.escape(target)}</code></p>"
            f"<table class='ntlib-hits'><tr><th>hit type</th>{head}</tr>{body}</table>")


def malicious_path(run_dir: str | Path, mcfg: MaliciousConfig, gcfg: GibbsConfig, hit_type: str,
                   list_name: str, max_len: int) -> Path:
    """Where :func:`malicious_model_cached` keeps its Algorithm 1 model (next to the baselines)."""
    return Path(run_dir) / f"malicious-{list_name}-{hit_type}-{config_hash(mcfg, gcfg, max_len)}.pt"


def malicious_model_cached(b, P: Profile, thr, hit_type: str = "o_sample_avg", list_name: str = "train",
                           data_dir=None, seed: int = 1, progress: bool = True, train: bool = True):
    """Algorithm 1 (``malicious.negative_train``) on the baseline ``b`` with the profile's
    ``list_name`` target list (subsampled as notebook 03: ``max_targets``, ``seed``), cached in the
    baselines' run folder. ``train=False``: None when it is not cached yet."""
    gcfg, mcfg = override(P.gibbs, seed=seed), override(P.malicious, seed=seed)
    max_len = P.data.max_tgt_len
    path = malicious_path(b.run_dir, mcfg, gcfg, hit_type, list_name, max_len)
    dev = next(b.seq2seq.parameters()).device
    if path.exists():
        return load_model(path, dev).eval(), load_checkpoint(path)["history"]
    if not train:
        return None
    targets = load_targets(list_name, b.data.vocab, data_dir, max_targets=mcfg.max_targets, seed=seed,
                           max_len=max_len)
    res = negative_train(b.seq2seq, b.lm, targets.tensor, b.data.train, thr, hit_type, b.data.vocab, mcfg,
                         override(gcfg, stop_when_hit=True), progress=progress)
    save_model(res.model, "seq2seq", path, history=res.history, targets=[" ".join(s) for s in targets.sentences])
    return res.model.eval(), res.history


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


def frequent_config(P: Profile, seed: int = 1):
    """The frequent-NT config of notebook 04's "+neg-train" row: the smaller r_thres of the sweep."""
    return override(P.frequent, seed=seed, r_thres=min(P.frequent.sweep))


def load_models(profile: str, corpus: str = "switchboard", seed: int = 1, run_root: str | Path = "runs",
                data_dir=None, device=None, train: bool = False, progress: bool = True,
                hit_type: str = "o_sample_avg") -> PanelModels:
    """The panel's models from the notebooks' run folders; ``train=True`` trains what is missing
    (baselines, frequent NT, malicious NT), else only loads and lists the missing ones."""
    P = get_profile(profile, corpus, seed=seed)
    out = PanelModels(P, Path(run_root))
    run_dir = pipeline.baselines_run_dir(P, run_root, data_dir)
    if not train and not all((run_dir / f"{k}.pt").exists() for k in ("lm", "seq2seq")):
        out.missing = ["baselines (notebook 02)", "frequent NT (notebook 04)", "malicious NT (Algorithm 1)"]
        return out
    b = pipeline.baselines(P, run_root=run_root, data_dir=data_dir, progress=progress, device=device)
    out.baselines = b
    out.thresholds = thresholds(b.seq2seq, b.lm, b.data.test)
    fcfg, max_len = frequent_config(P, seed), P.decode.max_len
    fpath = frequent.cached_model_path(fcfg, b.run_dir, max_len)      # notebook 04's model, when it ran
    if train or fpath.exists():
        out.frequent, _ = frequent.negative_train_cached(b.seq2seq, b.data, fcfg, b.run_dir, max_len, progress)
    else:
        out.frequent = None
        out.missing.append("frequent NT (notebook 04)")
    mal = malicious_model_cached(b, P, out.thresholds, hit_type, data_dir=data_dir, seed=seed,
                                 progress=progress, train=train)
    if mal is None:
        out.missing.append("malicious NT (Algorithm 1)")
    else:
        out.malicious = mal[0]
    return out
