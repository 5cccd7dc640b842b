"""One-command reproduction: run notebooks 01 → 06 with papermill, skipping cached stages.

Notebook 07 (negative losses compared, beyond the paper) is an opt-in stage: ``--stages
07_negative_losses`` (``make compare-losses``) runs it; the default run does not.

``python -m ntlib.reproduce --profile small --corpus switchboard`` (what ``make reproduce``
runs). Each stage's key hashes the profile, the corpus, the notebook, the ntlib sources and
the previous stage's key; a stage whose key matches its done-marker is skipped, so an
unchanged reproduction re-runs in seconds and an interrupted one resumes at the stage it
stopped in (inside a stage, the baseline models resume from their last checkpoint).
Executed notebooks are kept under ``runs/reproduce-<corpus>-<profile>/``, with ``timings.json``
(seconds per stage, printed as a summary at the end: the README quotes it) and
``reproduce.json``.

Threads: the notebooks use every core (``os.cpu_count()``) unless ``--threads N`` or
``$NTLIB_THREADS`` says otherwise; the count is recorded in each results JSON (``provenance``).
``--device auto|cpu|cuda[:N]`` (default ``$NTLIB_DEVICE`` or auto) is passed to every notebook;
a GPU run gets its own cache keys. ``--estimate`` times a few steps of every stage on the
device instead and prints the expected time of the profile (``ntlib.estimate``).

``python -m ntlib.reproduce --compare [RUN_REPORTS_DIR]`` diffs a run's ``results/*.json`` with
the committed ``reports/results/*.json`` (or ``--against DIR``); see :func:`compare`.
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from .config import CORPORA, PROFILES, config_hash, get_profile
from .params import COMMITTED_REPORTS, DEFAULT_RUN, check_reports_dir, default_reports_dir
from .provenance import code_version, notebook_digest, record, same_run_environment
from .reports import LOCK_NAME, TMP_MARK, atomic_write_text, clean_stale_tmp, read_json, run_lock, write_json
from .sources import sha256_file

ROOT = Path(__file__).resolve().parent.parent
STAGES = ("01_data", "02_baselines", "03_malicious", "04_frequent", "05_gan_mmi", "06_tables")
# opt-in stages (beyond the paper): run only when named, ``--stages 07_negative_losses`` (make compare-losses);
# keyed after the default stages, never run, published or required by ``make reproduce``
OPT_IN_STAGES = ("07_negative_losses",)
# results file prefix of each opt-in stage: a run that did not run the stage is not missing its results
OPT_IN_RESULTS = {"07_negative_losses": "negative_losses_"}
ALL_STAGES = STAGES + OPT_IN_STAGES


def _sources_digest() -> str:
    """The code version of ntlib (:func:`ntlib.provenance.code_version`), as the results record it."""
    return code_version(ROOT / "ntlib")


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
    bits). Opt-in stages whose notebook exists are keyed after the default ones."""
    keys, prev, src = {}, "", _sources_digest()
    prof = dataclasses.asdict(get_profile(profile, corpus))
    data = stages_data_digest(corpus, data_dir)
    extra = () if device_type == "cpu" else (device_type,)
    opt_in = tuple(s for s in OPT_IN_STAGES if (Path(notebooks_dir) / f"{s}.ipynb").is_file())
    for stage in STAGES + opt_in:
        nb = notebook_digest(notebooks_dir / f"{stage}.ipynb")
        prev = keys[stage] = config_hash(prof, corpus, nb, src, data, prev, *extra)
    return keys


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_PROGRESS = re.compile(r"\d+%\||it/s[\],]|s/it[\],]|TqdmWarning|from \.autonotebook")


