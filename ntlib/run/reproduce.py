"""One-command reproduction: run notebooks 01 → 06 with papermill, skipping cached stages.

Notebook 07 (negative losses compared, beyond the paper) is an opt-in stage: ``--stages
07_negative_losses`` (``make compare-losses``) runs it; the default run does not.

``python -m ntlib.run.reproduce --profile small --corpus switchboard`` (what ``make reproduce``
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
device instead and prints the expected time of the profile (``ntlib.run.estimate``).

``python -m ntlib.run.reproduce --compare [RUN_REPORTS_DIR]`` diffs a run's ``results/*.json`` with
the committed ``reports/results/*.json`` (or ``--against DIR``); see :func:`compare`.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

from ntlib.data.dataset import DataError
from ntlib.data.sources import (
    OFFICIAL_TEST,
    OFFICIAL_VALID,
    OFFICIAL_VOCAB,
    TARGET_LISTS_DIR,
    corpus_files,
    data_digest,
    sha256_file,
)
from ntlib.data.targets import TARGET_LISTS
from ntlib.machine.device import ENV, resolve_device
from ntlib.machine.kernel import ensure_installed
from ntlib.machine.provenance import code_version, notebook_digest, record
from ntlib.results.reports import (
    LOCK_NAME,
    TMP_MARK,
    WRITE_LOG,
    atomic_path,
    clean_stale_tmp,
    read_json,
    run_lock,
    write_json,
)
from ntlib.run.compare import ATOL, RTOL, compare
from ntlib.run.config import CORPORA, config_hash
from ntlib.run.estimate import estimate, format_estimate
from ntlib.run.params import COMMITTED_REPORTS, DEFAULT_RUN, _assigned, check_reports_dir, default_reports_dir
from ntlib.run.profiles import PROFILES, get_profile
from ntlib.run.publish import publish, update_readme
from ntlib.stages import BY_NAME, DEFAULT, OPT_IN, StageError, needs, upstream, waves

ROOT = Path(__file__).resolve().parents[2]      # the checkout
STAGES = DEFAULT          # the stages of ntlib.stages.STAGES that `make reproduce` runs
ALL_STAGES = tuple(BY_NAME)


def _sources_digest() -> str:
    """The code version of ntlib (:func:`ntlib.machine.provenance.code_version`), as the results record it."""
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
    groups = [corpus_files(corpus, data_dir), (OFFICIAL_VOCAB,), (OFFICIAL_VALID, OFFICIAL_TEST)]
    groups += [(f"{TARGET_LISTS_DIR}/{f}",) for f, _ in TARGET_LISTS.values()]
    return data_digest(groups, data_dir)


def stage_keys(profile: str, corpus: str, notebooks_dir: Path, data_dir=None,
               device_type: str = "cpu", seed: int = 1) -> dict[str, str]:
    """Cache key per stage: profile (its first baseline seed ``seed``) + corpus + notebook + ntlib sources +
    the sha256 of the data read + the keys of the stages it uses (:func:`ntlib.stages.needs`; + the device type
    when not the CPU: GPU arithmetic differs in the last bits). Opt-in stages whose notebook exists are keyed
    after the default ones."""
    keys, src = {}, _sources_digest()
    prof = dataclasses.asdict(get_profile(profile, corpus, seed=seed))
    data = stages_data_digest(corpus, data_dir)
    extra = () if device_type == "cpu" else (device_type,)
    opt_in = tuple(s for s in OPT_IN if (Path(notebooks_dir) / f"{s}.ipynb").is_file())
    keyed = STAGES + opt_in
    for stage in keyed:
        nb = notebook_digest(notebooks_dir / f"{stage}.ipynb")
        keys[stage] = config_hash(prof, corpus, nb, src, data, *([keys[u] for u in needs(stage, keyed)] or [""]),
                                  *extra)
    return keys


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
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    return any(name in _assigned("".join(c["source"])) for c in nb["cells"] if c["cell_type"] == "code"
               and "parameters" in c.get("metadata", {}).get("tags", []))


def _inputs_digest(records: list[dict]) -> str:
    """Hash of what the earlier stages wrote ({report: sha256}): a stage reads them, so when any
    of them changed (an earlier stage re-ran, a results file came back) it is not cached."""
    return config_hash(sorted((rel, sha) for r in records for rel, sha in (r.get("outputs") or {}).items()))


def _execute_logged(notebook: Path, output: Path, parameters: dict, cwd: Path, log: Path) -> float:
    """:func:`execute` in a process of its own whose kernel logs every report it writes to ``log``
    (:data:`ntlib.results.reports.WRITE_LOG`): stages that run side by side write one reports folder, and the
    log says which stage wrote what. Returns the seconds it ran."""
    os.environ[WRITE_LOG] = str(log)
    t0 = time.time()
    execute(notebook, output, parameters, cwd)
    return time.time() - t0


def _logged_outputs(log: Path, reports_dir: Path) -> dict[str, str]:
    """{relpath: sha256} of the files under ``reports_dir`` that a stage's write log names."""
    if not log.is_file():
        return {}
    rels = set()
    for line in log.read_text(encoding="utf-8").splitlines():
        try:
            rels.add(Path(line).relative_to(reports_dir).as_posix())
        except ValueError:                      # a checkpoint, a cache: not a report
            continue
    return {rel: sha256_file(reports_dir / rel) for rel in sorted(rels) if (reports_dir / rel).is_file()}


