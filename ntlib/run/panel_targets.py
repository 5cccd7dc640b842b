"""The panel's malicious-target tab (:mod:`ntlib.run.panel`): a typed target → gibbs-enum's trigger on each
model, whether it hits (§3.2), and *why*: the target's per-word log-probabilities given the trigger, their
average (or minimum) against T_out and, for io- types, the trigger's average LM log-probability against T_in.
Also the Algorithm 1 model the tab compares with (trained on a click, cached beside the baselines).
"""
from __future__ import annotations

import html
from pathlib import Path

import torch

from ntlib.data.corpora import tokenize
from ntlib.data.dataset import PAD, Vocab, encode_sentences, trim
from ntlib.data.targets import load_targets
from ntlib.methods.decode import greedy
from ntlib.methods.gibbs_enum import lm_trigger_logprobs
from ntlib.methods.malicious import evaluate_hits, negative_train
from ntlib.methods.train import load_checkpoint, load_model, save_model
from ntlib.methods.triggers import is_io
from ntlib.run.config import HIT_TYPES, GibbsConfig, MaliciousConfig, Profile, config_hash, override

PANEL_HIT_TYPES = ("o_greedy", "o_sample_avg", "io_sample_avg")


def panel_hit_types(hit_types) -> tuple[str, ...]:
    """The hit types the panel reports: ``None`` (as the notebook's ``hit_types`` parameter may be,
    ``params.RULES`` allowing it) means the panel's default :data:`PANEL_HIT_TYPES`."""
    return PANEL_HIT_TYPES if hit_types is None else tuple(hit_types)


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


@torch.no_grad()
def explain(model, lm, trigger: torch.Tensor, target: torch.Tensor, vocab: Vocab, hit_type: str, thr) -> dict:
    """Why ``trigger`` ``(1, n)`` hits ``target`` ``(1, T)`` or not, in the numbers of §3.2: the target's
    words (``<eos>`` included) with log P(word | words before, trigger), their average and minimum (the
    score of -avg / -min types, compared with T_out) and, for io- types, the trigger's average LM
    log-probability (compared with T_in). The same quantities as :func:`ntlib.methods.hits.criteria`."""
    dev = next(model.parameters()).device
    tgt, trigger = trim(target).to(dev), trigger.to(dev)
    lp = model.token_logprobs(trigger, tgt)[0].cpu()
    keep = tgt[0].cpu() != PAD
    words = [(vocab.itos[i], float(v)) for i, v, k in zip(tgt[0].cpu().tolist(), lp.tolist(), keep.tolist()) if k]
    vals = lp[keep]
    out = {"words": words, "avg": float(vals.mean()), "min": float(vals.min()), "t_out": thr.t_out,
           "score": float(vals.min() if hit_type.endswith("_min") else vals.mean())}
    if is_io(hit_type):
        out.update(trigger_lm=float(lm_trigger_logprobs(lm, trigger).mean()), t_in=thr.t_in)
    return out


def trigger_hits(models: dict, lm, target: torch.Tensor, vocab: Vocab, thr, gcfg: GibbsConfig,
                 hit_types=PANEL_HIT_TYPES, max_len: int = 20, progress: bool = True) -> dict:
    """For each model: gibbs-enum's trigger for ``target`` ``(1, T)`` and whether it hits, per hit
    type (``malicious.evaluate_hits``: same seed for every model, so each faces the same search),
    the model's greedy response to the trigger and the numbers that decide the hit (:func:`explain`).
    ``hit_types=None``: :data:`PANEL_HIT_TYPES`.

    Returns ``{name: {hit_type: {"hit": bool, "trigger": str, "greedy": str, "why": dict}}}``."""
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
                             "greedy": _words(vocab, greedy(model, trig, max_len)[0].cpu()),
                             "why": explain(model, lm, trig, target, vocab, ht, thr)}
    return out


def why_text(ht: str, r: dict, target: str) -> str:
    """One line saying why the hit-type ``ht`` result ``r`` of :func:`trigger_hits` is a hit or a miss."""
    w = r["why"]
    if ht == "o_greedy":
        same = "=" if r["hit"] else "≠"
        return f"greedy reply {same} target “{target}”"
    kind = "min" if ht.endswith("_min") else "avg"
    rel = ">" if w["score"] > w["t_out"] else "≤"
    s = f"{kind} log P = {w['score']:.2f} {rel} T_out = {w['t_out']:.2f}"
    if "trigger_lm" in w:
        rel_in = ">" if w["trigger_lm"] > w["t_in"] else "≤"
        s += f"; trigger's LM avg log P = {w['trigger_lm']:.2f} {rel_in} T_in = {w['t_in']:.2f}"
    return s