def publish(profile: str = "small", corpus: str = "switchboard", run_root: str | Path = ROOT / "runs",
            notebooks_dir: str | Path = ROOT / "notebooks", stages: tuple[str, ...] = STAGES) -> list[Path]:
    """Copy a reproduction's executed notebooks of ``stages`` (default: 01–06; the opt-in 07 when
    named) over ``notebooks/`` for committing: papermill's injected-parameters cell and metadata
    removed, progress-bar lines dropped from the stored outputs (the run's printed results stay);
    warns about absolute paths left in outputs."""
    unknown = [s for s in stages if s not in ALL_STAGES]
    if unknown:
        raise StageError(f"publish: unknown stage(s) {unknown}; known: {list(ALL_STAGES)}")
    if Path(notebooks_dir).resolve() == (ROOT / "notebooks").resolve() and (profile, corpus) != DEFAULT_RUN:
        raise StageError(f"publish: notebooks/ holds the committed {'/'.join(DEFAULT_RUN)} run's outputs; a "
                         f"{profile}/{corpus} run is not published over them (notebooks/ left unchanged)")
    out_dir, written = Path(run_root) / f"reproduce-{corpus}-{profile}", []
    clean_stale_tmp(notebooks_dir)        # a publish killed mid-write left them (their writer is gone)
    notebooks, refused = {}, []
    for stage in stages:                 # check all first: nothing is published from a failed run
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
    for stage in stages:
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
        if p.is_file() and TMP_MARK not in p.name and p.name != LOCK_NAME:
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


def _readable_notebook(path: Path) -> bool:
    try:
        return isinstance(json.loads(path.read_text(encoding="utf-8")).get("cells"), list)
    except (OSError, ValueError, AttributeError):
        return False


def execute(notebook: Path, output: Path, parameters: dict, cwd: Path) -> None:
    """papermill ``notebook`` → ``output``, written under a temporary name and renamed into place, so
    ``output`` is never a half-written notebook. A failure is a :class:`StageError` naming the notebook,
    the error and the executed copy when one was saved (a cell's error: its traceback is in it): a cell
    that raised, a kernel that died, a disk that filled up while papermill saved."""
    import papermill as pm
    from .kernel import ensure_installed
    from .reports import atomic_path
    output = Path(output)
    with atomic_path(output, suffix=".ipynb") as tmp:
        try:
            pm.execute_notebook(str(notebook), str(tmp), parameters=parameters, cwd=str(cwd),
                                progress_bar=False, kernel_name=ensure_installed())
        except pm.PapermillExecutionError as e:
            os.replace(tmp, output)
            raise StageError(f"{notebook} failed: {e.ename}: {e.evalue} (cell [{e.exec_count}] of the "
                             f"executed notebook {output}, which holds the traceback)") from e
        except Exception as e:        # a dead kernel, a timeout, a full disk: papermill names no notebook
            kept = _readable_notebook(tmp)
            if kept:
                os.replace(tmp, output)
            else:
                output.unlink(missing_ok=True)
            raise StageError(f"{notebook} did not run to the end: {type(e).__name__}: {e}"
                             + (f" (the executed notebook so far: {output})" if kept else
                                " (no readable executed notebook was saved)")) from e


def declares(notebook: Path, name: str) -> bool:
    """Whether a notebook's ``parameters`` cell assigns ``name`` (papermill may pass it)."""
    from .params import _assigned
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    return any(name in _assigned("".join(c["source"])) for c in nb["cells"] if c["cell_type"] == "code"
               and "parameters" in c.get("metadata", {}).get("tags", []))


def _inputs_digest(records: list[dict]) -> str:
    """Hash of what the earlier stages wrote ({report: sha256}): a stage reads them, so when any
    of them changed (an earlier stage re-ran, a results file came back) it is not cached."""
    return config_hash(sorted((rel, sha) for r in records for rel, sha in (r.get("outputs") or {}).items()))


