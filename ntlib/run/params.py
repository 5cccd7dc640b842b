"""The notebooks' papermill parameters, checked: ``params.check(globals())`` opens the cell after
each notebook's ``parameters`` cell.

papermill only *warns* about a parameter the notebook does not define ("Passed unknown
parameter") and runs on with the defaults — ``-p reports_dri /tmp/x`` used to overwrite the
committed reports. :func:`check` finds the names papermill injected (its
``injected-parameters`` cell, which starts with ``# Parameters``, is in the kernel's input
history) and stops on any the notebook did not declare; it checks every declared value
(:data:`RULES`) and fills in ``reports_dir``: ``../reports`` only for the committed
small/Switchboard run, ``../reports/<corpus>-<profile>/`` (gitignored) for any other. An
explicit ``reports_dir`` in the committed ``reports/`` with another profile or corpus is refused.
A declared ``threads`` (default: every core, ``$NTLIB_THREADS`` overrides) is applied to torch
there too, and :func:`provenance` records it with the rest of the run's provenance.
"""
from __future__ import annotations

import ast
import difflib
import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from ntlib.machine.device import resolve_device
from ntlib.machine.provenance import default_threads, record
from ntlib.results.display import display_defaults
from ntlib.run.config import (
    CORPORA,
    HIT_TYPES,
    FrequentConfig,
    GanConfig,
    MaliciousConfig,
    MMIConfig,
    config_hash,
    override,
)
from ntlib.run.profiles import PROFILES, get_profile
from ntlib.run.rules import SEED, ConfigError, boolean, choice, integer, path, tuple_of

ROOT = Path(__file__).resolve().parents[2]      # the checkout
COMMITTED_REPORTS = ROOT / "reports"
DEFAULT_RUN = ("small", "switchboard")      # the run whose reports are committed


# The parameters every numbered notebook declares, typed, with these defaults; the environment
# variables that stand in for a default (the tests run every notebook on smoke with them, a reader may
# start JupyterLab with NTLIB_PROFILE=teach); ``threads = 0`` is $NTLIB_THREADS, else every core.
DEFAULTS = {"profile": "small", "corpus": "switchboard", "seed": 1, "run_root": "../runs", "reports_dir": None,
            "data_dir": None, "device": "auto", "threads": 0}
ENVIRONMENT = {"profile": "NTLIB_PROFILE", "run_root": "NTLIB_RUNS", "reports_dir": "NTLIB_REPORTS",
               "device": "NTLIB_DEVICE"}


class ParameterError(ValueError):
    """A notebook parameter that is unknown or has a bad value; the message names it."""


def _device(v) -> str | None:
    """A device setting ntlib.machine.device can resolve here (auto, cpu, cuda, cuda:N)."""
    if not isinstance(v, str) or not v:
        return "must be a device setting (str): auto, cpu, cuda or cuda:N"
    try:
        resolve_device(v)
    except (ValueError, RuntimeError) as e:
        return str(e)
    return None


RULES = {
    "profile": choice(PROFILES, none=True),       # None: only the panel's (the profile last reproduced); start refuses it
    "corpus": choice(CORPORA),
    "seed": SEED,
    "run_root": path(),
    "reports_dir": path(none=True),
    "data_dir": path(none=True),
    "threads": integer(1),
    "eos_comparison": boolean,
    "device": _device,
    # notebooks/panel.ipynb
    "n_samples": integer(0, 20),
    "ab_inputs": integer(1),
    "hit_types": lambda v: _hit_types(v),
}


def _hit_types(v) -> str | None:
    """A non-empty tuple of §3.2's hit types, or None (notebook 03: the profile's ``MaliciousConfig.hit_types``)."""
    if v is None or tuple_of(choice(HIT_TYPES))(v) is None:
        return None
    return f"must be a non-empty tuple of hit types from {list(HIT_TYPES)} (or None: the profile's)"

# -- the knobs a student turns (issue 19): notebook parameter → (Profile stage, config field) --------
# Default None everywhere: the profile's value, so a default run is the profile's run, bit for bit.
# Checked by the config's own field rule (``_RULES``), the message naming the parameter. ``r_thres``
# (one threshold or a list) sets the thresholds notebook 04 trains, ``FrequentConfig.sweep``.
KNOB_CONFIGS = {"malicious": MaliciousConfig, "frequent": FrequentConfig, "gan": GanConfig, "mmi": MMIConfig}
KNOBS = {
    # notebook 03 (Algorithm 1, §4.2)
    "hit_types": ("malicious", "hit_types"),
    "iterations": ("malicious", "iterations"),
    "max_targets": ("malicious", "max_targets"),
    "lists": ("malicious", "lists"),
    # notebook 04 (Algorithm 2, §4.3)
    "r_thres": ("frequent", "sweep"),
    "eos_scale": ("frequent", "eos_scale"),
    "lr": ("frequent", "lr"),
    "window": ("frequent", "window"),
    # notebook 05 (App. E GAN, MMI-antiLM)
    "alpha_G": ("gan", "g_lrs"),
    "mmi_lambdas": ("mmi", "lambdas"),
}


