"""One-command reproduction: run notebooks 01 → 06 with papermill, skipping cached stages.

``python -m ntlib.reproduce --profile small --corpus switchboard`` (what ``make reproduce``
runs). Each stage's key hashes the profile, the corpus, the notebook, the ntlib sources and
the previous stage's key; a stage whose key matches its done-marker is skipped, so an
unchanged reproduction re-runs in seconds and an interrupted one resumes at the stage it
stopped in (inside a stage, the baseline models resume from their last checkpoint).
Executed notebooks are kept under ``runs/reproduce-<corpus>-<profile>/``.
``--device auto|cpu|cuda[:N]`` (default ``$NTLIB_DEVICE`` or auto) is passed to every notebook;
a GPU run gets its own cache keys. ``--estimate`` times a few steps of every stage on the
device instead and prints the expected time of the profile (``ntlib.estimate``).
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import re
import sys
import time
from pathlib import Path

from .config import CORPORA, PROFILES, config_hash, get_profile
from .params import check_reports_dir, default_reports_dir
from .reports import TMP_MARK, atomic_write_text, clean_stale_tmp, read_json, run_lock, write_json
from .sources import sha256_file

ROOT = Path(__file__).resolve().parent.parent
STAGES = ("01_data", "02_baselines", "03_malicious", "04_frequent", "05_gan_mmi", "06_tables")


def _sources_digest() -> str:
    h = hashlib.sha256()
    for path in sorted((ROOT / "ntlib").glob("*.py")):
        h.update(path.name.encode() + path.read_bytes())
    return h.hexdigest()[:12]


def _rel(path: Path, start: Path) -> str:
    """``path`` relative to the notebooks when inside the checkout: executed notebooks hold no
    absolute paths of this machine."""
    try:
        path.relative_to(ROOT)
        return os.path.relpath(path, start)
    except ValueError:
        return str(path)


def stages_data_digest(corpus: str, data_dir=None) -> dict:
    """{file: sha256} of every data file the stages read (corpus sources, the authors' official
    files, the malicious target lists), each verified; files found nowhere map to None."""
    from .malicious import TARGET_LISTS
    from .sources import (OFFICIAL_TEST, OFFICIAL_VALID, OFFICIAL_VOCAB, TARGET_LISTS_DIR,
                          corpus_files, data_digest)
    groups = [corpus_files(corpus, data_dir), (OFFICIAL_VOCAB,), (OFFICIAL_VALID, OFFICIAL_TEST)]
    groups += [(f"{TARGET_LISTS_DIR}/{f}",) for f, _ in TARGET_LISTS.values()]
    return data_digest(groups, data_dir)


def stage_keys(profile: str, corpus: str, notebooks_dir: Path, data_dir=None,
               device_type: str = "cpu") -> dict[str, str]:
    """Cache key per stage: profile + corpus + notebook + ntlib sources + the sha256 of the data
    read + upstream key (+ the device type when not the CPU: GPU arithmetic differs in the last
    bits)."""
    keys, prev, src = {}, "", _sources_digest()
    prof = dataclasses.asdict(get_profile(profile, corpus))
    data = stages_data_digest(corpus, data_dir)
    extra = () if device_type == "cpu" else (device_type,)
    for stage in STAGES:
        nb = notebook_digest(notebooks_dir / f"{stage}.ipynb")
        prev = keys[stage] = config_hash(prof, corpus, nb, src, data, prev, *extra)
    return keys


def notebook_digest(path: Path) -> str:
    """Hash of what a notebook computes: its code cells' source, without papermill's injected
    parameters and nbval's ``# NBVAL_`` markers — so prose edits and stored outputs (the
    committed small run) do not invalidate the cache."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    code = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"
            and "injected-parameters" not in c.get("metadata", {}).get("tags", [])]
    code = ["\n".join(l for l in c.splitlines() if not l.lstrip().startswith("# NBVAL_")) for c in code]
    return hashlib.sha256("\n\0".join(code).encode()).hexdigest()[:12]


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_PROGRESS = re.compile(r"\d+%\||it/s[\],]|s/it[\],]|TqdmWarning|from \.autonotebook")