def _run_stages(profile, corpus, run_root, reports_dir, data_dir, stages, force, notebooks_dir, out_dir,
                threads=None, device="auto", device_type="cpu"):
    keys = stage_keys(profile, corpus, notebooks_dir, data_dir, device_type)
    records, t_all = [], time.time()
    for i, stage in enumerate(stages, 1):
        marker = out_dir / f"{stage}.done.json"
        done = read_json(marker) if marker.exists() else {}
        stale = _changed_outputs(reports_dir, done.get("outputs"))
        inputs = _inputs_digest(records)
        if not force and done.get("key") == keys[stage] and not stale and done.get("inputs") == inputs:
            rec = {**done, "cached": True}
            print(f"[{i}/{len(stages)}] {stage}: cached (ran in {rec['seconds']:.0f} s)", flush=True)
            records.append(rec)
            continue
        if done.get("key") == keys[stage] and stale and not force:
            print(f"[{i}/{len(stages)}] {stage}: re-running: {len(stale)} of its reports missing or "
                  f"changed ({', '.join(stale[:3])}{' ...' if len(stale) > 3 else ''})", flush=True)
        elif done.get("key") == keys[stage] and not force:
            print(f"[{i}/{len(stages)}] {stage}: re-running: what the earlier stages wrote has changed", flush=True)
        print(f"[{i}/{len(stages)}] {stage}: running ...", flush=True)
        marker.unlink(missing_ok=True)        # a failed run must not leave the previous "done"
        before, t0 = _snapshot(reports_dir), time.time()
        parameters = dict(profile=profile, corpus=corpus, run_root=_rel(run_root, notebooks_dir),
                          reports_dir=_rel(reports_dir, notebooks_dir), data_dir=data_dir, device=device)
        if threads is not None and declares(notebooks_dir / f"{stage}.ipynb", "threads"):
            parameters["threads"] = threads
        execute(notebooks_dir / f"{stage}.ipynb", out_dir / f"{stage}.ipynb", parameters, notebooks_dir)
        after = _snapshot(reports_dir)
        outputs = {rel: sha256_file(reports_dir / rel) for rel, st in sorted(after.items())
                   if before.get(rel) != st}
        owners = {rel: r["stage"] for r in records for rel in r.get("outputs", {})}
        clash = [rel for rel in outputs if rel in owners]
        if clash:       # the earlier stage's marker would go stale and the next run would redo it
            raise StageError(f"{stage} rewrote {', '.join(clash)}, a report of {owners[clash[0]]}: "
                             f"each report must have one writer (rename one of them)")
        rec = {"stage": stage, "key": keys[stage], "inputs": inputs, "seconds": round(time.time() - t0, 1),
               "profile": profile, "corpus": corpus, "device": device_type,
               "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
               "threads": threads or _notebook_threads(), "outputs": outputs}
        write_json(rec, marker)               # only after success
        print(f"[{i}/{len(stages)}] {stage}: done in {rec['seconds']:.0f} s", flush=True)
        records.append({**rec, "cached": False})
    return records, t_all


def _notebook_threads() -> int:
    """The thread count a notebook picks by default: ``$NTLIB_THREADS``, else every core."""
    return int(os.environ.get("NTLIB_THREADS") or 0) or os.cpu_count() or 1


def timings(records: list[dict], wall_seconds: float, threads: int | None) -> dict:
    """The per-stage timing summary of a reproduction (``timings.json``): seconds of each stage in
    this invocation, and for a cached stage the seconds of the run that produced it."""
    stages = [{"stage": r["stage"], "cached": r["cached"], "seconds": r["seconds"],
               "threads": r.get("threads")} for r in records]
    return {"wall_seconds": round(wall_seconds, 1), "from_scratch": not any(r["cached"] for r in records),
            "stage_seconds_total": round(sum(r["seconds"] for r in records), 1),
            "threads": threads or _notebook_threads(), "stages": stages,
            "provenance": record(threads=threads or _notebook_threads()),
            "finished": time.strftime("%Y-%m-%d %H:%M:%S")}