def knob_value(name: str, v):
    """The config field's value of knob ``name``'s notebook value: a list as a tuple, one threshold as
    ``r_thres``'s one-element sweep."""
    if isinstance(v, list):
        return tuple(v)
    if name == "r_thres" and not isinstance(v, tuple):
        return (v,)
    return v


def _knob_rule(name: str):
    stage, field = KNOBS[name]
    cls = KNOB_CONFIGS[stage]
    rule = cls._RULES[field]

    def check_knob(v):
        if v is None:
            return None
        err = rule(knob_value(name, v))
        return None if err is None else f"{err} (as {cls.__name__}.{field}; None: the profile's value)"
    return check_knob


RULES.update({name: _knob_rule(name) for name in KNOBS if name != "hit_types"})   # hit_types: the panel's too


def apply(cfg, ns: dict, *names: str):
    """``cfg`` (a stage config) with the field of each knob in ``names`` (:data:`KNOBS`) set to the
    notebook's value ``ns[name]`` when that is not None; None leaves the profile's value (the same
    config object, so a default run is unchanged). The config validates the new value; a bad one is a
    :class:`ParameterError` naming the parameter and the config field."""
    for name in names:
        if name not in KNOBS:
            raise ValueError(f"{name!r} is not a notebook knob; knobs are {sorted(KNOBS)}")
        v = ns.get(name)
        if v is None:
            continue
        field = KNOBS[name][1]
        try:
            cfg = override(cfg, **{field: knob_value(name, v)})
        except (ConfigError, TypeError) as e:
            raise ParameterError(f"parameter {name} = {v!r}: {e}") from None
    return cfg


# Parameters that change a notebook's results, with the committed run's values: a run that sets any
# other value is not the committed run, and never writes into the committed reports/.
RESULT_DEFAULTS = {"seed": 1, "eos_comparison": False, **{name: None for name in KNOBS}}


def changed_settings(ns: dict) -> dict:
    """{parameter: value} of the notebook's result-changing parameters (:data:`RESULT_DEFAULTS`) that
    differ from the committed run's."""
    return {k: ns[k] for k, default in RESULT_DEFAULTS.items() if k in ns and ns[k] != default}


def default_reports_dir(profile: str, corpus: str, changed: dict | None = None) -> Path:
    """``reports/`` holds the committed small/Switchboard run; other profiles or corpora go to
    ``reports/<corpus>-<profile>/`` and a run with changed settings (:func:`changed_settings`) to
    ``reports/<corpus>-<profile>-custom-<hash of the settings>/`` (all gitignored)."""
    if (profile, corpus) == DEFAULT_RUN and not changed:
        return COMMITTED_REPORTS
    if changed:
        return COMMITTED_REPORTS / f"{corpus}-{profile}-custom-{config_hash(sorted(changed.items()))[:8]}"
    return COMMITTED_REPORTS / f"{corpus}-{profile}"


def check_reports_dir(reports_dir, profile: str, corpus: str, changed: dict | None = None) -> None:
    """Refuse a ``reports_dir`` inside the committed ``reports/`` (other than a gitignored
    ``<corpus>-<profile>…`` sub-folder) for any run but the committed one: small/Switchboard with the
    committed settings (``changed``: the settings that differ, :func:`changed_settings`)."""
    if (profile, corpus) == DEFAULT_RUN and not changed:
        return
    path = Path(reports_dir).resolve()
    try:
        rel = path.relative_to(COMMITTED_REPORTS.resolve())
    except ValueError:
        return
    if not rel.parts or "-" not in rel.parts[0]:
        what = (f"a {profile}/{corpus} run" if (profile, corpus) != DEFAULT_RUN else
                "a run with " + ", ".join(f"{k} = {v!r}" for k, v in changed.items()))
        raise ParameterError(
            f"reports_dir = {str(reports_dir)!r} is the committed reports/ ({path}), which holds the "
            f"{DEFAULT_RUN[0]}/{DEFAULT_RUN[1]} run with the committed settings only; {what} would overwrite it. "
            f"Leave reports_dir unset (→ {default_reports_dir(profile, corpus, changed).relative_to(ROOT)}/) "
            "or choose another folder")


def _assigned(source: str) -> set[str]:
    """Names a cell binds at top level (assignments, imports, defs)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:                     # IPython magics etc.: binds nothing we check
        return set()
    names = set()
    for node in tree.body:
        targets = (node.targets if isinstance(node, ast.Assign) else
                   [node.target] if isinstance(node, (ast.AnnAssign, ast.AugAssign)) else [])
        for t in targets:
            names |= {n.id for n in ast.walk(t) if isinstance(n, ast.Name)}
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
    return names


def injected_names(history: list[str]) -> tuple[set[str], set[str]]:
    """(declared, injected): names bound by the cells run so far (the ``parameters`` cell ...)
    and names bound by papermill's injected cells (source starting ``# Parameters``)."""
    declared, injected = set(), set()
    for source in history:
        (injected if source.lstrip().startswith("# Parameters") else declared).update(_assigned(source))
    return declared, injected


