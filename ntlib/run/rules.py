"""Field rules of the configs and the notebooks' parameters: each rule returns None when a value is
allowed, else what is allowed (:class:`ConfigError` names the class and field). Public: the stage
configs (:mod:`ntlib.run.config`), the notebook parameters (:mod:`ntlib.run.params`) and notebook 07's
config use the same rules.
"""
from __future__ import annotations

import dataclasses
import math
import os

MAX_LR = 100.0          # no optimiser here is stable beyond it: an LR above is a typo (1e9 overflowed)


MIN_VOCAB_WORDS = 2     # words besides the 5 special tokens: fewer leaves a model nothing to choose


MAX_BEAM = 100          # beam search holds inputs × beam × V log-probabilities: 10**6 exhausted 24 GB (paper: 10)


class ConfigError(ValueError):
    """A config field with a bad value; the message names the class, field, value and what is allowed."""


# -- field rules: each returns None when the value is allowed, else what is allowed -----------
def registered(registry: dict, what: str):
    """A name of ``registry`` (read when the rule runs, so every registered entry counts)."""
    def rule(v):
        return None if isinstance(v, str) and v in registry else f"must be a registered {what}: one of {sorted(registry)}"
    return rule


def path(none: bool = False):
    """A path (str or os.PathLike, not empty), or None when ``none``."""
    def rule(v):
        if (v is None and none) or (isinstance(v, (str, os.PathLike)) and str(v)):
            return None
        return "must be a path (str)" + (" or None" if none else "")
    return rule


def is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def integer(lo: int = 0, hi: int | None = None, none: bool = False):
    def rule(v):
        if (v is None and none) or (is_int(v) and v >= lo and (hi is None or v <= hi)):
            return None
        rng = f"≥ {lo}" if hi is None else f"in [{lo}, {hi}]"
        return f"must be an int {rng}" + (" or None" if none else "")
    return rule


def number(lo: float, hi: float | None = None, lo_open: bool = False, none: bool = False, why: str = "",
           hi_open: bool = False):
    """A finite int or float in [lo, hi] (``lo_open`` / ``hi_open``: excluding the bound)."""
    def rule(v):
        if v is None and none:
            return None
        ok = ((is_int(v) or isinstance(v, float)) and math.isfinite(v)
              and (v > lo if lo_open else v >= lo) and (hi is None or (v < hi if hi_open else v <= hi)))
        if ok:
            return None
        rng = f"{'>' if lo_open else '≥'} {lo:g}" + ("" if hi is None else f" and {'<' if hi_open else '≤'} {hi:g}")
        return f"must be a finite number {rng}" + (" or None" if none else "") + why
    return rule


SEED = integer(0, 2**63 - 1)     # torch.manual_seed's range


LR = number(0, MAX_LR, lo_open=True, why=f" (an LR above {MAX_LR:g} only diverges or overflows)")


def boolean(v):
    return None if isinstance(v, bool) else "must be True or False"


def choice(values, none: bool = False):
    def rule(v):
        if (v is None and none) or (isinstance(v, str) and v in values):
            return None
        return f"must be one of {sorted(values)}" + (" or None" if none else "")
    return rule


def text(none: bool = False):
    def rule(v):
        if (v is None and none) or (isinstance(v, str) and v):
            return None
        return "must be a non-empty str" + (" or None" if none else "")
    return rule


def tuple_of(item, nonempty: bool = True, none: bool = False):
    """A tuple (a list is accepted and stored as a tuple; a str is refused: ``lists='train'``
    would otherwise be the letters t, r, a, i, n) whose every item passes ``item``; or None if ``none``."""
    def rule(v):
        if none and v is None:
            return None
        what = f"must be a {'non-empty ' if nonempty else ''}tuple (not a str); each item {item(object())}"
        if not isinstance(v, (tuple, list)) or (nonempty and not v):
            return what
        bad = [x for x in v if item(x) is not None]
        return f"{what}; not allowed: {bad!r}" if bad else None
    return rule


class Checked:
    """Mixin: ``__post_init__`` checks every field against the class's ``_RULES``."""
    _RULES: dict = {}

    def __post_init__(self):
        name = type(self).__name__
        fields = {f.name for f in dataclasses.fields(self)}
        missing = fields - set(self._RULES)
        assert not missing, f"{name}: no rule for {sorted(missing)}"
        for key in dataclasses.fields(self):
            v = getattr(self, key.name)
            if isinstance(v, list):
                v = tuple(v)
                object.__setattr__(self, key.name, v)
            err = self._RULES[key.name](v)
            if err:
                raise ConfigError(f"{name}.{key.name} = {v!r}: {err}")
        self._check()

    def _check(self):
        """Checks across fields (subclasses)."""
