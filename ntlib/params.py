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
from pathlib import Path

from .config import CORPORA, PROFILES

ROOT = Path(__file__).resolve().parent.parent
COMMITTED_REPORTS = ROOT / "reports"
DEFAULT_RUN = ("small", "switchboard")      # the run whose reports are committed


class ParameterError(ValueError):
    """A notebook parameter that is unknown or has a bad value; the message names it."""


def _choice(values):
    return lambda v: None if v in values else f"must be one of {sorted(values)}"


def _opt_str(v):
    return None if v is None or (isinstance(v, (str, os.PathLike)) and str(v)) else "must be a path (str) or None"


RULES = {
    "profile": _choice(PROFILES),
    "corpus": _choice(CORPORA),
    "seed": lambda v: None if isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2**63
    else "must be an int ≥ 0",
    "run_root": lambda v: None if isinstance(v, (str, os.PathLike)) and str(v) else "must be a path (str)",
    "reports_dir": _opt_str,
    "data_dir": _opt_str,
    "threads": lambda v: None if isinstance(v, int) and not isinstance(v, bool) and v >= 1
    else "must be an int ≥ 1",
    "eos_comparison": lambda v: None if isinstance(v, bool) else "must be True or False",
    "device": lambda v: _device_problem(v),
    # notebooks/panel.ipynb
    "n_samples": lambda v: None if isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 20
    else "must be an int from 0 to 20 (samples shown per model)",
    "ab_inputs": lambda v: None if isinstance(v, int) and not isinstance(v, bool) and v >= 1
    else "must be an int ≥ 1 (rows of the blind A/B sheet)",
    "hit_types": lambda v: _hit_types_problem(v),
}


def _hit_types_problem(v) -> str | None:
    from .config import HIT_TYPES
    if v is None:                           # notebook 03: the profile's MaliciousConfig.hit_types
        return None
    if not isinstance(v, (tuple, list)) or not v or any(h not in HIT_TYPES for h in v):
        return f"must be a non-empty tuple of hit types from {list(HIT_TYPES)} (or None: the profile's)"
    return None


# -- the knobs a student turns (issue 19): notebook parameter → (Profile stage, config field) --------
# Default None everywhere: the profile's value, so a default run is the profile's run, bit for bit.
# Checked by the config's own field rule (ntlib.config ``_RULES``), the message naming the parameter.
KNOBS = {
    # notebook 03 (Algorithm 1, §4.2)
    "hit_types": ("malicious", "hit_types"),
    "iterations": ("malicious", "iterations"),
    "max_targets": ("malicious", "max_targets"),
    "lists": ("malicious", "lists"),
    # notebook 04 (Algorithm 2, §4.3); r_thres is the list of thresholds the notebook trains
    "r_thres": ("frequent", "r_thres"),
    "eos_scale": ("frequent", "eos_scale"),
    "lr": ("frequent", "lr"),
    "window": ("frequent", "window"),
    # notebook 05 (App. E GAN, MMI-antiLM)
    "alpha_G": ("gan", "g_lrs"),
    "mmi_lambdas": ("mmi", "lambdas"),
}


def _knob_rule(name: str):
    stage, field = KNOBS[name]

    def rule(v):
        if v is None:
            return None
        from . import config
        cls = {"malicious": config.MaliciousConfig, "frequent": config.FrequentConfig,
               "gan": config.GanConfig, "mmi": config.MMIConfig}[stage]
        if name == "r_thres":               # one threshold or a list of them, each as FrequentConfig.r_thres
            values = list(v) if isinstance(v, (tuple, list)) else [v]
            if not values:
                return "must be a threshold in (0, 1] or a non-empty list of them (or None: the profile's sweep)"
            errs = [cls._RULES[field](x) for x in values]
            bad = next((e for e in errs if e), None)
            return None if bad is None else f"each threshold {bad}"
        err = cls._RULES[field](tuple(v) if isinstance(v, list) else v)
        return None if err is None else f"{err} (as {cls.__name__}.{field}; None: the profile's value)"
    return rule


for _name in KNOBS:
    if _name != "hit_types":                # hit_types keeps its rule (the panel declares it too)
        RULES[_name] = _knob_rule(_name)


def r_thres_sweep(ns: dict, default) -> tuple[float, ...]:
    """The thresholds notebook 04 trains: ``ns["r_thres"]`` (one number or a list) or, when it is
    None, ``default`` (``frequent.R_THRES_SWEEP[corpus]``)."""
    v = ns.get("r_thres")
    if v is None:
        return tuple(default)
    err = RULES["r_thres"](v)
    if err:
        raise ParameterError(f"parameter r_thres = {v!r}: {err}")
    return tuple(v) if isinstance(v, (tuple, list)) else (v,)


def apply(cfg, ns: dict, *names: str):
    """``cfg`` (a stage config) with the field of each knob in ``names`` (:data:`KNOBS`) set to the
    notebook's value ``ns[name]`` when that is not None; None leaves the profile's value (the same
    config object, so a default run is unchanged). The config validates the new value; a bad one is a
    :class:`ParameterError` naming the parameter and the config field."""
    from .config import ConfigError, override
    for name in names:
        if name not in KNOBS:
            raise ValueError(f"{name!r} is not a notebook knob; knobs are {sorted(KNOBS)}")
        v = ns.get(name)
        if v is None:
            continue
        field = KNOBS[name][1]
        try:
            cfg = override(cfg, **{field: tuple(v) if isinstance(v, list) else v})
        except (ConfigError, TypeError) as e:
            raise ParameterError(f"parameter {name} = {v!r}: {e}") from None
    return cfg


def _device_problem(v) -> str | None:
    """A device setting ntlib.device can resolve here (auto, cpu, cuda, cuda:N)."""
    if not isinstance(v, str) or not v:
        return "must be a device setting (str): auto, cpu, cuda or cuda:N"
    from .device import resolve_device
    try:
        resolve_device(v)
    except (ValueError, RuntimeError) as e:
        return str(e)
    return None


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
        from .config import config_hash
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
    table display (:func:`ntlib.reports.display_defaults`)."""
    history = list(ns.get("In", ns.get("_ih", [])))[1:-1]     # cells run before this one
    declared, injected = injected_names(history)
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
        import torch
        torch.set_num_threads(ns["threads"])
    from .reports import display_defaults
    display_defaults()                      # floats in tables: 4 significant digits


def provenance(ns: dict, run_dir=None) -> dict:
    """:func:`ntlib.provenance.record` for a notebook's results: its ``threads`` and ``device``
    parameters (when declared) and the baselines ``run_dir`` whose models it used."""
    from .provenance import record
    return record(threads=ns.get("threads"), device=ns.get("device"), run_dir=run_dir)