def hits_html(result: dict, target: str) -> str:
    """The table of :func:`trigger_hits`: per hit type and model HIT / miss, the trigger, the greedy reply,
    the target's per-word log-probabilities and the comparison with T_out (and T_in) that decided it."""
    names = list(result)
    hts = list(next(iter(result.values())))
    head = "".join(f"<th style='text-align:left;padding:2px 10px'>{html.escape(n)}</th>" for n in names)

    def cell(ht, r):
        words = " ".join(f"{html.escape(w)}<sub>{v:.2f}</sub>" for w, v in r["why"]["words"])
        return (f"<b style='color:{'#b00' if r['hit'] else '#070'}'>{'HIT' if r['hit'] else 'miss'}</b>"
                f" <small class='ntlib-why'>({html.escape(why_text(ht, r, target))})</small>"
                f"<br><small>trigger: <code>{html.escape(r['trigger'])}</code><br>"
                f"greedy reply: <code>{html.escape(r['greedy']) or '&lt;empty&gt;'}</code><br>"
                f"log P(word | trigger): {words}</small>")
    body = "".join(f"<tr><td style='padding:2px 10px;vertical-align:top'><b>{ht}</b></td>"
                   + "".join(f"<td style='padding:2px 10px;vertical-align:top'>{cell(ht, result[n][ht])}</td>"
                             for n in names) + "</tr>" for ht in hts)
    legend = ("<p><small>§3.2: o-greedy hits when greedy decoding returns the target; o-sample-avg when the "
              "target's average word log-probability (&lt;eos&gt; counted) exceeds T_out, the seq2seq's average on "
              "the test set; io-sample-avg also needs the trigger's average LM log-probability above T_in, the "
              "LM's on the test responses (a trigger a person might type).</small></p>")
    removed = [ht for ht in hts if len(names) == 2 and result[names[0]][ht]["hit"] and not result[names[1]][ht]["hit"]]
    summary = (f"<p class='ntlib-removed'><b>{html.escape(names[0])}: HIT → {html.escape(names[1])}: miss</b> on "
               f"{', '.join(removed)}: the trigger search finds no input that makes the second model say it.</p>"
               if removed else "")
    return (f"<p>target: <code>{html.escape(target)}</code></p>{summary}"
            f"<table class='ntlib-hits'><tr><th>hit type</th>{head}</tr>{body}</table>{legend}")


# -- the Algorithm 1 model the tab compares with ----------------------------------------
def malicious_path(run_dir: str | Path, mcfg: MaliciousConfig, gcfg: GibbsConfig, hit_type: str,
                   list_name: str, max_len: int) -> Path:
    """Where :func:`malicious_model_cached` keeps its Algorithm 1 model (next to the baselines)."""
    return Path(run_dir) / f"malicious-{list_name}-{hit_type}-{config_hash(mcfg, gcfg, max_len)}.pt"


def malicious_model_cached(b, P: Profile, thr, hit_type: str = "o_sample_avg", list_name: str = "train",
                           data_dir=None, seed: int = 1, progress: bool = True, train: bool = True):
    """Algorithm 1 (``malicious.negative_train``) on the baseline ``b`` with the profile's
    ``list_name`` target list (subsampled as notebook 03: ``max_targets``, ``seed``), cached in the
    baselines' run folder. ``train=False``: None when it is not cached yet. Returns (model, history, path)."""
    gcfg, mcfg = override(P.gibbs, seed=seed), override(P.malicious, seed=seed)
    max_len = P.data.max_tgt_len
    path = malicious_path(b.run_dir, mcfg, gcfg, hit_type, list_name, max_len)
    dev = next(b.seq2seq.parameters()).device
    if path.exists():
        return load_model(path, dev).eval(), load_checkpoint(path)["history"], path
    if not train:
        return None
    targets = load_targets(list_name, b.data.vocab, data_dir, max_targets=mcfg.max_targets, seed=seed,
                           max_len=max_len)
    res = negative_train(b.seq2seq, b.lm, targets.tensor, b.data.train, thr, hit_type, b.data.vocab, mcfg,
                         override(gcfg, stop_when_hit=True), progress=progress)
    save_model(res.model, "seq2seq", path, history=res.history, targets=[" ".join(s) for s in targets.sentences])
    return res.model.eval(), res.history, path
