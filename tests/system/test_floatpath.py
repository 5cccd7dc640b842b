"""Issue 26: one float path. ``import ntlib`` pins torch to AVX2 on x86-64 before torch loads, and every
entry point that starts a kernel — papermill (``make reproduce``), nbval (``make test``) and the ``ntlib``
kernelspec (``make lab``) — computes on it, even from a process that had no pin in its environment."""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ntlib.machine import floatpath
from ntlib.machine.kernel import ensure_installed

ROOT = Path(__file__).resolve().parents[2]
PINNABLE, WHY = floatpath.pinnable()
needs_pin = pytest.mark.skipif(not PINNABLE, reason=f"no AVX2 pin on this machine: {WHY}")


def _clean_env(**extra) -> dict:
    """This process's environment without the pin or its opt-out: what a fresh shell has."""
    env = {k: v for k, v in os.environ.items() if k not in floatpath.PIN and k != floatpath.OPT_OUT}
    return {**env, **extra}


def _notebook(path: Path, source: str, kernel: str, output: str | None = None) -> Path:
    """A one-cell notebook; with ``output``, the cell's stored stream output (an nbval reference)."""
    cell = {"cell_type": "code", "execution_count": 1 if output is not None else None, "metadata": {},
            "source": source, "outputs": [] if output is None else
            [{"name": "stdout", "output_type": "stream", "text": output}]}
    nb = {"cells": [cell], "metadata": {"kernelspec": {"name": kernel, "display_name": kernel, "language": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb))
    return path


# a cell that imports torch before ntlib could pin it: only the kernel's environment decides
TORCH_FIRST = "import torch\nprint(torch.backends.cpu.get_cpu_capability())"


def test_pin_sets_the_three_variables_keeps_explicit_ones_and_honours_the_opt_out(monkeypatch):
    monkeypatch.setattr(floatpath, "pinnable", lambda: (True, "x86-64 with AVX2"))
    env = {}
    assert floatpath.pin(env)["pinned"] and env == floatpath.PIN
    env = {"ATEN_CPU_CAPABILITY": "default"}
    st = floatpath.pin(env)
    assert env["ATEN_CPU_CAPABILITY"] == "default" and not st["pinned"] and "ATEN_CPU_CAPABILITY" in st["why"]
    env = {floatpath.OPT_OUT: "1"}
    st = floatpath.pin(env)
    assert not any(k in env for k in floatpath.PIN) and not st["pinned"] and floatpath.OPT_OUT in st["why"]
    assert floatpath.pin({floatpath.OPT_OUT: "0"})["pinned"]        # "0" is no opt-out


def test_no_pin_on_arm_or_without_avx2(monkeypatch):
    monkeypatch.setattr(floatpath.platform, "machine", lambda: "aarch64")
    env = {}
    assert not floatpath.pin(env)["pinned"] and env == {} and "x86-64 only" in floatpath.pinnable()[1]
    monkeypatch.setattr(floatpath.platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(floatpath, "cpu_info", lambda: {"isa": ["avx", "sse4_2"]})
    env = {}
    assert floatpath.pinnable() == (False, "this x86-64 CPU has no AVX2") and not floatpath.pin(env)["pinned"]
    assert env == {}


def test_provenance_tells_machines_and_float_paths_apart():
    from ntlib.machine import provenance
    rec = provenance.record(threads=1, device="cpu")
    fp = rec["float_path"]
    assert {"capability", "pinned", "cpu", *floatpath.PIN} <= set(fp)
    assert {"machine", "vendor", "family", "model", "isa"} <= set(fp["cpu"])
    other = {**rec, "float_path": {**fp, "capability": "AVX2" if fp["capability"] == "AVX512" else "AVX512",
                                   "pinned": not fp["pinned"]}}        # another float path than this process's
    same, why = provenance.same_run_environment(rec, other)
    assert not same and any(w.startswith("float_path") for w in why)
    other_cpu = {**rec, "float_path": {**fp, "cpu": {**fp["cpu"], "family": "26"}}}
    assert not provenance.same_run_environment(rec, other_cpu)[0]


@needs_pin
def test_import_ntlib_pins_a_process_started_without_the_pin():
    out = subprocess.run([sys.executable, "-c", "import ntlib, torch; print(torch.backends.cpu.get_cpu_capability())"],
                         env=_clean_env(), capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == floatpath.PINNED_CAPABILITY
    opt = subprocess.run([sys.executable, "-c", "import ntlib, os; print(os.environ.get('ATEN_CPU_CAPABILITY'))"],
                         env=_clean_env(**{floatpath.OPT_OUT: "1"}), capture_output=True, text=True, check=True)
    assert opt.stdout.strip() == "None"


@needs_pin
def test_papermill_kernel_of_make_reproduce_runs_on_the_pinned_path(tmp_path):
    """``ntlib.run.reproduce.execute`` (what ``make reproduce`` runs per stage), from an unpinned shell."""
    nb = _notebook(tmp_path / "cap.ipynb", TORCH_FIRST, "python3")
    code = textwrap.dedent(f"""
        from pathlib import Path
        from ntlib.run.reproduce import execute
        execute(Path({str(nb)!r}), Path({str(tmp_path / 'out.ipynb')!r}), {{}}, Path({str(tmp_path)!r}))
    """)
    subprocess.run([sys.executable, "-c", code], env=_clean_env(), check=True, cwd=ROOT, capture_output=True)
    out = json.loads((tmp_path / "out.ipynb").read_text())["cells"][0]["outputs"][0]["text"]
    assert "".join(out).strip() == floatpath.PINNED_CAPABILITY


@needs_pin
def test_nbval_with_the_ntlib_kernel_runs_on_the_pinned_path(tmp_path):
    """nbval started from an unpinned shell outside the repository (no conftest): the notebook's
    ``ntlib`` kernel pins itself, and the stored output "AVX2" is what it prints."""
    ensure_installed()
    nb = _notebook(tmp_path / "cap.ipynb", TORCH_FIRST, "ntlib", floatpath.PINNED_CAPABILITY + "\n")
    run = subprocess.run([sys.executable, "-m", "pytest", "--nbval", str(nb), "-p", "no:cacheprovider", "-q",
                          "--rootdir", str(tmp_path), "-c", os.devnull], env=_clean_env(), cwd=tmp_path,
                         capture_output=True, text=True)
    assert run.returncode == 0 and "1 passed" in run.stdout, run.stdout[-2000:]


@needs_pin
def test_the_ntlib_kernelspec_of_make_lab_runs_on_the_pinned_path():
    """A Jupyter server (``make lab``) started from an unpinned shell starts the ``ntlib`` kernel."""
    ensure_installed()
    code = textwrap.dedent(f"""
        from jupyter_client.manager import start_new_kernel
        km, kc = start_new_kernel(kernel_name="ntlib")
        try:
            out = []
            kc.execute_interactive({TORCH_FIRST!r}, output_hook=lambda m: out.append(m["content"].get("text", "")),
                                   timeout=120)
            print("".join(out).strip())
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)
    """)
    out = subprocess.run([sys.executable, "-c", code], env=_clean_env(), capture_output=True, text=True,
                         check=True, timeout=300)
    assert out.stdout.strip().splitlines()[-1] == floatpath.PINNED_CAPABILITY
