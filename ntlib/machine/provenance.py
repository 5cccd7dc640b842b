"""What produced a result: the code (by content), torch, threads, CPU / GPU and device.

Two uses (issue 15):

* **Run-folder keys know their code.** :func:`code_digest` hashes the modules a cached model
  depends on: the named ``ntlib`` modules *and every ntlib module they import, transitively*
  (the static import graph, function-local imports included — :func:`module_closure`). Each
  module counts by its syntax tree without docstrings, so a changed comment, docstring or line
  wrapping keeps the cache, while any change to what the code does (a dropout moved, a seed
  drawn elsewhere, a new import) retrains. The baselines' run folder
  (:func:`ntlib.run.pipeline.baselines_run_dir`) hashes :data:`BASELINES_CODE` this way.
* **Every results JSON says what ran it.** :func:`record` (one call per notebook,
  ``results["provenance"] = provenance.record(threads=threads)``) gives the code version
  (:func:`code_version`: all of ``ntlib``; :func:`notebooks_version`: the notebooks' code
  cells), the git commit when there is one, torch and Python
  versions, the thread count, the CPU model and core count, the float path (torch's CPU capability,
  the AVX2 pin, the CPU's vendor, family, model and ISA flags: :mod:`ntlib.machine.floatpath`), the device and
  the GPU's name.
  ``python -m ntlib.run.reproduce --compare`` reads it to decide whether two runs must agree
  exactly (same machine, threads, torch, code) or within a tolerance.
"""
from __future__ import annotations

import ast
import hashlib
import json
import os
import platform
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import torch

from ntlib.machine import device as dev
from ntlib.machine import floatpath

PACKAGE_DIR = Path(__file__).resolve().parents[1]      # ntlib/
ROOT = PACKAGE_DIR.parent
PACKAGE = "ntlib"

# The code that trains the baseline LM and seq2seq: pipeline.baselines and, through the import
# graph, data, corpora, sources, models, train, evaluate, decode, metrics, config, reports.
BASELINES_CODE = ("ntlib.run.pipeline",)

# Fields of a provenance record that identify the machine + software for an exact comparison.
# Modules left out of a closure: they describe a run, they do not compute it.
NOT_CODE = frozenset({"ntlib.machine.provenance"})

# ``float_path`` (ntlib.machine.floatpath.record): torch's CPU capability, the AVX2 pin and the CPU's vendor,
# family, model and ISA flags — two CPUs of other generations compute other bits unless pinned alike.
IDENTITY = ("code_version", "notebooks_version", "torch", "threads", "cpu", "cpu_count", "float_path", "device",
            "gpu")


def _source(module: str, package_dir: Path) -> Path:
    if not module.startswith(PACKAGE + ".") and module != PACKAGE:
        raise ValueError(f"{module!r} is not an ntlib module")
    rel = module.split(".")[1:]
    path = package_dir.joinpath(*rel).with_suffix(".py") if rel else package_dir / "__init__.py"
    if not path.is_file() and package_dir.joinpath(*rel, "__init__.py").is_file():     # a package: its __init__
        path = package_dir.joinpath(*rel, "__init__.py")
    if not path.is_file():
        raise ValueError(f"{module!r}: no source file {path}")
    return path


def _imports(tree: ast.AST, module: str, package_dir: Path) -> set[str]:
    """The ntlib modules a module's syntax tree imports, anywhere in it (also inside functions)."""
    pkg = module.rsplit(".", 1)[0] if module != PACKAGE else PACKAGE
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith(PACKAGE + ".")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                base = ".".join(base + ([node.module] if node.module else []))
            elif node.module and (node.module == PACKAGE or node.module.startswith(PACKAGE + ".")):
                base = node.module
            else:
                continue
            if base != PACKAGE:
                found.add(base)
            for a in node.names:          # ``from . import data``: data is a module
                cand = f"{base}.{a.name}"
                if (package_dir / Path(*cand.split(".")[1:])).with_suffix(".py").is_file():
                    found.add(cand)
    return found


def _tree(path: Path) -> ast.Module:
    try:
        return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except SyntaxError as e:
        raise ValueError(f"{path}:{e.lineno}: cannot hash a module that does not parse ({e.msg})") from e


def _package(package_dir) -> Path:
    return Path(PACKAGE_DIR if package_dir is None else package_dir)    # read at call time


def module_closure(roots, package_dir: str | Path | None = None) -> list[str]:
    """``roots`` (``"ntlib.x"`` names) and every ntlib module they import, transitively; sorted
    (:data:`NOT_CODE` is not followed). ``package_dir``: the ntlib sources (default: this one)."""
    package_dir = _package(package_dir)
    seen, todo = set(), list(roots)
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.add(m)
        todo.extend(_imports(_tree(_source(m, package_dir)), m, package_dir) - seen - NOT_CODE)
    return sorted(seen)


def _strip_docstrings(tree: ast.Module) -> ast.Module:
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return tree


