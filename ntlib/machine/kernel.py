"""The ``ntlib`` Jupyter kernel: ipykernel started after ``import ntlib``, so torch in it runs on the
pinned float path (:mod:`ntlib.machine.floatpath`) even when a cell imports torch before ntlib.

``make setup`` installs its kernelspec into the virtual environment (:func:`ensure_installed`); the
notebooks name it in their metadata, so JupyterLab (``make lab``), papermill (``make reproduce``) and
nbval (``make test``) all start it. ``NTLIB_NATIVE_ISA=1`` in the environment that starts Jupyter
opts out, as everywhere.
"""
from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

NAME = "ntlib"
DISPLAY_NAME = "ntlib (Python 3)"


def spec() -> dict:
    """The kernelspec: this Python, ``-m ntlib.machine.kernel``."""
    return {"argv": [sys.executable, "-m", "ntlib.machine.kernel", "-f", "{connection_file}"],
            "display_name": DISPLAY_NAME, "language": "python", "metadata": {"debugger": True}}


def installed() -> Path | None:
    """The folder of the installed ``ntlib`` kernelspec, or None."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
    try:
        return Path(KernelSpecManager().get_kernel_spec(NAME).resource_dir)
    except NoSuchKernel:
        return None


def ensure_installed() -> str:
    """Install the ``ntlib`` kernelspec into this environment (``sys.prefix``) unless an up-to-date one
    is found; return the kernel name."""
    found = installed()
    if found is not None:
        try:
            if json.loads((found / "kernel.json").read_text())["argv"] == spec()["argv"]:
                return NAME
        except (OSError, ValueError, KeyError, IndexError):
            pass
    from jupyter_client.kernelspec import KernelSpecManager
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "kernel.json").write_text(json.dumps(spec(), indent=1) + "\n")
        KernelSpecManager().install_kernel_spec(tmp, NAME, prefix=sys.prefix)
    return NAME


if __name__ == "__main__":
    if sys.argv[1:] == ["--install"]:
        print(f"installed the {NAME!r} kernelspec in {sys.prefix} (kernel {ensure_installed()!r})")
    else:
        from ipykernel import kernelapp
        kernelapp.launch_new_instance()
