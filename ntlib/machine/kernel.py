"""The ``ntlib`` Jupyter kernel: ipykernel started after ``import ntlib``, so torch in it runs on the
pinned float path (:mod:`ntlib.machine.floatpath`) even when a cell imports torch before ntlib.

``make setup`` installs its kernelspec into the virtual environment (:func:`ensure_installed`); the
notebooks name it in their metadata, so JupyterLab (``make lab``), papermill (``make reproduce``) and
nbval (``make test``) all start it. ``NTLIB_NATIVE_ISA=1`` in the environment that starts Jupyter
opts out, as everywhere.

At start-up the kernel also shows DataFrames as :mod:`ntlib.results.display` writes them ("–" for a
missing value, four significant digits) and leaves out ipykernel's warning that it "is running over TCP
without encryption": papermill, nbval and JupyterLab start it on 127.0.0.1, where no one else listens.
"""
from __future__ import annotations

import json
import logging
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


STARTUP = "import ntlib.results.display; ntlib.results.display.display_defaults()"


class LoopbackTransport(logging.Filter):
    """Drops ipykernel's unencrypted-TCP warning (the kernel's ports are on the loopback interface)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "without encryption" not in record.getMessage()


def launch(argv: list[str]) -> None:
    from ipykernel import kernelapp
    logging.getLogger("IPKernelApp").addFilter(LoopbackTransport())
    kernelapp.launch_new_instance(argv + [f"--IPKernelApp.exec_lines={json.dumps([STARTUP])}"])


if __name__ == "__main__":
    if sys.argv[1:] == ["--install"]:
        print(f"installed the {NAME!r} kernelspec in {sys.prefix} (kernel {ensure_installed()!r})")
    else:
        launch(sys.argv[1:])