def module_digest(path: str | Path) -> str:
    """sha256 of a module's syntax tree without docstrings (comments and layout never count)."""
    dump = ast.dump(_strip_docstrings(_tree(Path(path))), annotate_fields=False)
    return hashlib.sha256(dump.encode()).hexdigest()


def code_digest(*roots: str, package_dir: str | Path | None = None) -> str:
    """12-hex digest of the code of ``roots`` and their ntlib imports (:func:`module_closure`)."""
    package_dir = _package(package_dir)
    h = hashlib.sha256()
    for m in module_closure(roots, package_dir):
        h.update(f"{m}\0{module_digest(_source(m, package_dir))}\n".encode())
    return h.hexdigest()[:12]


def code_version(package_dir: str | Path | None = None) -> str:
    """12-hex digest of every ntlib module (same rules as :func:`code_digest`)."""
    package_dir = _package(package_dir)
    h = hashlib.sha256()
    for path in sorted(package_dir.rglob("*.py")):
        h.update(f"{path.relative_to(package_dir).as_posix()}\0{module_digest(path)}\n".encode())
    return h.hexdigest()[:12]


def notebook_digest(path: str | Path) -> str:
    """Hash of what a notebook computes: its code cells' source, without papermill's injected
    parameters and nbval's ``# NBVAL_`` markers — so prose edits and stored outputs (the
    committed small run) do not invalidate the cache."""
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    code = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"
            and "injected-parameters" not in c.get("metadata", {}).get("tags", [])]
    code = ["\n".join(l for l in c.splitlines() if not l.lstrip().startswith("# NBVAL_")) for c in code]
    return hashlib.sha256("\n\0".join(code).encode()).hexdigest()[:12]


def notebooks_version(notebooks_dir: str | Path | None = None) -> str | None:
    """12-hex digest of the code cells of every numbered notebook (:func:`notebook_digest`), or
    None where the checkout has no ``notebooks/``."""
    folder = Path(notebooks_dir or ROOT / "notebooks")
    paths = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        return None
    h = hashlib.sha256()
    for path in paths:
        h.update(f"{path.name}\0{notebook_digest(path)}\n".encode())
    return h.hexdigest()[:12]


@lru_cache(maxsize=1)
def git_commit() -> dict | None:
    """{"commit", "dirty"} of the checkout holding ntlib, or None (no git, not a clone)."""
    try:
        def git(*args):
            return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True,
                                  timeout=10, check=True).stdout.strip()
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no", "--", "ntlib", "notebooks"))
        return {"commit": commit, "dirty": dirty}
    except (OSError, subprocess.SubprocessError):
        return None


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``; ``platform.processor()`` elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def cpu_count() -> int:
    """The cores this process may run on (affinity, e.g. a container's share), else os.cpu_count()."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def default_threads() -> int:
    """The notebooks' thread count: ``$NTLIB_THREADS`` when set, else every core (:func:`cpu_count`)."""
    env = os.environ.get("NTLIB_THREADS")
    if env is None or not env.strip():
        return cpu_count()
    try:
        n = int(env)
    except ValueError:
        n = 0
    if n < 1:
        raise ValueError(f"$NTLIB_THREADS = {env!r}: must be an int ≥ 1")
    return n


def _device(device) -> str:
    if device is not None:
        return str(device)
    try:                               # the device setting (issue 18) when this checkout has it
        return str(dev.resolve_device(None))
    except (ImportError, AttributeError):
        return "cpu"


def record(threads: int | None = None, device=None, run_dir: str | Path | None = None) -> dict:
    """What this process runs on, for a results JSON. ``threads`` defaults to torch's current
    count; ``device`` to the device setting (``ntlib.machine.device`` if present, else ``cpu``);
    ``run_dir`` (a baselines run folder) adds the provenance of the cached models it holds."""
    dev = _device(device)
    gpu = None
    if dev.startswith("cuda") and torch.cuda.is_available():
        gpu = torch.cuda.get_device_name(torch.device(dev))
    out = {
        "code_version": code_version(), "notebooks_version": notebooks_version(), "git": git_commit(),
        "torch": torch.__version__, "python": platform.python_version(),
        "threads": int(threads if threads is not None else torch.get_num_threads()),
        "cpu": cpu_model(), "cpu_count": cpu_count(), "platform": platform.platform(),
        "float_path": floatpath.record(), "device": dev, "gpu": gpu,
    }
    if run_dir is not None:
        path = Path(run_dir) / "provenance.json"
        out["models"] = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
    return out


def same_run_environment(a: dict | None, b: dict | None) -> tuple[bool, list[str]]:
    """(exact, why): whether two provenance records name the same code, torch, threads, CPU/GPU
    and device — then their numbers must agree exactly; ``why`` lists what differs."""
    if not a or not b:
        return False, ["no provenance recorded" + ("" if a or b else " in either")]
    diff = [f"{k}: {a.get(k)!r} vs {b.get(k)!r}" for k in IDENTITY if a.get(k) != b.get(k)]
    return not diff, diff


if __name__ == "__main__":          # python -m ntlib.machine.provenance: this machine's record
    print(json.dumps(record(), indent=2))
    sys.exit(0)