def _run_stages(profile, corpus, run_root, reports_dir, data_dir, stages, force, notebooks_dir, out_dir,
                threads=None, device="auto", device_type="cpu", seed=1, concurrent=False):
    keys = stage_keys(profile, corpus, notebooks_dir, data_dir, device_type, seed)
    records, t_all, n = [], time.time(), len(stages)
    number = {stage: i for i, stage in enumerate(stages, 1)}

    def say(stage, text):
        print(f"[{number[stage]}/{n}] {stage}: {text}", flush=True)

    def inputs_of(stage):
        used = upstream(stage, tuple(stages))
        return _inputs_digest([r for r in records if r["stage"] in used])

    def parameters_for(stage, share):
        parameters = dict(profile=profile, corpus=corpus, run_root=_rel(run_root, notebooks_dir),
                          reports_dir=_rel(reports_dir, notebooks_dir), data_dir=data_dir, device=device)
        if seed != 1:
            parameters["seed"] = seed
        t = threads if threads is not None else (max(1, _notebook_threads() // share) if share > 1 else None)
        if t is not None and declares(notebooks_dir / f"{stage}.ipynb", "threads"):
            parameters["threads"] = t
        return parameters

    def finish(stage, seconds, outputs, inputs, used_threads):
        owners = {rel: r["stage"] for r in records for rel in r.get("outputs", {})}
        clash = [rel for rel in outputs if rel in owners]
        if clash:       # the earlier stage's marker would go stale and the next run would redo it
            raise StageError(f"{stage} rewrote {', '.join(clash)}, a report of {owners[clash[0]]}: "
                             f"each report must have one writer (rename one of them)")
        rec = {"stage": stage, "key": keys[stage], "inputs": inputs, "seconds": round(seconds, 1),
               "profile": profile, "corpus": corpus, "device": device_type,
               "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
               "threads": used_threads or _notebook_threads(), "outputs": outputs}
        write_json(rec, out_dir / f"{stage}.done.json")       # only after success
        say(stage, f"done in {rec['seconds']:.0f} s")
        records.append({**rec, "cached": False})

    for group in waves(tuple(stages), concurrent):
        to_run = []
        for stage in group:
            marker = out_dir / f"{stage}.done.json"
            done = read_json(marker) if marker.exists() else {}
            stale = _changed_outputs(reports_dir, done.get("outputs"))
            inputs = inputs_of(stage)
            if not force and done.get("key") == keys[stage] and not stale and done.get("inputs") == inputs:
                rec = {**done, "cached": True}
                say(stage, f"cached (ran in {rec['seconds']:.0f} s)")
                records.append(rec)
                continue
            if done.get("key") == keys[stage] and stale and not force:
                say(stage, f"re-running: {len(stale)} of its reports missing or changed "
                           f"({', '.join(stale[:3])}{' ...' if len(stale) > 3 else ''})")
            elif done.get("key") == keys[stage] and not force:
                say(stage, "re-running: what the earlier stages wrote has changed")
            marker.unlink(missing_ok=True)        # a failed run must not leave the previous "done"
            to_run.append((stage, inputs))
        if len(to_run) == 1:
            (stage, inputs), = to_run
            say(stage, "running ...")
            before, t0 = _snapshot(reports_dir), time.time()
            parameters = parameters_for(stage, 1)
            execute(notebooks_dir / f"{stage}.ipynb", out_dir / f"{stage}.ipynb", parameters, notebooks_dir)
            after = _snapshot(reports_dir)
            outputs = {rel: sha256_file(reports_dir / rel) for rel, st in sorted(after.items())
                       if before.get(rel) != st}
            finish(stage, time.time() - t0, outputs, inputs, parameters.get("threads", threads))
        elif to_run:
            _run_side_by_side(to_run, reports_dir, notebooks_dir, out_dir, parameters_for, say, finish)
    return sorted(records, key=lambda r: number[r["stage"]]), t_all


def _run_side_by_side(to_run, reports_dir, notebooks_dir, out_dir, parameters_for, say, finish):
    """Run the stages of ``to_run`` [(stage, inputs)] at once, each papermill in a process of its own; each
    stage's outputs are the reports its write log names. A failed stage lets the others finish (their
    markers are written) and is raised after them."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    names = [stage for stage, _ in to_run]
    before, failures = _snapshot(reports_dir), []
    params = {stage: parameters_for(stage, len(to_run)) for stage in names}
    logs = {stage: out_dir / f"{stage}.writes.log" for stage in names}
    for log in logs.values():
        log.unlink(missing_ok=True)
    with ProcessPoolExecutor(len(to_run), mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {}
        for stage in names:
            say(stage, f"running beside {', '.join(x for x in names if x != stage)} "
                       f"({params[stage].get('threads', 'default')} thread(s)) ...")
            futures[stage] = pool.submit(_execute_logged, notebooks_dir / f"{stage}.ipynb", out_dir / f"{stage}.ipynb",
                                         params[stage], notebooks_dir, logs[stage])
        outputs = {}
        for stage, inputs in to_run:                  # markers in stage order, whichever ends first
            try:
                seconds = futures[stage].result()
            except Exception as e:                    # StageError from the child, or a dead worker process
                failures.append(e if isinstance(e, StageError) else StageError(f"{stage}: {type(e).__name__}: {e}"))
                seconds = None
            outputs[stage] = _logged_outputs(logs[stage], reports_dir)
            if seconds is None:
                say(stage, "failed")
            else:
                finish(stage, seconds, outputs[stage], inputs, params[stage].get("threads"))
    written = {rel for out in outputs.values() for rel in out}
    after = _snapshot(reports_dir)
    stray = sorted(rel for rel, st in after.items() if before.get(rel) != st and rel not in written)
    if stray:
        print(f"warning: changed while {', '.join(names)} ran, by none of ntlib's report writers (not recorded "
              f"as any stage's report): {', '.join(stray[:5])}{' ...' if len(stray) > 5 else ''}", flush=True)
    if failures:
        if len(failures) > 1:
            raise StageError("; ".join(str(f) for f in failures)) from failures[0]
        raise failures[0]


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
              device: str | None = None, seed: int = 1, concurrent: bool | None = None) -> list[dict]:
    """Run the numbered notebooks in order; return one record per stage (key, cached, seconds).
    ``threads`` is passed to every notebook that declares it (None: the notebooks' default,
    every core or ``$NTLIB_THREADS``); the timings go to ``timings.json`` and are printed.
    ``device``: the notebooks' device setting (``None``: ``$NTLIB_DEVICE`` or auto). ``seed``: the first
    baseline's seed (the profile trains ``Profile.baselines`` from it); another than 1 is not the committed
    run: its reports go to ``reports/<corpus>-<profile>-custom-<hash>/`` and its runs to
    ``runs/reproduce-<corpus>-<profile>-seed<seed>/``. ``concurrent``: stages that use none of each other's
    models or reports (03, 04 and 05) run side by side, each with its share of the threads unless ``threads``
    says otherwise (None: on a GPU, where their small kernels leave it mostly idle; not on the CPU, whose
    cores one stage already uses). The numbers are the same either way at the same thread count."""
    device = device if device is not None else os.environ.get(ENV, "auto")
    device_type = resolve_device(device).type          # a bad setting fails here, not in stage 2
    concurrent = device_type == "cuda" if concurrent is None else concurrent
    notebooks_dir = Path(notebooks_dir)
    changed = {"seed": seed} if seed != 1 else {}
    reports_dir = Path(reports_dir or default_reports_dir(profile, corpus, changed)).resolve()
    check_reports_dir(reports_dir, profile, corpus, changed)    # never the committed reports/ for another run
    run_root = Path(run_root).resolve()
    out_dir = run_root / f"reproduce-{corpus}-{profile}{f'-seed{seed}' if seed != 1 else ''}"
    out_dir.mkdir(parents=True, exist_ok=True)
    reports_dir.mkdir(parents=True, exist_ok=True)
    # a second reproduction in this run folder, or writing these reports from another run root, stops at once
    with run_lock(out_dir, what="reproduction"), run_lock(reports_dir, what="reproduction writing reports"):
        clean_stale_tmp(run_root)                       # left by a kill mid-write (writer not alive)
        clean_stale_tmp(reports_dir)
        records, t_all = _run_stages(profile, corpus, run_root, reports_dir, data_dir, stages, force,
                                     notebooks_dir, out_dir, threads, device, device_type, seed, concurrent)
    total = time.time() - t_all
    write_json({"profile": profile, "corpus": corpus, "seed": seed, "wall_seconds": round(total, 1),
                "stages": records}, out_dir / "reproduce.json")      # the panel follows the newest
    t = {"profile": profile, "corpus": corpus, **timings(records, total, threads)}
    write_json(t, out_dir / "timings.json")
    print(f"reproduce {profile}/{corpus}: {total:.0f} s; reports in {reports_dir}; "
          f"timings in {out_dir / 'timings.json'}", flush=True)
    print(timing_summary(t), flush=True)
    return records

# --- comparing a run's results with the committed ones -------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ntlib.run.reproduce", description=__doc__.split("\n")[0])
    ap.add_argument("--profile", default="small", choices=sorted(PROFILES))
    ap.add_argument("--corpus", default="switchboard", choices=CORPORA)
    ap.add_argument("--run-root", default=str(ROOT / "runs"))
    ap.add_argument("--reports-dir", default=None, help="default: reports/ (small, switchboard) "
                    "or reports/<corpus>-<profile>/")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--stages", nargs="*", default=list(STAGES), choices=ALL_STAGES,
                    help=f"default: {' '.join(STAGES)}; opt-in (run only when named): {' '.join(OPT_IN)}")
    ap.add_argument("--force", action="store_true", help="re-run stages even when cached")
    ap.add_argument("--seed", type=int, default=1, help="the first baseline's seed (default 1, the committed "
                    "run); the profile trains its baselines from seed, seed + 1, ...; reports of another seed go to "
                    "reports/<corpus>-<profile>-custom-<hash>/")
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
    ap.add_argument("--concurrent", action=argparse.BooleanOptionalAction, default=None,
                    help="run 03, 04 and 05 side by side once 02 is done, each with its share of the threads "
                         "(default: on with a GPU, off on the CPU)")
    ap.add_argument("--estimate", action="store_true", help="run nothing: time a few steps of every "
                    "stage on the device and print the profile's expected time per stage and in all")
    ap.add_argument("--nominal", action="store_true", help="with --estimate: Appendix B's counts and synthetic "
                    "batches instead of the corpus (for a machine without the data)")
    a = ap.parse_args(argv)
    if a.estimate:
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
    if a.seed < 1:
        ap.error(f"--seed {a.seed}: must be ≥ 1")
    if a.publish and a.seed != 1:
        ap.error("--publish: only the committed run (seed 1) is published over notebooks/")
    reproduce(a.profile, a.corpus, a.run_root, a.reports_dir, a.data_dir, tuple(a.stages), a.force,
              threads=a.threads, device=a.device, seed=a.seed, concurrent=a.concurrent)
    if a.publish:
        for path in publish(a.profile, a.corpus, a.run_root, stages=tuple(a.stages)):
            print(f"published {path}")
        if (a.profile, a.corpus) == DEFAULT_RUN and a.reports_dir is None:    # the committed run: README's results
            print("README results " + ("updated" if update_readme() else "unchanged"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