def publish(profile: str = "small", corpus: str = "switchboard", run_root: str | Path = ROOT / "runs",
            notebooks_dir: str | Path = ROOT / "notebooks") -> list[Path]:
    """Copy a reproduction's executed notebooks over ``notebooks/`` for committing: papermill's
    injected-parameters cell and metadata removed, progress-bar lines dropped from the stored
    outputs (the run's printed results stay); warns about absolute paths left in outputs."""
    out_dir, written = Path(run_root) / f"reproduce-{corpus}-{profile}", []
    notebooks, refused = {}, []
    for stage in STAGES:                 # check all first: nothing is published from a failed run
        path = out_dir / f"{stage}.ipynb"
        if not path.is_file() or not (out_dir / f"{stage}.done.json").is_file():
            refused.append(f"{path}: not run to completion (no {stage}.done.json)")
            continue
        nb = notebooks[stage] = json.loads(path.read_text(encoding="utf-8"))
        errors = [f"{o.get('ename')}: {o.get('evalue')}" for c in nb["cells"] if c["cell_type"] == "code"
                  for o in c.get("outputs", []) if o.get("output_type") == "error"]
        if errors or nb.get("metadata", {}).get("papermill", {}).get("exception"):
            refused.append(f"{path}: has an error output ({'; '.join(errors) or 'papermill exception'})")
    if refused:
        raise StageError("not publishing; notebooks/ left unchanged:\n  " + "\n  ".join(refused))
    for stage in STAGES:
        nb = notebooks[stage]
        nb["cells"] = [c for c in nb["cells"]
                       if "injected-parameters" not in c.get("metadata", {}).get("tags", [])]
        for c in nb["cells"]:
            for key in ("papermill", "execution"):
                c.get("metadata", {}).pop(key, None)
            if c["cell_type"] != "code":
                continue
            kept = []
            for o in c["outputs"]:
                if o["output_type"] == "stream":
                    text = _ANSI.sub("", "".join(o["text"]))
                    lines = [l.split("\r")[-1] for l in text.split("\n")]
                    text = "\n".join(l for l in lines if l.strip() and not _PROGRESS.search(l))
                    if not text:
                        continue
                    o["text"] = text + "\n"
                kept.append(o)
            c["outputs"] = kept
        nb["metadata"].pop("papermill", None)
        text = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
        for hit in sorted(set(re.findall(r"(?:/work/|/tmp/|/root/|/home/)[^\s\"']*", text))):
            print(f"warning: {stage}.ipynb output holds the absolute path {hit}", file=sys.stderr)
        path = Path(notebooks_dir) / f"{stage}.ipynb"
        atomic_write_text(path, text)
        written.append(path)
    return written


def _snapshot(reports_dir: Path) -> dict[str, tuple]:
    """{relpath: (inode, mtime, size)} of the files under ``reports_dir``: an atomic write
    (rename over) always changes the inode, so a file a stage wrote differs from before."""
    out = {}
    for p in Path(reports_dir).rglob("*"):
        if p.is_file() and TMP_MARK not in p.name:
            st = p.stat()
            out[p.relative_to(reports_dir).as_posix()] = (st.st_ino, st.st_mtime_ns, st.st_size)
    return out


def _changed_outputs(reports_dir: Path, outputs: dict | None) -> list[str]:
    """The recorded outputs of a stage that are missing or changed; a marker that recorded none
    (from before outputs were recorded) counts as stale."""
    if outputs is None:
        return ["(no outputs recorded)"]
    return [rel for rel, sha in outputs.items()
            if not (reports_dir / rel).is_file() or sha256_file(reports_dir / rel) != sha]


class StageError(RuntimeError):
    """A notebook of a stage failed; the message names the notebook, the executed copy and the error."""


def execute(notebook: Path, output: Path, parameters: dict, cwd: Path) -> None:
    """papermill ``notebook`` → ``output``; a failure is a :class:`StageError` naming both notebooks
    and the error (papermill's own names neither)."""
    import papermill as pm
    try:
        pm.execute_notebook(str(notebook), str(output), parameters=parameters, cwd=str(cwd),
                            progress_bar=False, kernel_name="python3")
    except pm.PapermillExecutionError as e:
        raise StageError(f"{notebook} failed: {e.ename}: {e.evalue} (cell [{e.exec_count}] of the "
                         f"executed notebook {output}, which holds the traceback)") from e


