"""Which profile the panel (:mod:`ntlib.run.panel`) opens on: the one a teacher last reproduced.

``python -m ntlib.run.reproduce --profile P`` leaves ``<run_root>/reproduce-<corpus>-<P>[-seed<N>]/reproduce.json``
(profile, corpus, seed and each stage's finishing time); the panel follows the newest of them. Without one, it
opens on a profile whose baselines are cached under ``run_root`` (the newest), and only when there is none on
``smoke`` — saying so in its status line, never silently. The panel's selector switches to any other profile.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from ntlib.run.profiles import PROFILES, baseline_seeds, get_profile

FALLBACK = "smoke"        # no run under run_root at all: the profile whose models train in seconds


@dataclass
class ProfileChoice:
    """The profile the panel opens on, the first baseline seed of its run, and why (shown in the panel)."""
    profile: str
    seed: int
    why: str


def _finished(rec: dict, path: Path) -> str:
    """When a reproduction ended: its last stage's ``finished`` (a sortable local time), else the file's mtime."""
    times = [s.get("finished", "") for s in rec.get("stages", []) if isinstance(s, dict)]
    if any(times):
        return max(times)
    import time
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(path.stat().st_mtime))


def reproductions(run_root: str | Path, corpus: str | None = None) -> list[dict]:
    """Every reproduction recorded under ``run_root`` (``reproduce-*/reproduce.json``), newest first:
    ``{"profile", "corpus", "seed", "finished", "path"}``; files that are not a reproduction's record
    (unreadable, an unknown profile) are skipped, as are other corpora when ``corpus`` is given."""
    out = []
    for path in Path(run_root).glob("reproduce-*/reproduce.json"):
        try:
            rec = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(rec, dict) or rec.get("profile") not in PROFILES:
            continue
        if corpus is not None and rec.get("corpus") != corpus:
            continue
        m = re.search(r"-seed(\d+)$", path.parent.name)
        seed = int(rec.get("seed") or (m.group(1) if m else 1))
        out.append({"profile": rec["profile"], "corpus": rec.get("corpus"), "seed": seed,
                    "finished": _finished(rec, path), "path": path})
    return sorted(out, key=lambda r: r["finished"], reverse=True)


def cached_profiles(run_root: str | Path, corpus: str) -> list[str]:
    """Profiles with a trained baseline seq2seq under ``run_root`` (``baselines-<corpus>-<profile>-seed…``),
    the most recently trained first."""
    found = {}
    for path in Path(run_root).glob(f"baselines-{corpus}-*-seed*/seq2seq.pt"):
        m = re.match(rf"baselines-{re.escape(corpus)}-(\w+)-seed\d+-", path.parent.name)
        if m and m.group(1) in PROFILES:
            found[m.group(1)] = max(found.get(m.group(1), 0.0), path.stat().st_mtime)
    return sorted(found, key=found.get, reverse=True)


def choose_profile(requested: str | None, run_root: str | Path, corpus: str, seed: int | None = None) -> ProfileChoice:
    """The panel's profile: ``requested`` when given; else the newest reproduction of ``corpus`` under
    ``run_root``; else the most recently trained cached profile; else :data:`FALLBACK`, said as such.
    ``seed`` (None: the run's first baseline) is the baseline the panel shows."""
    runs = reproductions(run_root, corpus)
    if requested is not None:
        if requested not in PROFILES:
            raise ValueError(f"unknown profile {requested!r}; choose one of {sorted(PROFILES)}")
        run = next((r for r in runs if r["profile"] == requested), None)
        first = run["seed"] if run else 1
        return ProfileChoice(requested, first if seed is None else seed, "chosen")
    if runs:
        r = runs[0]
        why = f"the last reproduction under {run_root} ({r['path'].parent.name}, finished {r['finished']})"
        seeds = baseline_seeds(get_profile(r["profile"], seed=r["seed"]))
        if seed is not None and seed not in seeds:
            why += f"; seed {seed} is not one of its baselines {seeds}: its first"
            seed = None
        return ProfileChoice(r["profile"], r["seed"] if seed is None else seed, why)
    cached = cached_profiles(run_root, corpus)
    if cached:
        return ProfileChoice(cached[0], 1 if seed is None else seed,
                             f"no reproduction recorded under {run_root}; its most recently trained baselines")
    return ProfileChoice(FALLBACK, 1 if seed is None else seed,
                         f"no run under {run_root} yet: {FALLBACK} (models train here in seconds); "
                         "`make reproduce PROFILE=teach` first for a class")
