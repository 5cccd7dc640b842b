"""``python -m ntlib.run.reproduce --compare``: a run's results beside the committed ones.

Per results file, the recorded provenance decides the rule (exact on the same code, torch, threads, CPU,
float path and device; else within a tolerance), and the report opens with the verdicts whose outcome
differs (:func:`verdict_changes`), then the numbers. See :func:`compare`.
"""
from __future__ import annotations

import dataclasses
import json
import math
import re
import subprocess
import sys
from pathlib import Path

from ntlib.machine.provenance import same_run_environment
from ntlib.results.reports import read_json
from ntlib.results.tables import MixedResultsError
from ntlib.results.verdicts import verdicts
from ntlib.run.params import COMMITTED_REPORTS, ROOT
from ntlib.stages import STAGES, TABLE_STAGES

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
    count, CPU model and core count, float path (:mod:`ntlib.machine.floatpath`: torch's CPU capability, the
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
    opt_in = [n for n in absent if n.startswith(tuple(f"{s.results}_" for s in STAGES if s.opt_in and s.results))]
    return Comparison(files, [n for n in absent if n not in opt_in], sorted(set(run) - set(ref)), rtol, atol, opt_in,
                      verdict_changes(run, ref))


def _verdict_outcomes(results: dict[str, dict]) -> dict[tuple[str, str], str]:
    """{(table, claim): outcome} of a run's results files ({file name: results}): the verdicts of
    ``tables.md`` (:func:`ntlib.results.tables.verdicts`, per corpus) and those a results file stores itself
    (notebook 07's). A run whose stages cannot share a table yields an "(unreadable)" entry."""
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