def check(ns: dict) -> None:
    """Check a notebook's parameters in its namespace ``ns`` (``globals()``), after papermill
    injected its values: an injected name the notebook does not declare, or a declared value
    that breaks :data:`RULES`, is a :class:`ParameterError` naming it. Sets ``ns["reports_dir"]``
    when it is None (see :func:`default_reports_dir`, relative to the working directory; a run whose
    result-changing parameters differ from the committed run's writes elsewhere) and
    ``torch.set_num_threads(threads)`` when the notebook declares ``threads``; sets the notebook's
    table display (:func:`ntlib.results.display.display_defaults`)."""
    history = list(ns.get("In", ns.get("_ih", [])))[1:-1]     # cells run before this one
    declared, injected = injected_names(history)
    for name, var in ENVIRONMENT.items():    # $NTLIB_… stand in for a default papermill did not replace
        if name in ns and name not in injected and ns[name] in (DEFAULTS[name], None) and os.environ.get(var):
            ns[name] = os.environ[var]
    if ns.get("threads") == 0:
        ns["threads"] = default_threads()   # $NTLIB_THREADS, else every core
    unknown = sorted(injected - declared)
    if unknown:
        known = sorted(n for n in declared if n in RULES)
        hints = {u: difflib.get_close_matches(u, known, 1) for u in unknown}
        hint = "; ".join(f"{u!r}: did you mean {h[0]!r}?" for u, h in hints.items() if h)
        raise ParameterError(f"unknown parameter(s) {unknown} passed to this notebook (papermill -p); "
                             f"its parameters are {known}" + (f". {hint}" if hint else ""))
    for name, rule in RULES.items():
        if name in ns:
            err = rule(ns[name])
            if err:
                raise ParameterError(f"parameter {name} = {ns[name]!r}: {err}")
    profile, corpus = ns.get("profile"), ns.get("corpus")
    if "reports_dir" in ns and profile is not None and corpus is not None:
        changed = changed_settings(ns)
        if ns["reports_dir"] is None:
            ns["reports_dir"] = os.path.relpath(default_reports_dir(profile, corpus, changed), os.getcwd())
            if changed:
                print(f"settings that differ from the committed run ({', '.join(f'{k} = {v!r}' for k, v in changed.items())}): "
                      f"reports go to {ns['reports_dir']}")
        check_reports_dir(ns["reports_dir"], profile, corpus, changed)
    if "threads" in ns:
        torch.set_num_threads(ns["threads"])
    display_defaults()                      # tables: 4 significant digits, "–" for missing, uncut


def provenance(ns: dict, run_dir=None) -> dict:
    """:func:`ntlib.machine.provenance.record` for a notebook's results: its ``threads`` and ``device``
    parameters (when declared) and the baselines ``run_dir`` whose models it used."""
    return record(threads=ns.get("threads"), device=ns.get("device"), run_dir=run_dir)


@dataclass
class NotebookRun:
    """What a notebook runs with, after :func:`start`: its checked parameters, the profile's configs
    (``P``, every stage config's seed set to ``seed``) and when it started. The stage drivers
    (:mod:`ntlib.stages`) take it instead of a dozen arguments."""
    profile: str
    corpus: str
    seed: int
    run_root: str
    reports_dir: str
    data_dir: str | None
    device: str
    threads: int | None
    P: object                    # ntlib.run.config.Profile
    values: dict                 # every declared parameter's value (the knobs of notebooks 03–05 among them)
    t_start: float

    def provenance(self, run_dir=None) -> dict:
        """:func:`provenance` of this run (its threads and device, the baselines' run folder)."""
        return provenance({"threads": self.threads, "device": self.device}, run_dir)

    def seconds(self) -> float:
        return time.time() - self.t_start


def start(ns: dict) -> NotebookRun:
    """A notebook's first call: :func:`check` its parameters (``ns`` = ``globals()``), seed torch with
    ``seed`` and build the profile's configs. Returns the :class:`NotebookRun` the stage drivers take."""
    t_start = time.time()
    check(ns)
    if ns.get("profile") is None:
        raise ParameterError(f"parameter profile = None: a stage notebook runs one profile, one of {sorted(PROFILES)} "
                             "(None is the panel's: the profile last reproduced)")
    torch.manual_seed(ns.get("seed", 1))
    values = {k: ns[k] for k in RULES if k in ns}
    return NotebookRun(profile=ns["profile"], corpus=ns["corpus"], seed=ns.get("seed", 1), run_root=ns.get("run_root"),
                       reports_dir=ns.get("reports_dir"), data_dir=ns.get("data_dir"), device=ns.get("device", "auto"),
                       threads=ns.get("threads"), P=get_profile(ns["profile"], ns["corpus"], seed=ns.get("seed", 1)),
                       values=values, t_start=t_start)
