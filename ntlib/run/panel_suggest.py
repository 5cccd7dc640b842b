"""Targets the panel suggests (:mod:`ntlib.run.panel`): ones the baseline actually hits, found, not listed.

Each target of the malicious training list (the one Algorithm 1 trained on) is searched *alone* with the
panel's gibbs-enum settings — exactly what the malicious-target tab does when a teacher types it
(:func:`ntlib.run.panel_targets.trigger_hits`; on the CPU the search is deterministic), so a suggested
target is a HIT when typed. Targets the baseline hits on Algorithm 1's hit type are kept and, when the
Algorithm 1 model is cached, searched on it too: a target hit before and missed after is the lesson's
example, listed first. The result is cached per baseline (its run folder) and search setting.
"""
from __future__ import annotations

import html
from pathlib import Path

from tqdm.auto import tqdm

from ntlib.data.dataset import encode_sentences
from ntlib.data.targets import load_targets
from ntlib.machine.provenance import code_digest
from ntlib.results.reports import read_json, write_json
from ntlib.run.config import config_hash
from ntlib.run.panel_targets import panel_hit_types, trigger_hits

MAX_SEARCH = 30        # targets searched at most (the teach profile's list has 20; paper's 500 would take hours)
PRIMARY = "o_sample_avg"   # the hit type Algorithm 1 trains against in the panel (malicious_model_cached)


def search_targets(model, lm, sentences: list[list[str]], vocab, thr, gcfg, hit_types, max_tgt_len: int,
                   max_len: int = 20, progress: bool = False) -> dict:
    """``{target: {hit_type: {"hit": bool, "score": float}}}``: each target (a token list) searched alone,
    as the tab searches a typed one, on ``model``; ``score`` is the average (or min) log-probability
    compared with T_out (for o-greedy the average too, shown for ranking)."""
    hit_types = panel_hit_types(hit_types)
    out = {}
    for s in tqdm(sentences, desc="targets", leave=False, disable=not progress):
        y = encode_sentences([s], vocab, max_tgt_len)
        r = trigger_hits({"m": model}, lm, y, vocab, thr, gcfg, hit_types, max_len, progress=False)["m"]
        out[" ".join(s)] = {ht: {"hit": v["hit"], "score": v["why"]["score"]} for ht, v in r.items()}
    return out


def find_suggestions(baseline, lm, sentences: list[list[str]], vocab, thr, gcfg, hit_types, max_tgt_len: int,
                     after=None, max_len: int = 20, primary: str = PRIMARY, progress: bool = False,
                     known: dict | None = None) -> dict:
    """The targets of ``sentences`` the ``baseline`` hits on ``primary`` (added to ``hit_types`` when missing)
    and, with ``after`` (the Algorithm 1 model), whether each still hits there.

    Returns ``{"searched": n, "baseline": {...}, "after": {...} | None, "suggested": [target, ...]}`` with
    :func:`search_targets`'s records; ``suggested``: hit before and missed after first, then hit on both
    (or no ``after``), each group by the baseline's score, highest first. ``known``: a previous result
    whose ``baseline`` records are reused (the cache, when only ``after`` is new)."""
    hts = tuple(dict.fromkeys((primary, *panel_hit_types(hit_types))))
    base = (known or {}).get("baseline")
    if base is None or any(" ".join(s) not in base for s in sentences):
        base = search_targets(baseline, lm, sentences, vocab, thr, gcfg, hts, max_tgt_len, max_len, progress)
    hit = [s for s in sentences if base[" ".join(s)][primary]["hit"]]
    aft = None if after is None else search_targets(after, lm, hit, vocab, thr, gcfg, hts, max_tgt_len, max_len,
                                                    progress)
    def order(s):
        t = " ".join(s)
        removed = aft is not None and not aft[t][primary]["hit"]
        return (not removed, -base[t][primary]["score"])
    return {"searched": len(sentences), "primary": primary, "baseline": base, "after": aft,
            "suggested": [" ".join(s) for s in sorted(hit, key=order)]}


def suggestions_path(run_dir, gcfg, hit_types, targets_key, thr, after_path=None) -> Path:
    """The cache file of :func:`suggested_targets`: the baseline's run folder, keyed by the search, the
    hit types, the targets, the thresholds, the Algorithm 1 model's file and the code that decides."""
    key = config_hash(gcfg, list(panel_hit_types(hit_types)), targets_key, [thr.t_out, thr.t_in],
                      None if after_path is None else Path(after_path).name,
                      code_digest("ntlib.run.panel_suggest"))
    return Path(run_dir) / f"panel-targets-{key}.json"


def training_targets(P, vocab, data_dir=None, seed: int = 1, max_search: int = MAX_SEARCH) -> list[list[str]]:
    """The first ``max_search`` targets of the list Algorithm 1 trains on in the panel (the profile's 0.5k
    training list, subsampled as notebook 03: ``max_targets``, ``seed``)."""
    t = load_targets("train", vocab, data_dir, max_targets=P.malicious.max_targets, seed=seed,
                     max_len=P.data.max_tgt_len)
    return t.sentences[:max_search]


def suggested_targets(b, P, thr, gcfg, hit_types, sentences, after=None, after_path=None,
                      progress: bool = False, compute: bool = True) -> dict | None:
    """:func:`find_suggestions` for baseline ``b`` (``pipeline.Baselines``), cached in its run folder; the
    baseline's searches are kept when only the Algorithm 1 model is new. ``compute=False``: None when
    not cached."""
    key = [" ".join(s) for s in sentences]
    path = suggestions_path(b.run_dir, gcfg, hit_types, key, thr, after_path)
    if path.is_file():
        return read_json(path)
    if not compute:
        return None
    before = suggestions_path(b.run_dir, gcfg, hit_types, key, thr)
    known = read_json(before) if after is not None and before.is_file() else None
    res = find_suggestions(b.seq2seq, b.lm, sentences, b.data.vocab, thr, gcfg, hit_types, P.data.max_tgt_len,
                           after, P.decode.max_len, progress=progress, known=known)
    if after is not None and known is None:
        write_json({**res, "after": None}, before)
    write_json(res, path)
    return res


def suggestions_html(res: dict) -> str:
    """The suggested targets as ``<code>`` chips (the first ones hit before and missed after Algorithm 1)."""
    if not res["suggested"]:
        return (f"<p>None of the {res['searched']} training-list targets searched is hit by the baseline "
                f"({res['primary']}); type your own.</p>")
    aft = res.get("after")
    chips = []
    for t in res["suggested"]:
        note = ""
        if aft is not None:
            note = " (missed after Alg. 1)" if not aft[t][res["primary"]]["hit"] else " (still hit after Alg. 1)"
        chips.append(f"<code>{html.escape(t)}</code><small>{note}</small>")
    removed = 0 if aft is None else sum(not aft[t][res["primary"]]["hit"] for t in res["suggested"])
    after_note = ("The Algorithm 1 model is not cached yet: train it to see which of them it removes."
                  if aft is None else f"{removed} of them miss after Algorithm 1 (listed first).")
    return (f"<p>Targets the baseline hits ({res['primary']}; {len(res['suggested'])} of the "
            f"{res['searched']} training-list targets searched, each as this tab searches it): "
            + ", ".join(chips) + f". {after_note} Any other target tests whether negative training "
            "generalises.</p>")