def _run_stages(profile, corpus, run_root, reports_dir, data_dir, stages, force, notebooks_dir, out_dir,
                device="auto", device_type="cpu"):
    keys = stage_keys(profile, corpus, notebooks_dir, data_dir, device_type)
    records, t_all = [], time.time()
    for i, stage in enumerate(stages, 1):
        marker = out_dir / f"{stage}.done.json"
        done = read_json(marker) if marker.exists() else {}
        stale = _changed_outputs(reports_dir, done.get("outputs"))
        if not force and done.get("key") == keys[stage] and not stale:
            rec = {**done, "cached": True}
            print(f"[{i}/{len(stages)}] {stage}: cached (ran in {rec['seconds']:.0f} s)", flush=True)
            records.append(rec)
            continue
        if done.get("key") == keys[stage] and stale and not force:
            print(f"[{i}/{len(stages)}] {stage}: re-running: {len(stale)} of its reports missing or "
                  f"changed ({', '.join(stale[:3])}{' ...' if len(stale) > 3 else ''})", flush=True)
        print(f"[{i}/{len(stages)}] {stage}: running ...", flush=True)
        marker.unlink(missing_ok=True)        # a failed run must not leave the previous "done"
        before, t0 = _snapshot(reports_dir), time.time()
        execute(notebooks_dir / f"{stage}.ipynb", out_dir / f"{stage}.ipynb",
                dict(profile=profile, corpus=corpus, run_root=_rel(run_root, notebooks_dir),
                     reports_dir=_rel(reports_dir, notebooks_dir), data_dir=data_dir, device=device),
                notebooks_dir)
        after = _snapshot(reports_dir)
        outputs = {rel: sha256_file(reports_dir / rel) for rel, st in sorted(after.items())
                   if before.get(rel) != st}
        rec = {"stage": stage, "key": keys[stage], "seconds": round(time.time() - t0, 1),
               "profile": profile, "corpus": corpus, "device": device_type,
               "finished": time.strftime("%Y-%m-%d %H:%M:%S"), "outputs": outputs}
        write_json(rec, marker)               # only after success
        print(f"[{i}/{len(stages)}] {stage}: done in {rec['seconds']:.0f} s", flush=True)
        records.append({**rec, "cached": False})
    return records, t_all


def reproduce(profile: str = "small", corpus: str = "switchboard", run_root: str | Path = ROOT / "runs",
              reports_dir: str | Path | None = None, data_dir: str | None = None,
              stages: tuple[str, ...] = STAGES, force: bool = False,
              notebooks_dir: str | Path = ROOT / "notebooks", device: str | None = None) -> list[dict]:
    """Run the numbered notebooks in order; return one record per stage (key, cached, seconds).
    ``device``: the notebooks' device setting (``None``: ``$NTLIB_DEVICE`` or auto)."""
    from .device import ENV, resolve_device
    device = device if device is not None else os.environ.get(ENV, "auto")
    device_type = resolve_device(device).type          # a bad setting fails here, not in stage 2
    notebooks_dir = Path(notebooks_dir)
    reports_dir = Path(reports_dir or default_reports_dir(profile, corpus)).resolve()
    check_reports_dir(reports_dir, profile, corpus)    # never the committed reports/ for another run
    run_root = Path(run_root).resolve()
    out_dir = run_root / f"reproduce-{corpus}-{profile}"
    out_dir.mkdir(parents=True, exist_ok=True)
    reports_dir.mkdir(parents=True, exist_ok=True)
    with run_lock(out_dir, what="reproduction"):     # a second reproduction here stops at once
        clean_stale_tmp(run_root)                       # left by a kill mid-write (writer not alive)
        clean_stale_tmp(reports_dir)
        records, t_all = _run_stages(profile, corpus, run_root, reports_dir, data_dir, stages, force,
                                     notebooks_dir, out_dir, device, device_type)
    total = time.time() - t_all
    write_json({"profile": profile, "corpus": corpus, "wall_seconds": round(total, 1),
                "stages": records}, out_dir / "reproduce.json")
    print(f"reproduce {profile}/{corpus}: {total:.0f} s; reports in {reports_dir}", flush=True)
    return records


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ntlib.reproduce", description=__doc__.split("\n")[0])
    ap.add_argument("--profile", default="small", choices=sorted(PROFILES))
    ap.add_argument("--corpus", default="switchboard", choices=CORPORA)
    ap.add_argument("--run-root", default=str(ROOT / "runs"))
    ap.add_argument("--reports-dir", default=None, help="default: reports/ (small, switchboard) "
                    "or reports/<corpus>-<profile>/")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--stages", nargs="*", default=list(STAGES), choices=STAGES)
    ap.add_argument("--force", action="store_true", help="re-run stages even when cached")
    ap.add_argument("--publish", action="store_true",
                    help="after the run, copy the executed notebooks (cleaned) over notebooks/")
    ap.add_argument("--device", default=None, help="auto (CUDA when present, else CPU), cpu, cuda "
                    "or cuda:N; default $NTLIB_DEVICE or auto")
    ap.add_argument("--estimate", action="store_true", help="run nothing: time a few steps of every "
                    "stage on the device and print the profile's expected time per stage and in all")
    a = ap.parse_args(argv)
    if a.estimate:
        from .estimate import estimate, format_estimate
        print(format_estimate(estimate(a.profile, a.corpus, a.device, a.data_dir)), flush=True)
        return 0
    reproduce(a.profile, a.corpus, a.run_root, a.reports_dir, a.data_dir, tuple(a.stages), a.force,
              device=a.device)
    if a.publish:
        for path in publish(a.profile, a.corpus, a.run_root):
            print(f"published {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