def timing_summary(t: dict) -> str:
    """Human summary of :func:`timings` (what ``reproduce`` prints at the end), with the line the
    README quotes (``01 108 s · 02 1,425 s · ...``)."""
    lines = ["stage            seconds  (cached: seconds of the run that made it)"]
    for r in t["stages"]:
        lines.append(f"  {r['stage']:<14} {r['seconds']:>8,.0f}" + ("  cached" if r["cached"] else ""))
    total = t["stage_seconds_total"]
    lines.append(f"  {'all stages':<14} {total:>8,.0f}  = {total / 60:.1f} min; this invocation "
                 f"{t['wall_seconds']:,.0f} s; {t['threads']} thread(s); {t['provenance']['cpu']}"
                 + ("" if t["from_scratch"] else "; NOT from scratch (some stages cached)"))
    lines.append("  README: " + " · ".join(f"{r['stage'][:2]} {r['seconds']:,.0f} s" for r in t["stages"]))
    return "\n".join(lines)


def reproduce(profile: str = "small", corpus: str = "switchboard", run_root: str | Path = ROOT / "runs",
              reports_dir: str | Path | None = None, data_dir: str | None = None,
              stages: tuple[str, ...] = STAGES, force: bool = False,
              notebooks_dir: str | Path = ROOT / "notebooks", threads: int | None = None,
              device: str | None = None) -> list[dict]:
    """Run the numbered notebooks in order; return one record per stage (key, cached, seconds).
    ``threads`` is passed to every notebook that declares it (None: the notebooks' default,
    every core or ``$NTLIB_THREADS``); the timings go to ``timings.json`` and are printed.
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
    # a second reproduction in this run folder, or writing these reports from another run root, stops at once
    with run_lock(out_dir, what="reproduction"), run_lock(reports_dir, what="reproduction writing reports"):
        clean_stale_tmp(run_root)                       # left by a kill mid-write (writer not alive)
        clean_stale_tmp(reports_dir)
        records, t_all = _run_stages(profile, corpus, run_root, reports_dir, data_dir, stages, force,
                                     notebooks_dir, out_dir, threads, device, device_type)
    total = time.time() - t_all
    write_json({"profile": profile, "corpus": corpus, "wall_seconds": round(total, 1),
                "stages": records}, out_dir / "reproduce.json")
    t = {"profile": profile, "corpus": corpus, **timings(records, total, threads)}
    write_json(t, out_dir / "timings.json")
    print(f"reproduce {profile}/{corpus}: {total:.0f} s; reports in {reports_dir}; "
          f"timings in {out_dir / 'timings.json'}", flush=True)
    print(timing_summary(t), flush=True)
    return records

# --- comparing a run's results with the committed ones -------------------------------------------

RTOL = 0.05        # relative tolerance between runs on different machines / thread counts / code
ATOL = 1e-3        # absolute floor for numbers near 0 (rates are fractions: 1e-3 = 0.1 point)
IGNORED = re.compile(r"seconds|per_s$|elapsed|^wall|^finished$|^provenance$|^run_dir$|^timing$")   # timing: {stage: seconds}
GENERATED_TEXT = re.compile(r"^(samples|mmi_samples|sample|top10|responses|triggers|hits)$")


@dataclasses.dataclass
class Difference:
    file: str
    path: str
    run: object
    ref: object
    judged: bool                 # False: generated text in tolerance mode, listed but not judged

    def line(self) -> str:
        def show(v):
            text = json.dumps(v, default=str)
            return text if len(text) <= 60 else text[:57] + "..."
        rel = ""
        if _number(self.run) and _number(self.ref) and self.ref:
            rel = f" (rel {abs(self.run - self.ref) / abs(self.ref):.2%})"
        return f"{self.file}: {self.path}: run {show(self.run)} vs committed {show(self.ref)}{rel}"


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _diff(run, ref, path, file, exact, rtol, atol, text, out):
    if isinstance(run, dict) and isinstance(ref, dict):
        for k in sorted(set(run) | set(ref), key=str):
            if IGNORED.search(str(k)):
                continue
            sub = f"{path}.{k}" if path else str(k)
            if k not in run or k not in ref:
                out.append(Difference(file, sub, run.get(k, "<missing>"), ref.get(k, "<missing>"), True))
            else:
                _diff(run[k], ref[k], sub, file, exact, rtol, atol, text or bool(GENERATED_TEXT.match(str(k))), out)
    elif isinstance(run, list) and isinstance(ref, list):
        if len(run) != len(ref):
            out.append(Difference(file, f"{path} (length)", len(run), len(ref), not (text and not exact)))
        for i, (a, b) in enumerate(zip(run, ref)):
            _diff(a, b, f"{path}[{i}]", file, exact, rtol, atol, text, out)
    elif _number(run) and _number(ref):
        same = (run == ref or (math.isnan(run) and math.isnan(ref))) if exact else (
            math.isclose(run, ref, rel_tol=rtol, abs_tol=atol) or (math.isnan(run) and math.isnan(ref)))
        if not same:
            out.append(Difference(file, path, run, ref, not (text and not exact)))
    elif run != ref:
        out.append(Difference(file, path, run, ref, not (text and not exact)))


def _committed_results(ref_dir: Path) -> dict[str, dict]:
    """{name: results} of ``ref_dir/results/*.json``; for the committed ``reports/`` the versions
    in git's HEAD (a run writes into reports/, so the files on disk may be the run itself)."""
    if ref_dir.resolve() == COMMITTED_REPORTS.resolve():
        try:
            def git(*a):
                return subprocess.run(["git", "-C", str(ROOT), *a], capture_output=True, text=True,
                                      check=True, timeout=30).stdout
            names = git("ls-tree", "--name-only", "HEAD", "reports/results/").split()
            return {Path(n).name: json.loads(git("show", f"HEAD:{n}")) for n in names if n.endswith(".json")}
        except (OSError, subprocess.SubprocessError, json.JSONDecodeError) as e:
            print(f"note: cannot read the committed results from git ({e}); using {ref_dir}/results",
                  file=sys.stderr)
    return {p.name: read_json(p) for p in sorted((ref_dir / "results").glob("*.json"))}


@dataclasses.dataclass
class Comparison:
    files: dict            # name -> {"mode": "exact"|"tolerance", "why": [...], "differences": [...]}
    missing: list          # committed results the run lacks
    extra: list            # run results with no committed counterpart
    rtol: float
    atol: float
    not_run: list = dataclasses.field(default_factory=list)   # committed results of opt-in stages the run skipped
    verdicts: list = dataclasses.field(default_factory=list)  # (table, claim, committed outcome, run outcome)

    @property
    def failures(self) -> list[Difference]:
        return [d for f in self.files.values() for d in f["differences"] if d.judged]

    @property
    def ok(self) -> bool:
        return not self.failures and not self.missing

    def report(self, limit: int = 40) -> str:
        lines = []
        if self.verdicts:          # what a reader concludes comes first, then the numbers behind it
            lines.append(f"{len(self.verdicts)} verdict(s) differ (committed → run):")
            lines += [f"  {table}: {old} → {new}: {claim}" for table, claim, old, new in self.verdicts]
        else:
            lines.append("verdicts: none differs")
        for name, f in self.files.items():
            judged = [d for d in f["differences"] if d.judged]
            free = [d for d in f["differences"] if not d.judged]
            mode = ("exact (same code, torch, threads, CPU, float path, GPU, device)" if f["mode"] == "exact" else
                    f"within rtol {self.rtol:g} / atol {self.atol:g} ({'; '.join(f['why'])})")
            lines.append(f"{name}: {f['numbers']} numbers compared, {mode}: "
                         + ("equal" if not f["differences"] else
                            f"{len(judged)} outside" + (f", {len(free)} generated-text values moved (not judged)"
                                                        if free else "")))
            lines += ["  " + d.line() for d in judged[:limit]]
            if len(judged) > limit:
                lines.append(f"  ... and {len(judged) - limit} more")
        lines += [f"{name}: committed, but the run has none" for name in self.missing]
        lines += [f"{name}: committed by an opt-in stage the run did not run (not compared)" for name in self.not_run]
        lines += [f"{name}: in the run only (not compared)" for name in self.extra]
        lines.append("EQUAL: every number within its tolerance" if self.ok else
                     f"DIFFERENT: {len(self.failures)} value(s) outside the tolerance"
                     + (f", {len(self.missing)} result file(s) missing" if self.missing else ""))
        return "\n".join(lines)


def _count_numbers(obj) -> int:
    if isinstance(obj, dict):
        return sum(_count_numbers(v) for k, v in obj.items() if not IGNORED.search(str(k)))
    if isinstance(obj, list):
        return sum(_count_numbers(v) for v in obj)
    return int(_number(obj))


def compare(run_dir: str | Path, ref_dir: str | Path = COMMITTED_REPORTS, rtol: float = RTOL,
            atol: float = ATOL) -> Comparison:
    """Diff ``run_dir/results/*.json`` with ``ref_dir/results/*.json`` (default: the committed ones).

    Per file, the recorded ``provenance`` decides the rule: the same code version, torch, thread
    count, CPU model and core count, float path (:mod:`ntlib.floatpath`: torch's CPU capability, the
    AVX2 pin, the CPU's vendor, family, model and ISA flags), device and GPU in both → every value must be *equal*;
    otherwise (or when either has no provenance) numbers must agree within ``rtol`` relative
    (``abs_tol`` ``atol``) and other values exactly, except generated text (samples, responses,
    top-10 lists), which is listed but not judged. Timings (``*seconds*``, tokens/s), ``run_dir``
    and ``provenance`` itself are ignored. A committed file the run lacks counts as a difference.
    The report opens with the verdicts whose outcome differs (:func:`verdict_changes`).
    """
    run_dir, ref_dir = Path(run_dir), Path(ref_dir)
    if not (run_dir / "results").is_dir():
        raise FileNotFoundError(f"{run_dir}/results: no results folder (is {run_dir} a reports dir?)")
    ref = _committed_results(ref_dir)
    if not ref:
        raise FileNotFoundError(f"{ref_dir}/results: no results to compare with")
    run = {p.name: read_json(p) for p in sorted((run_dir / "results").glob("*.json"))}
    files = {}
    for name in sorted(set(run) & set(ref)):
        exact, why = same_run_environment(run[name].get("provenance"), ref[name].get("provenance"))
        out: list[Difference] = []
        _diff(run[name], ref[name], "", name, exact, rtol, atol, False, out)
        files[name] = {"mode": "exact" if exact else "tolerance", "why": why, "differences": out,
                       "numbers": _count_numbers(ref[name])}
    absent = sorted(set(ref) - set(run))
    opt_in = [n for n in absent if n.startswith(tuple(OPT_IN_RESULTS.values()))]
    return Comparison(files, [n for n in absent if n not in opt_in], sorted(set(run) - set(ref)), rtol, atol, opt_in,
                      verdict_changes(run, ref))


def _verdict_outcomes(results: dict[str, dict]) -> dict[tuple[str, str], str]:
    """{(table, claim): outcome} of a run's results files ({file name: results}): the verdicts of
    ``tables.md`` (:func:`ntlib.tables.verdicts`, per corpus) and those a results file stores itself
    (notebook 07's). A run whose stages cannot share a table yields an "(unreadable)" entry."""
    from .tables import STAGES as TABLE_STAGES, MixedResultsError, verdicts
    out, by_corpus = {}, {}
    for name, res in results.items():
        stage, _, corpus = Path(name).stem.rpartition("_")
        if stage in TABLE_STAGES:
            by_corpus.setdefault(corpus, {})[stage] = res
        for v in res.get("verdicts") or []:
            if stage not in TABLE_STAGES:       # 03 stores its Table 3 verdicts too: counted once, below
                out[(stage, v["claim"])] = v["outcome"]
    for corpus, res in by_corpus.items():
        try:
            for table, vs in verdicts(res).items():
                out.update({(f"{table} ({corpus})", v.claim): v.outcome for v in vs})
        except (MixedResultsError, KeyError, TypeError, ValueError) as e:
            out[(corpus, "(verdicts unreadable)")] = f"{type(e).__name__}: {e}"
    return out


def verdict_changes(run: dict[str, dict], ref: dict[str, dict]) -> list[tuple[str, str, str, str]]:
    """(table, claim, committed outcome, run outcome) of every verdict whose outcome differs between two
    runs' results, or that only one of them has."""
    a, b = _verdict_outcomes(ref), _verdict_outcomes(run)
    return [(key[0], key[1], a.get(key, "(absent)"), b.get(key, "(absent)"))
            for key in sorted(set(a) | set(b)) if a.get(key) != b.get(key)]



def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ntlib.reproduce", description=__doc__.split("\n")[0])
    ap.add_argument("--profile", default="small", choices=sorted(PROFILES))
    ap.add_argument("--corpus", default="switchboard", choices=CORPORA)
    ap.add_argument("--run-root", default=str(ROOT / "runs"))
    ap.add_argument("--reports-dir", default=None, help="default: reports/ (small, switchboard) "
                    "or reports/<corpus>-<profile>/")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--stages", nargs="*", default=list(STAGES), choices=ALL_STAGES,
                    help=f"default: {' '.join(STAGES)}; opt-in (run only when named): {' '.join(OPT_IN_STAGES)}")
    ap.add_argument("--force", action="store_true", help="re-run stages even when cached")
    ap.add_argument("--publish", action="store_true",
                    help="after the run, copy the executed notebooks of --stages (cleaned) over notebooks/")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch threads in every notebook (default: $NTLIB_THREADS, else every core)")
    ap.add_argument("--compare", nargs="?", const="", default=None, metavar="RUN_REPORTS_DIR",
                    help="run nothing: diff RUN_REPORTS_DIR/results/*.json (default: the --reports-dir "
                         "of --profile/--corpus) with the committed reports/results/*.json; exit 1 when "
                         "a value lies outside the tolerance")
    ap.add_argument("--against", default=str(COMMITTED_REPORTS), metavar="REPORTS_DIR",
                    help="with --compare: the reference reports dir (default: the committed reports/, "
                         "read from git HEAD)")
    ap.add_argument("--rtol", type=float, default=RTOL, help=f"with --compare: relative tolerance "
                    f"between runs that differ in machine, threads, torch or code (default {RTOL})")
    ap.add_argument("--atol", type=float, default=ATOL, help=f"with --compare: absolute tolerance "
                    f"(default {ATOL})")
    ap.add_argument("--device", default=None, help="auto (CUDA when present, else CPU), cpu, cuda "
                    "or cuda:N; default $NTLIB_DEVICE or auto")
    ap.add_argument("--estimate", action="store_true", help="run nothing: time a few steps of every "
                    "stage on the device and print the profile's expected time per stage and in all")
    ap.add_argument("--nominal", action="store_true", help="with --estimate: Appendix B's counts and synthetic "
                    "batches instead of the corpus (for a machine without the data)")
    a = ap.parse_args(argv)
    if a.estimate:
        from .estimate import estimate, format_estimate
        from .data import DataError
        try:
            print(format_estimate(estimate(a.profile, a.corpus, a.device, a.data_dir, nominal=a.nominal)), flush=True)
        except DataError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        return 0
    if a.threads is not None and a.threads < 1:
        ap.error(f"--threads {a.threads}: must be ≥ 1")
    if a.compare is not None:
        run_dir = a.compare or a.reports_dir or default_reports_dir(a.profile, a.corpus)
        try:
            result = compare(run_dir, a.against, a.rtol, a.atol)
        except (FileNotFoundError, ValueError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        print(f"comparing {run_dir} with {a.against}")
        print(result.report())
        return 0 if result.ok else 1
    reproduce(a.profile, a.corpus, a.run_root, a.reports_dir, a.data_dir, tuple(a.stages), a.force,
              threads=a.threads, device=a.device)
    if a.publish:
        for path in publish(a.profile, a.corpus, a.run_root, stages=tuple(a.stages)):
            print(f"published {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
