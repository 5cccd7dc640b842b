"""One float path on every x86-64 CPU: the instruction set torch computes with, pinned before torch loads.

torch's CPU kernels follow the CPU they run on: ATen picks AVX-512 or AVX2 code, MKL and oneDNN
their own paths, and each rounds differently in the last bits. One small-profile training is a long
chain of such operations, so an AVX-512 CPU and an AVX2 CPU train different baselines from the same
code (issue 26: 14 of 47 verdicts differed). Pinned to AVX2 (:data:`PIN`), every x86-64 CPU with
AVX2 computes the committed numbers bit for bit.

``import ntlib`` pins the path (:func:`pin`, called by ``ntlib/__init__.py``): every entry point —
``python -m ntlib.…``, the notebooks (their first cell imports ntlib before torch), the ``ntlib``
kernel (``python -m ntlib.machine.kernel``), pytest (``conftest.py``), the benchmarks — gets it, and the
kernels papermill and nbval start inherit it. A variable already set is kept (an explicit choice,
recorded in the provenance). ``NTLIB_NATIVE_ISA=1`` opts out: torch uses the CPU's fastest kernels
(on AVX-512 machines a few percent faster for the small profile), and the numbers then differ from
the committed ones in the float noise — which a trained model can amplify. ARM and x86 CPUs
without AVX2 are never pinned (nothing to pin to); ``make test`` passes there too, comparing
notebook outputs at their displayed precision.
"""
from __future__ import annotations

import os
import platform
import sys
import warnings
from functools import lru_cache
from pathlib import Path

import torch

PIN = {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2"}
OPT_OUT = "NTLIB_NATIVE_ISA"        # = 1: no pin, torch's native kernels for this CPU
PINNED_CAPABILITY = "AVX2"          # what torch.backends.cpu.get_cpu_capability() says under the pin
# ISA flags worth recording: the ones that choose a float path (x86 /proc/cpuinfo, ARM Features)
_ISA_PREFIXES = ("sse4", "avx", "fma", "f16c", "amx", "asimd", "sve", "fphp", "bf16", "i8mm", "neon")


@lru_cache(maxsize=1)
def cpu_info() -> dict:
    """The CPU's architecture, vendor, family, model number and ISA flags (``/proc/cpuinfo``; elsewhere
    what ``platform`` knows): two CPUs with the same record run the same kernels."""
    info = {"machine": platform.machine(), "vendor": None, "family": None, "model": None, "isa": []}
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return info
    fields = {}
    for line in text.split("\n\n", 1)[0].splitlines():      # the first processor's block
        key, _, value = line.partition(":")
        fields.setdefault(key.strip().lower(), value.strip())
    info["vendor"] = fields.get("vendor_id") or fields.get("cpu implementer")
    info["family"] = fields.get("cpu family") or fields.get("cpu architecture")
    info["model"] = fields.get("model") or fields.get("cpu part")
    flags = (fields.get("flags") or fields.get("features") or "").split()
    info["isa"] = sorted(f for f in flags if f.startswith(_ISA_PREFIXES))
    return info


def pinnable() -> tuple[bool, str]:
    """Whether this CPU can run the pinned path, and why (not)."""
    machine = platform.machine().lower()
    if machine not in ("x86_64", "amd64"):
        return False, f"{platform.machine()} CPU: the AVX2 pin is for x86-64 only"
    isa = cpu_info()["isa"]
    if isa and "avx2" not in isa:
        return False, "this x86-64 CPU has no AVX2"
    return True, "x86-64 with AVX2"


def opted_out(environ=os.environ) -> bool:
    return environ.get(OPT_OUT, "").strip() not in ("", "0")


def pin(environ=os.environ) -> dict:
    """Set the :data:`PIN` variables in ``environ`` (those not set already) unless this CPU cannot run
    them or ``$NTLIB_NATIVE_ISA`` opts out; return :func:`state`. Must run before torch computes
    anything (ATen reads its variable at the first operation, MKL and oneDNN at their first call); a
    torch that already computed is left as it is, with a warning (:func:`check_torch`)."""
    ok, _ = pinnable()
    if ok and not opted_out(environ):
        for key, value in PIN.items():
            environ.setdefault(key, value)
    if "torch" in sys.modules and environ is os.environ:
        check_torch()
    return state(environ)


def state(environ=os.environ) -> dict:
    """The float path this process asked for: pinned or not (and why), the three variables as set."""
    ok, why = pinnable()
    out = opted_out(environ)
    pinned = ok and not out and all(environ.get(k) == v for k, v in PIN.items())
    if out:
        why = f"${OPT_OUT} = {environ.get(OPT_OUT)!r}: torch's native kernels for this CPU"
    elif ok and not pinned:
        why = "a variable of the pin was set otherwise: " + ", ".join(
            f"{k}={environ.get(k)!r}" for k in PIN if environ.get(k) != PIN[k])
    return {"pinned": pinned, "why": why, **{k: environ.get(k) for k in PIN}}


def capability() -> str:
    """The instruction set torch's CPU kernels use here (``AVX2``, ``AVX512``, ``DEFAULT``, ``NO AVX``…)."""
    try:
        return torch.backends.cpu.get_cpu_capability()
    except AttributeError:              # older torch
        return "unknown"


def check_torch() -> str:
    """Warn when the pin was asked for but torch computes on another path (torch computed before ntlib
    was imported); return the capability."""
    cap = capability()
    if state()["pinned"] and cap != PINNED_CAPABILITY:
        warnings.warn(f"the float path is pinned to AVX2, but torch already runs {cap} kernels (torch computed "
                      f"before ntlib was imported): numbers will differ from the committed ones in the last bits. "
                      f"Import ntlib first, or start through make / python -m ntlib.… / the ntlib kernel.",
                      RuntimeWarning, stacklevel=3)
    return cap


def record() -> dict:
    """The float path for a results JSON's provenance: torch's capability, the pin and the CPU."""
    return {"capability": capability(), **state(), "cpu": cpu_info()}

