"""The paper's Tables 3, 4, 8 and 9 rebuilt from the results JSON of notebooks 02–05, with verdicts.

Nothing is computed here from models: every number comes from ``reports/results/*.json``
(written by the notebooks), and the paper's numbers from :mod:`ntlib.paper`. Each cell is
"ours (paper)". Every table is built here (the notebooks call these functions for their own
tables too), and each comes with verdicts (:class:`ntlib.stats.Verdict`): a claim of the paper
*holds*, *does not hold* or is *inconclusive* by a stated test. Shown in notebooks/06_tables.ipynb.

One table compares like with like: :func:`check_same_inputs` refuses rows scored on other inputs
or under another profile / corpus, and :func:`load_results` refuses stages of different runs.

Results schemas (``reports/results/<stage>_<corpus>.json``), one per notebook
----------------------------------------------------------------------------
*Row record* — one Table 4 / 9 row of one model and seed (``evaluate.table4_row`` /
``evaluate.test_set_row``):
  ``profile``, ``corpus``, ``seed``, ``n_inputs``, ``inputs_sha`` (hash of the input ids scored),
  ``provenance`` (a dict for the run's code / torch version, threads, device);
  ``ppl`` (None: Test-set, MMI), ``max_ratio``, ``ent2``, ``ent3``, ``distinct1``, ``distinct2``,
  ``seq_rep4``, ``rep4_share`` (share of responses repeating a 4-gram), ``bleu4`` (the variant
  ``bleu4_variant`` = ``metrics.BLEU_CHOSEN``), ``bleu4_variants`` {variant: value}, ``corpus_bleu4``,
  ``bleu4_sentences`` (per input, the chosen variant), ``top10`` [[response, ratio]], ``responses``
  (one per input, in the evaluation set's order: the unit of the paired bootstrap); stage extras
  (``r_thres``, ``g_lr``, ``setting``, ``lm_ppl``, ``avg_len``).
*baselines* (02): ``profile``, ``corpus``, ``seed``, ``run_dir``, ``train_seconds``, ``history``,
  ``lm`` / ``seq2seq`` {nll, ppl, tokens}, ``T_out``, ``T_in``, ``ppl_bootstrap`` (paired bootstrap
  over test responses of the per-word NLL, seq2seq − LM), ``rows`` {"Test-set": [record],
  "Baseline": [record]}, ``beam_top1_first200``, ``samples``, ``paper``, ``seconds``.
*frequent* (04): ``profile``, ``corpus``, ``seed``, ``seeds``, ``config``, ``run_dir``, ``rows``
  {"Test-set": [record], "Baseline": [record], "+neg-train (r%)": [a record per seed]},
  ``histories`` {"<row> seed=<s>": history}, ``eos_comparison``, ``samples``, ``seconds``.
*gan_mmi* (05): ``profile``, ``corpus``, ``seed``, ``seeds``, ``config``, ``rows`` {"Test-set",
  "Baseline": [record], "+GAN": [a record per seed], "+MMI": [record]}, ``gan_selection``
  {seed: selection}, ``mmi_grid``, ``mmi_reference``, ``samples``, ``mmi_samples``, ``seconds``.
*malicious* (03): see :func:`table3`. *data* (01): corpus statistics.
Every stage's JSON carries ``profile`` and ``corpus``; rows of one table carry the same
``profile``, ``corpus``, ``n_inputs`` and ``inputs_sha``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from . import paper, stats
from .config import HIT_TYPES
from .metrics import BLEU_CHOSEN, BLEU_VARIANTS
from .reports import cell, read_json
from .stats import FAILS, HOLDS, INCONCLUSIVE, Verdict

STAGES = ("data", "baselines", "malicious", "frequent", "gan_mmi")
ROW_KEYS = ("profile", "corpus", "n_inputs", "inputs_sha")   # what one table's rows must share
DEGENERATE_MARGIN = 0.02    # responses are degenerate when the share repeating a 4-gram exceeds
                            # the test set's by more than this (2 points), by the test


class MixedResultsError(ValueError):
    """Rows or stages of different runs (inputs, profile or corpus) put in one table."""


# the notebook that writes each stage's results (named when they are missing)
RESULTS_WRITER = {"data": "01_data", "baselines": "02_baselines", "malicious": "03_malicious",
                  "frequent": "04_frequent", "gan_mmi": "05_gan_mmi"}


class MissingResultsError(FileNotFoundError):
    """A stage's results JSON that a table needs is not there; the message names the file and its notebook."""


def load_results(reports_dir: str | Path, corpus: str, required=()) -> dict:
    """``{stage: results dict}`` for each stage whose JSON exists; a stage in ``required`` whose JSON
    is missing is a :class:`MissingResultsError` naming the file and the notebook that writes it (a
    table is never built without it). Stages of different profiles or corpora are refused
    (:func:`check_one_run`)."""
    out, missing = {}, []
    for stage in STAGES:
        path = Path(reports_dir) / "results" / f"{stage}_{corpus}.json"
        if path.exists():
            out[stage] = read_json(path)
        elif stage in required:
            missing.append(f"{path} (written by notebooks/{RESULTS_WRITER[stage]}.ipynb)")
    if missing:
        raise MissingResultsError("results missing, so the tables would be incomplete: " + "; ".join(missing)
                                  + ". Run those notebooks first (make reproduce runs them in order).")
    check_one_run(out)
    return out


def check_one_run(res: dict) -> None:
    """Raise :class:`MixedResultsError` naming the stages when they ran on different profiles or corpora."""
    runs = {stage: (r.get("profile"), r.get("corpus")) for stage, r in res.items()}
    if len(set(runs.values())) > 1:
        listed = "; ".join(f"{stage}: profile {p!r}, corpus {c!r}" for stage, (p, c) in runs.items())
        raise MixedResultsError(f"the results mix runs ({listed}); one table holds one profile and corpus: "
                                "rerun the stages on one profile (make reproduce PROFILE=...)")


def profiles(res: dict) -> dict[str, str]:
    """Each stage's profile (notebook 06's header)."""
    return {stage: f"{r.get('profile')} / {r.get('corpus')}" for stage, r in res.items()}


def check_same_inputs(rows: dict[str, list[dict]]) -> None:
    """Raise :class:`MixedResultsError` naming the rows unless every record of every row was scored
    on the same inputs (``n_inputs``, ``inputs_sha``) under the same ``profile`` and ``corpus``."""
    keys = {}
    for name, recs in rows.items():
        for rec in recs:
            missing = [k for k in ROW_KEYS if k not in rec]
            if missing:
                raise MixedResultsError(f"row {name!r} has no {', '.join(missing)}: written by an older "
                                        "notebook; rerun it")
            keys.setdefault(tuple(rec[k] for k in ROW_KEYS), []).append(f"{name} (seed {rec.get('seed')})")
    if len(keys) > 1:
        listed = "; ".join(f"{', '.join(names)}: " + ", ".join(f"{k}={v}" for k, v in zip(ROW_KEYS, key))
                           for key, names in keys.items())
        raise MixedResultsError(f"rows scored on different inputs or runs cannot share a table — {listed}")


def _pct(x):
    return None if x is None else 100 * x


def _recs(v) -> list[dict]:
    """A row's records: a list (one per seed), or one record."""
    return v if isinstance(v, list) else [v]


def table8(res: dict, corpus: str) -> pd.DataFrame:
    """Table 8: test PPL (NLL) of the LM and the seq2seq."""
    b, p = res["baselines"], paper.TABLE8.get(corpus, {})
    rows = {}
    for kind, name in (("lm", "LM"), ("seq2seq", "Seq2seq")):
        ours, theirs = b[kind], p.get(kind, {})
        rows[name] = {"Test-PPL": cell(ours["ppl"], theirs.get("ppl")),
                      "Test-NLL": cell(ours["nll"], theirs.get("nll"))}
    return pd.DataFrame(rows).T


def table4_rows(res: dict) -> dict[str, list[dict]]:
    """Our Table 4 rows keyed as the paper's rows, each a list of records (one per seed); every
    row is checked to be on the same inputs and run, the stages' own Test-set / Baseline included."""
    rows, shown = {}, {}
    for stage in ("baselines", "gan_mmi", "frequent"):
        for name, v in res.get(stage, {}).get("rows", {}).items():
            rows[f"{name} [{stage}]"] = _recs(v)
            shown.setdefault(name, _recs(v))
    check_same_inputs(rows)
    return _paper_order(shown)


def _paper_order(rows: dict) -> dict:
    """Table 4's row order: Test-set, Baseline, +GAN, +MMI, then neg-train by falling threshold
    (the results JSON is written with sorted keys)."""
    first = [k for k in ("Test-set", "Baseline", "+GAN", "+MMI") if k in rows]
    neg = sorted((k for k in rows if k.startswith("+neg")), key=lambda k: -(rows[k][0].get("r_thres") or 0))
    rest = [k for k in rows if k not in first and k not in neg]
    return {k: rows[k] for k in first + neg + rest}


def _seed_values(recs: list[dict], key: str, scale: float = 1.0) -> list[float] | None:
    vals = [r.get(key) for r in recs]
    return None if any(v is None for v in vals) else [scale * v for v in vals]


def _stat_cell(recs: list[dict], key: str, paper_value=None, fmt: str = "{:.2f}", scale: float = 1.0) -> str:
    """"ours (paper)"; over several seeds "mean [95 % interval across seeds] (paper)"."""
    vals = _seed_values(recs, key, scale)
    theirs = "–" if paper_value is None else fmt.format(scale * paper_value)
    if vals is None:
        return f"– ({theirs})"
    if len(vals) == 1:
        return f"{fmt.format(vals[0])} ({theirs})"
    s = stats.seed_interval(vals)
    return f"{fmt.format(s['mean'])} [{fmt.format(s['lo'])}–{fmt.format(s['hi'])}] ({theirs})"


TABLE4_COLUMNS = (("PPL", "ppl", "{:.2f}", 1), ("M-ratio %", "max_ratio", "{:.1f}", 100),
                  ("E-2", "ent2", "{:.2f}", 1), ("E-3", "ent3", "{:.2f}", 1),
                  ("distinct-1", "distinct1", "{:.3f}", 1), ("distinct-2", "distinct2", "{:.3f}", 1),
                  ("seq-rep-4", "seq_rep4", "{:.3f}", 1), ("rep-4 %", "rep4_share", "{:.1f}", 100))


def table4(res: dict, corpus: str, rows: dict | None = None) -> pd.DataFrame:
    """Table 4: PPL, M-ratio (%), E-2, E-3 of greedy test responses, ours (paper), and the fluency
    columns (distinct-1/2, seq-rep-4, % of responses repeating a 4-gram; no paper value); rows of
    several seeds show the mean with its 95 % interval across seeds. ``rows``: a notebook's own
    rows (default: every stage's, :func:`table4_rows`)."""
    rows = table4_rows(res) if rows is None else _paper_order(rows)
    check_same_inputs(rows)
    p = paper.TABLE4.get(corpus, {})
    out = {}
    for name, recs in rows.items():
        q = p.get(name, {})
        out[name] = {label: _stat_cell(recs, key, q.get(key), fmt, scale) for label, key, fmt, scale in TABLE4_COLUMNS}
        out[name]["seeds"] = len(recs)
        out[name]["n"] = recs[0]["n_inputs"]
    return pd.DataFrame(out).T


def seed_table(rows: dict[str, list[dict]], keys=("ppl", "max_ratio", "ent3", "distinct2", "rep4_share",
                                                   "bleu4")) -> pd.DataFrame:
    """Each seed's value of the rows trained with several seeds, then their mean and 95 % interval."""
    out = {}
    for name, recs in rows.items():
        if len(recs) < 2:
            continue
        for r in recs:
            out[(name, f"seed {r['seed']}")] = {k: _g(r.get(k)) for k in keys}
        for k in keys:
            vals = _seed_values(recs, k)
            s = stats.seed_interval(vals) if vals else None
            out.setdefault((name, "mean"), {})[k] = None if s is None else _g(s["mean"])
            out.setdefault((name, "95 % interval"), {})[k] = (None if s is None else
                                                             f"{s['lo']:.4g}–{s['hi']:.4g}")
    return pd.DataFrame(out).T


def _g(x):
    return None if x is None else f"{x:.4g}"


def top10_table(rows: dict[str, list[dict]]) -> pd.DataFrame:
    """The ten most frequent responses of every Table 4 row (first seed), with their share."""
    return pd.DataFrame({name: [f"{r or '<empty>'} ({100 * x:.1f} %)" for r, x in recs[0]["top10"]]
                         + [""] * (10 - len(recs[0]["top10"])) for name, recs in rows.items()},
                        index=range(1, 11))


def paper_neg_train_row(rows: dict) -> str | None:
    """The paper's Table 9 "Neg-train" row is its smaller threshold: our +neg-train row with the
    smallest r_thres."""
    neg = [k for k in rows if k.startswith("+neg")]
    return min(neg, key=lambda k: rows[k][0].get("r_thres", 1.0)) if neg else None


def table9_rows(res: dict) -> dict[str, list[dict]]:
    rows = table4_rows(res)
    out = {"Baseline": rows["Baseline"]}
    neg = paper_neg_train_row(rows)
    if neg:
        out[neg] = rows[neg]
    return out


def table9(res: dict, corpus: str, rows: dict | None = None) -> pd.DataFrame:
    """Table 9: PPL, BLEU-4, M-ratio of the baseline and of negative training (the paper's row: the
    smaller threshold), ours (paper). BLEU-4 is :data:`ntlib.metrics.BLEU_CHOSEN`; every other variant
    is shown beside it, labelled (:func:`bleu_variants_table`)."""
    rows = table9_rows(res) if rows is None else rows
    check_same_inputs(rows)
    p = paper.TABLE9.get(corpus, {})
    out = {}
    for name, recs in rows.items():
        q = p.get("Baseline" if name == "Baseline" else "Neg-train", {})
        out[name] = {"PPL": _stat_cell(recs, "ppl", q.get("ppl")),
                     f"BLEU-4 ({BLEU_CHOSEN})": _stat_cell(recs, "bleu4", q.get("bleu4"), "{:.3f}"),
                     "M-ratio %": _stat_cell(recs, "max_ratio", q.get("max_ratio"), "{:.1f}", 100),
                     "seeds": len(recs), "n": recs[0]["n_inputs"]}
    return pd.DataFrame(out).T


def bleu_variants_table(rows: dict[str, list[dict]]) -> pd.DataFrame:
    """Every BLEU-4 variant (:data:`ntlib.metrics.BLEU_VARIANTS`) of each row, the chosen one marked."""
    out = {}
    for name, recs in rows.items():
        if recs[0].get("bleu4_variants") is None:
            continue
        out[name] = {f"{k}{' (chosen)' if k == BLEU_CHOSEN else ''}":
                     _stat_cell([{**r, "v": r["bleu4_variants"].get(k)} for r in recs], "v", None, "{:.4f}")
                     .removesuffix(" (–)") for k in BLEU_VARIANTS}
    return pd.DataFrame(out).T


def _table3_hit_types(m: dict) -> list[str]:
    """Table 3's hit types present in malicious results ``m``, in the paper's order (config.HIT_TYPES),
    not the dict's: notebook 03 holds its results in memory, 06 reads them back from JSON with sorted keys."""
    return [h for h in HIT_TYPES if h in m["baseline"]["train"] and h != "o_greedy"]


def table3(res: dict, corpus: str) -> pd.DataFrame:
    """Table 3: malicious-target hit rates, % [95 % Wilson interval] k/n (paper %), on the train/test
    lists, and PPL; the warm-start / stop-when-hit ablation rows when present."""
    m, p = res["malicious"], paper.TABLE3.get(corpus, {})
    out = {}
    for ht in _table3_hit_types(m):
        runs = {"Baseline": m["baseline"]}
        runs.update({k.split(" ")[0]: v for k, v in m["neg_train"].items() if k.split(" ")[-1] == ht})
        runs.update({f"{k.split(' ')[0]} {v.get('label', 'ablation')}": v
                     for k, v in m.get("ablation", {}).items() if k.split(" ")[-1] == ht})
        for name, r in runs.items():
            q = p.get(ht, {}).get(name, {})
            row = out.setdefault(name, {})
            for split in ("train", "test"):
                h = r[split][ht]
                row[f"{ht.replace('_', '-')} {split}"] = (f"{100 * h['rate']:.1f} [{100 * h['lo']:.0f}–"
                                                         f"{100 * h['hi']:.0f}] {h['k']}/{h['n']} "
                                                         f"({_fmt_pct(q.get(split))})")
            row[f"{ht.replace('_', '-')} PPL"] = cell(r["ppl"], q.get("ppl"))
    return pd.DataFrame(out).T


def _fmt_pct(x):
    return "–" if x is None else f"{100 * x:.1f}"



# -- verdicts ----------------------------------------------------------------------------------
class _Encoded:
    """One record's responses encoded for fast resampling: ids of whole responses, of their n-grams
    (with and without <eos>), the 4-gram-repeat flags and the chosen BLEU-4 per sentence."""

    def __init__(self, rec: dict):
        from .data import EOS, SPECIALS
        resp = rec["responses"]
        self.n = len(resp)
        ids: dict = {}
        self.resp = np.array([ids.setdefault(r, len(ids)) for r in resp])
        self.grams = {}
        for n in (1, 2, 3):
            for eos in (True, False):
                gid, gram_ids, owner = {}, [], []
                for i, r in enumerate(resp):
                    toks = r.split() + ([SPECIALS[EOS]] if eos else [])
                    for j in range(len(toks) - n + 1):
                        gram_ids.append(gid.setdefault(tuple(toks[j:j + n]), len(gid)))
                        owner.append(i)
                self.grams[(n, eos)] = (np.array(gram_ids, dtype=np.int64), np.array(owner, dtype=np.int64))
        from .metrics import repeats_ngram
        self.rep4 = np.array([repeats_ngram(r, 4) for r in resp], dtype=float)
        b = rec.get("bleu4_sentences")
        self.bleu = None if b is None else np.array(b, dtype=float)

    def _counts(self, idx, n, eos):
        gram_ids, owner = self.grams[(n, eos)]
        w = np.bincount(idx, minlength=self.n)[owner]
        c = np.bincount(gram_ids, weights=w) if len(gram_ids) else np.zeros(0)
        return c[c > 0]

    def stat(self, key: str, idx: np.ndarray) -> float:
        if key == "max_ratio":
            return np.bincount(self.resp[idx]).max() / len(idx)
        if key in ("ent2", "ent3"):
            c = self._counts(idx, int(key[-1]), True)
            p = c / c.sum()
            return float(-(p * np.log(p)).sum()) if len(c) else 0.0
        if key in ("distinct1", "distinct2"):
            c = self._counts(idx, int(key[-1]), False)
            return len(c) / c.sum() if len(c) else 0.0
        if key == "rep4_share":
            return float(self.rep4[idx].mean())
        if key == "bleu4":
            if self.bleu is None:
                raise ValueError("bleu4: the record has no bleu4_sentences")
            return float(self.bleu[idx].mean())
        raise ValueError(f"no resampled statistic {key!r}")


_ENCODED: dict[int, tuple[dict, _Encoded]] = {}


def _encoded(rec: dict) -> _Encoded:
    """The record's :class:`_Encoded`, built once per record (a record is compared several times)."""
    hit = _ENCODED.get(id(rec))
    if hit is None or hit[0] is not rec:
        if len(_ENCODED) > 256:
            _ENCODED.clear()
        hit = _ENCODED[id(rec)] = (rec, _Encoded(rec))
    return hit[1]


def bootstrap_diff(rec_a: dict, rec_b: dict, key: str, k: float = 1.0, offset: float = 0.0) -> dict:
    """Paired bootstrap over inputs (``stats.paired_bootstrap``: 1,000 resamples, fixed seed) of
    ``stat(b) − k · stat(a) − offset`` for two records scored on the same inputs."""
    if rec_a["inputs_sha"] != rec_b["inputs_sha"] or rec_a["n_inputs"] != rec_b["n_inputs"]:
        raise MixedResultsError("a paired bootstrap needs two records on the same inputs")
    enc = (_encoded(rec_a), _encoded(rec_b))
    scale = (k, 1.0)

    n = enc[0].n

    def statistic(items):           # items: input i of system a is i, of system b is n + i
        idx = np.asarray(items, dtype=np.int64)
        which = int(idx[0] >= n)
        return scale[which] * enc[which].stat(key, idx - which * n) + (offset if which == 0 else 0.0)

    return stats.paired_bootstrap(statistic, list(range(n)), list(range(n, 2 * n)))


def _fmt(x: float) -> str:
    return f"{x:.3g}"


def judge(base: dict, others: list[dict], key: str, want: str, k: float = 1.0, threshold: float = 0.0,
          describe: str = "") -> tuple[str, str]:
    """Outcome and evidence for "stat(other) − k·stat(base) is {want} threshold" over the records of
    one row (one per seed). Each seed: a paired bootstrap over inputs; several seeds: also the
    Student-t 95 % interval across seeds. The claim holds (does not hold) only when every interval
    says so; otherwise it is inconclusive."""
    outcomes, parts, diffs = [], [], []
    for rec in others:
        bs = bootstrap_diff(base, rec, key, k)
        diffs.append(bs["diff"])
        outcomes.append(stats.compare_interval(bs["lo"], bs["hi"], threshold, want))
        parts.append(f"seed {rec.get('seed')}: {_fmt(bs['diff'])} [{_fmt(bs['lo'])}, {_fmt(bs['hi'])}]")
    what = f"{describe or key}: {key}(row) − {k:g}·{key}(reference)" if k != 1 else f"{describe or key}: difference"
    evidence = (f"{what} {want} {threshold:g}; paired bootstrap over {base['n_inputs']} inputs "
                f"({stats.BOOTSTRAP_RESAMPLES} resamples, seed {stats.BOOTSTRAP_SEED}), 95 % interval per "
                + "; ".join(parts))
    if len(diffs) > 1:
        s = stats.seed_interval(diffs)
        outcomes.append(stats.compare_interval(s["lo"], s["hi"], threshold, want))
        evidence += f"; across {len(diffs)} seeds: mean {_fmt(s['mean'])} [{_fmt(s['lo'])}, {_fmt(s['hi'])}] (Student t)"
    outcome = outcomes[0] if len(set(outcomes)) == 1 else INCONCLUSIVE
    return outcome, evidence


def _ppl_verdict(claim: str, base_ppl: float, recs: list[dict], tol: float = 0.10) -> Verdict:
    """"PPL moves by < tol" read off the 95 % interval across seeds of PPL(row) / PPL(baseline)."""
    ratios = [r["ppl"] / base_ppl for r in recs]
    s = stats.seed_interval(ratios)
    vals = ", ".join(f"{x:.3f}" for x in ratios)
    if len(ratios) == 1:
        return Verdict(claim, INCONCLUSIVE, f"PPL ratio {vals} from one seed: no interval across seeds")
    lo, hi = s["lo"], s["hi"]
    outcome = stats.band_interval(lo, hi, 1 - tol, 1 + tol)
    return Verdict(claim, outcome, f"PPL(row) / PPL(baseline) per seed {vals}; mean {s['mean']:.3f} "
                                   f"[{lo:.3f}, {hi:.3f}] (Student t, {len(ratios)} seeds) vs ({1 - tol:g}, {1 + tol:g})")


def _verdict(claim, base, recs, key, want, k=1.0, threshold=0.0, describe=""):
    return Verdict(claim, *judge(base, recs, key, want, k, threshold, describe))


def combine(claim: str, parts: list[Verdict]) -> Verdict:
    """A claim that needs every part: holds when all hold, does not hold when any does not."""
    outs = [v.outcome for v in parts]
    outcome = FAILS if FAILS in outs else HOLDS if all(o == HOLDS for o in outs) else INCONCLUSIVE
    return Verdict(claim, outcome, "; ".join(f"{v.symbol} {v.claim}" for v in parts))


def verdicts(res: dict) -> dict[str, list[Verdict]]:
    """Per table, the paper's claims judged on our run (:class:`ntlib.stats.Verdict`)."""
    out: dict[str, list[Verdict]] = {}
    if "baselines" in res:
        b = res["baselines"]
        bs = b.get("ppl_bootstrap")
        claim = "the seq2seq's test PPL is lower than the LM's"
        if bs:
            out["Table 8"] = [Verdict(claim, stats.compare_interval(bs["lo"], bs["hi"], 0.0, "below"),
                                      f"per-word NLL, seq2seq − LM: {bs['diff']:.3f} [{bs['lo']:.3f}, {bs['hi']:.3f}]; "
                                      f"paired bootstrap over {bs['n']} test responses ({bs['resamples']} "
                                      f"resamples, seed {bs['seed']})")]
        else:
            out["Table 8"] = [Verdict(claim, INCONCLUSIVE, "no per-response NLL in the results: no test")]
    rows = table4_rows(res) if res.get("baselines", {}).get("rows") else {}
    if "Baseline" not in rows:
        if "malicious" in res:
            out["Table 3"] = _malicious_verdicts(res["malicious"])
        return out
    base, test = rows["Baseline"][0], rows.get("Test-set", [None])[0]
    t4 = out.setdefault("Table 4", [])
    if test is not None:
        t4.append(_verdict("greedy baseline max-ratio is more than twice the test set's (frequent-response "
                           "problem)", test, [base], "max_ratio", "above", k=2.0, describe="max-ratio"))
    for name in [k for k in rows if k.startswith("+neg")]:
        recs = rows[name]
        cut = _verdict(f"negative training ({name}) cuts max-ratio by ≥ 50 % relative", base, recs,
                       "max_ratio", "below", k=0.5, describe="max-ratio")
        t4.append(cut)
        t4.append(_verdict(f"negative training ({name}) raises Ent-3", base, recs, "ent3", "above",
                           describe="Ent-3"))
        t4.append(_verdict(f"negative training ({name}) raises distinct-2", base, recs, "distinct2", "above",
                           describe="distinct-2"))
        t4.append(_ppl_verdict(f"negative training ({name}) moves PPL by < 10 %", base["ppl"], recs))
        if test is not None:
            fluent = _verdict(f"negative training ({name}) does not make responses degenerate (share repeating "
                              f"a 4-gram at most {100 * DEGENERATE_MARGIN:g} points above the test set's)", test,
                              recs, "rep4_share", "below", threshold=DEGENERATE_MARGIN,
                              describe="share repeating a 4-gram")
            t4.append(fluent)
            t4.append(combine(f"negative training ({name}) fixes the frequent-response problem without "
                              "trading it for degenerate responses", [cut, fluent]))
    if "+GAN" in rows:
        t4.append(_verdict("the vanilla GAN does not lower max-ratio much (< 25 % relative)", base, rows["+GAN"],
                           "max_ratio", "above", k=0.75, describe="max-ratio"))
    if "+MMI" in rows:
        t4.append(_verdict("MMI-antiLM raises Ent-3 over the baseline", base, rows["+MMI"], "ent3", "above",
                           describe="Ent-3"))
    neg = paper_neg_train_row(rows)
    if neg and base.get("bleu4_sentences") is not None:
        out["Table 9"] = [_verdict(f"negative training ({neg}) does not lower BLEU-4 ({BLEU_CHOSEN}) by more "
                                   "than 10 % relative", base, rows[neg], "bleu4", "above", k=0.9,
                                   describe="BLEU-4")]
    if "malicious" in res:
        out["Table 3"] = _malicious_verdicts(res["malicious"])
    return out


BELOW = 0.05             # §4.2: "reduce the hit rate on the training target list to less than 5%"
PPL_CHANGE = 0.05        # "little or no degradation on perplexity": we read it as < 5 % relative


def _fell(claim: str, before: dict, after: dict) -> stats.Verdict:
    """"the hit rate fell": exact one-sided McNemar on the per-target hits of the same targets."""
    if "hits" not in before or "hits" not in after:
        return stats.Verdict(claim, stats.INCONCLUSIVE, "no per-target hit records to pair")
    fell, rose = stats.paired_counts(before["hits"], after["hits"])
    p, p_opp = stats.mcnemar_fell(fell, rose), stats.mcnemar_fell(rose, fell)
    return stats.Verdict(claim, stats.outcome_from_p(p, p_opp),
                         f"{before['k']}/{before['n']} → {after['k']}/{after['n']}; exact McNemar "
                         f"(one-sided): {fell} fell, {rose} rose, p = {p:.3g}")


def _below(claim: str, r: dict, p0: float = BELOW) -> stats.Verdict:
    """"the hit rate is below p0": exact one-sided binomial test (its opposite: at or above p0)."""
    k, n = r["k"], r["n"]
    if n == 0:
        return stats.Verdict(claim, stats.INCONCLUSIVE, "no targets")
    p = stats.binomial_below(k, n, p0)
    p_opp = 1.0 - stats.binom_cdf(k - 1, n, p0)          # P(X ≥ k | p0): the rate is above p0
    return stats.Verdict(claim, stats.outcome_from_p(p, p_opp),
                         f"{k}/{n} hits; exact binomial (one-sided, H1: rate < {100 * p0:g} %), p = {p:.3g}")


def _malicious_verdicts(m: dict) -> list[stats.Verdict]:
    """Table 3's claims, each decided by a test on the per-target hit records (α = 0.05)."""
    claims = []
    base = m["baseline"]
    base_ppl = base["ppl"]
    for ht in _table3_hit_types(m):
        runs = {k.split(" ")[0]: v for k, v in m["neg_train"].items() if k.split(" ")[-1] == ht}
        for name, r in runs.items():
            claims.append(_below(f"{ht}: training-list (0.5k) hit rate after {name} is below 5 %",
                                 r["train"][ht]))
            claims.append(_fell(f"{ht}: {name} lowers the training-list (0.5k) hit rate",
                                base["train"][ht], r["train"][ht]))
            claims.append(_fell(f"{ht}: {name} lowers the test-list hit rate (generalisation)",
                                base["test"][ht], r["test"][ht]))
        for small, big in (("+neg-tr(0.5k)", "+neg-tr(1k)"), ("+neg-tr(0.5k)", "+neg-tr(2.5k)"),
                           ("+neg-tr(1k)", "+neg-tr(2.5k)")):
            if small in runs and big in runs:
                claims.append(_fell(f"{ht}: augmentation ({big} vs {small}) lowers the test-list hit rate further",
                                    runs[small]["test"][ht], runs[big]["test"][ht]))
        for name, r in runs.items():
            claims.append(_ppl_change_verdict(f"{ht}: {name} changes test PPL by less than {100 * PPL_CHANGE:g} %",
                                              base_ppl, r))
    return claims


def _ppl_change_verdict(claim: str, base_ppl: float, r: dict, tol: float = PPL_CHANGE) -> Verdict:
    """"|PPL(run) / PPL(baseline) − 1| < tol" for one trained model (one seed), read off the paired
    bootstrap over test responses in ``r["ppl_change"]`` (:func:`ntlib.evaluate.ppl_change_bootstrap`):
    holds when the whole 95 % interval lies within ±tol, does not hold when it lies outside,
    inconclusive otherwise or without the bootstrap. The interval is over the test responses, not over
    training seeds."""
    change = r["ppl"] / base_ppl - 1
    figures = f"PPL {base_ppl:.2f} → {r['ppl']:.2f} ({100 * change:+.1f} %) on the same test set"
    bs = r.get("ppl_change")
    if not bs:
        return Verdict(claim, INCONCLUSIVE, f"{figures}; no per-response NLL in the results: no test")
    lo, hi = bs["lo"], bs["hi"]
    outcome = stats.band_interval(lo, hi, -tol, tol)
    return Verdict(claim, outcome, f"{figures}; change {100 * bs['diff']:+.2f} % [{100 * lo:+.2f}, {100 * hi:+.2f}] "
                                   f"(paired bootstrap over {bs['n']} test responses, {bs['resamples']} resamples, "
                                   f"seed {bs['seed']}; one trained model) vs ±{100 * tol:g} %")



def verdict_markdown(items: list[Verdict]) -> str:
    """One line per verdict: ✔ holds / ✘ does not hold / ~ inconclusive, the claim, its test and figures."""
    return "\n".join(v.markdown() for v in items)


# -- notebook 07: negative losses compared (beyond the paper) ------------------------------------------
# Results schema (``results/negative_losses_<corpus>.json``, ntlib.compare_losses): ``profile``, ``corpus``,
# ``seed``, ``seeds``, ``config`` (CompareLossesConfig), ``settings`` (what ran), and
#   ``malicious``: ``hit_type``, ``training_list``, ``iterations``, ``targets`` {train, test: n},
#     ``baseline`` {train, test: hit record (k, n, rate, lo, hi, hits), ppl},
#     ``runs`` {loss: [per seed: seed, train, test (hit records, same targets and evaluation search),
#     ppl, collateral {neighbours, targets, ratio, *_per_item}, neg_updates, rounds, history, seconds]},
#     ``neighbours`` {per_target, pool, n, examples};
#   ``frequent``: ``r_thres``, ``passes``, ``rows`` {"Test-set", "Baseline": [row record], loss: [a row
#     record per seed]}, ``histories``;
#   ``seconds``, ``provenance``.
def _per_seed(claim: str, seeds: list[int], verdicts: list[Verdict]) -> Verdict:
    outs = {v.outcome for v in verdicts}
    outcome = outs.pop() if len(outs) == 1 else INCONCLUSIVE
    return Verdict(claim, outcome, " | ".join(f"seed {s}: {v.symbol} {v.evidence}" for s, v in zip(seeds, verdicts)))


def _interval_verdict(claim: str, values: list[float], threshold: float, want: str, what: str, fmt: str = "{:.3g}"
                      ) -> Verdict:
    """"``what`` is {want} threshold" read off the Student-t 95 % interval across seeds of ``values``."""
    s = stats.seed_interval(values)
    listed = ", ".join(fmt.format(v) for v in values)
    if len(values) < 2:
        return Verdict(claim, INCONCLUSIVE, f"{what} {listed} from one seed: no interval across seeds")
    return Verdict(claim, stats.compare_interval(s["lo"], s["hi"], threshold, want),
                   f"{what} per seed {listed}; mean {fmt.format(s['mean'])} [{fmt.format(s['lo'])}, "
                   f"{fmt.format(s['hi'])}] (Student t, {len(values)} seeds) {want} {threshold:g}")


def loss_order(res: dict) -> list[str]:
    """The negative losses of ``res`` in ONE order whatever the dicts' order: the config's ``losses``
    first, then any other loss that ran, sorted. ``reports.write_json`` sorts keys, so the results JSON
    read back lists ``cringe, nll, unlikelihood`` where the notebook's own dict had the config's
    ``nll, unlikelihood, cringe``: everything built from ``res`` (table, summary, verdicts) iterates this
    order, so the notebook's report and anything recomputed from its JSON agree line for line."""
    m, f = res.get("malicious"), res.get("frequent")
    ran = set(m["runs"] if m else ()) | {k for k in (f["rows"] if f else {}) if k not in ("Test-set", "Baseline")}
    order = list(res.get("config", {}).get("losses", ())) + sorted(ran)
    return [loss for loss in dict.fromkeys(order) if loss in ran]


def _in_order(d: dict, order: list[str]):
    """``(loss, d[loss])`` for the losses of ``order`` that ``d`` holds, in that order."""
    return [(x, d[x]) for x in order if x in d]


def loss_summary(res: dict) -> dict:
    """Per problem and loss, the seed means and 95 % intervals the table and the trade-off figure show."""
    out = {}
    order = loss_order(res)
    m = res.get("malicious")
    if m:
        base, ppl0 = m["baseline"], m["baseline"]["ppl"]
        losses = {}
        for loss, runs in _in_order(m["runs"], order):
            losses[loss] = {"y": stats.seed_interval([r["train"]["rate"] for r in runs]),
                            "test": stats.seed_interval([r["test"]["rate"] for r in runs]),
                            "ppl_change": stats.seed_interval([r["ppl"] / ppl0 - 1 for r in runs]),
                            "neighbours": stats.seed_interval([r["collateral"]["neighbours"] for r in runs]),
                            "targets": stats.seed_interval([r["collateral"]["targets"] for r in runs]),
                            "neg_updates": stats.seed_interval([r["neg_updates"] for r in runs])}
        out["malicious"] = {"baseline_y": base["train"]["rate"], "baseline_test": base["test"]["rate"],
                            "losses": losses}
    f = res.get("frequent")
    if f:
        base = f["rows"]["Baseline"][0]
        losses = {}
        for loss, recs in _in_order(f["rows"], order):
            losses[loss] = {"y": stats.seed_interval([r["max_ratio"] for r in recs]),
                            "ppl_change": stats.seed_interval([r["ppl"] / base["ppl"] - 1 for r in recs])}
            for key in ("ent2", "ent3", "bleu4", "seq_rep4", "rep4_share", "distinct1", "distinct2"):
                vals = _seed_values(recs, key)
                losses[loss][key] = stats.seed_interval(vals) if vals else None
        out["frequent"] = {"baseline_y": base["max_ratio"], "losses": losses}
    return out


def _ci(s: dict | None, fmt: str = "{:.1f}", scale: float = 1.0) -> str:
    if s is None:
        return "–"
    if s["n"] < 2:
        return fmt.format(scale * s["mean"])
    return f"{fmt.format(scale * s['mean'])} [{fmt.format(scale * s['lo'])}–{fmt.format(scale * s['hi'])}]"


def loss_comparison(res: dict) -> pd.DataFrame:
    """Notebook 07's table: per negative loss, on the malicious problem (Algorithm 1) the training- and
    test-list hit rates after training — mean % [95 % interval across seeds], each seed's k, and the
    McNemar verdict "fell" (✔ in every seed, ✘ the opposite in every seed, ~ otherwise) —, the test
    PPL change, the collateral damage (change of benign neighbours' average word log-probability given
    the target's trigger, beside the targets' own), the negative updates taken; on the frequent problem
    (Algorithm 2) max-ratio, Ent-3, BLEU-4, seq-rep-4, distinct-2 and the PPL change; the seeds."""
    summ = loss_summary(res)
    m, f = res.get("malicious"), res.get("frequent")
    out = {}
    if m:
        b = m["baseline"]
        out["Baseline"] = {"Alg. 1 train hits %": f"{100 * b['train']['rate']:.1f} (k = {b['train']['k']} of {b['train']['n']})",
                           "Alg. 1 test hits %": f"{100 * b['test']['rate']:.1f} (k = {b['test']['k']} of {b['test']['n']})",
                           "Alg. 1 PPL Δ %": f"(PPL {b['ppl']:.2f})"}
    if f:
        b = f["rows"]["Baseline"][0]
        out.setdefault("Baseline", {}).update({"Alg. 2 M-ratio %": f"{100 * b['max_ratio']:.1f}",
                                                "Alg. 2 E-3": f"{b['ent3']:.2f}", "Alg. 2 BLEU-4": f"{b['bleu4']:.4f}",
                                                "Alg. 2 seq-rep-4": f"{b['seq_rep4']:.3f}",
                                                "Alg. 2 distinct-2": f"{b['distinct2']:.3f}",
                                                "Alg. 2 PPL Δ %": f"(PPL {b['ppl']:.2f})"})
    for loss in loss_order(res):                 # the config's order (JSON sorts keys)
        row = out.setdefault(loss, {})
        if m and loss in m["runs"]:
            runs, s = m["runs"][loss], summ["malicious"]["losses"][loss]
            for split, key in (("train", "y"), ("test", "test")):
                ks = ", ".join(str(r[split]["k"]) for r in runs)
                fell = _fell_per_seed(loss, m, split).symbol
                row[f"Alg. 1 {split} hits %"] = f"{_ci(s[key], scale=100)} (k = {ks} of {runs[0][split]['n']}) {fell}"
            row["Alg. 1 PPL Δ %"] = _ci(s["ppl_change"], "{:+.1f}", 100)
            row["collateral: neighbours Δ log p"] = _ci(s["neighbours"], "{:+.3f}")
            row["targets Δ log p"] = _ci(s["targets"], "{:+.3f}")
            row["Alg. 1 neg. updates"] = _ci(s["neg_updates"], "{:.0f}")
        if f and loss in f["rows"]:
            s = summ["frequent"]["losses"][loss]
            row.update({"Alg. 2 M-ratio %": _ci(s["y"], scale=100), "Alg. 2 E-3": _ci(s["ent3"], "{:.2f}"),
                        "Alg. 2 BLEU-4": _ci(s["bleu4"], "{:.4f}"), "Alg. 2 seq-rep-4": _ci(s["seq_rep4"], "{:.3f}"),
                        "Alg. 2 distinct-2": _ci(s["distinct2"], "{:.3f}"),
                        "Alg. 2 PPL Δ %": _ci(s["ppl_change"], "{:+.1f}", 100)})
        row["seeds"] = ", ".join(str(r["seed"]) for r in (m["runs"][loss] if m and loss in m["runs"]
                                                          else f["rows"][loss]))
    columns = [c for c in LOSS_COLUMNS if any(c in row for row in out.values())]
    return pd.DataFrame(out).T.reindex(columns=columns).fillna("")


LOGP_FMT = "{:+.4f}"     # log-probability changes (nats): an absolute precision, as their float noise is absolute
LOSS_COLUMNS = ("Alg. 1 train hits %", "Alg. 1 test hits %", "Alg. 1 PPL Δ %", "collateral: neighbours Δ log p",
                "targets Δ log p", "Alg. 1 neg. updates", "Alg. 2 M-ratio %", "Alg. 2 E-3", "Alg. 2 BLEU-4",
                "Alg. 2 seq-rep-4", "Alg. 2 distinct-2", "Alg. 2 PPL Δ %", "seeds")


def _fell_per_seed(loss: str, m: dict, split: str) -> Verdict:
    """"Algorithm 1 with ``loss`` lowers the ``split`` list's hit rate": exact McNemar per seed."""
    runs, what = m["runs"][loss], {"train": "training-list", "test": "test-list"}[split]
    return _per_seed(f"{loss}: Algorithm 1 lowers the {what} hit rate ({m['hit_type']})", [r["seed"] for r in runs],
                     [_fell("", m["baseline"][split], r[split]) for r in runs])


def _malicious_loss_verdicts(m: dict, order: list[str]) -> list[Verdict]:
    base, out = m["baseline"], []
    for loss, runs in _in_order(m["runs"], order):
        seeds = [r["seed"] for r in runs]
        out += [_fell_per_seed(loss, m, "train"), _fell_per_seed(loss, m, "test")]
        out.append(_per_seed(f"{loss}: training-list hit rate after Algorithm 1 is below 5 %", seeds,
                             [_below("", r["train"]) for r in runs]))
        out.append(_ppl_verdict(f"{loss}: Algorithm 1 moves test PPL by < {100 * PPL_CHANGE:g} %", base["ppl"],
                                runs, tol=PPL_CHANGE))
        out.append(_interval_verdict(f"{loss}: benign neighbours lose less log-probability than the targets "
                                     "(collateral damage below the intended damage)",
                                     [r["collateral"]["targets"] - r["collateral"]["neighbours"] for r in runs],
                                     0.0, "below", "Δ log p(target) − Δ log p(neighbour)", LOGP_FMT))
    return out


def _paired_by_seed(claim: str, a: list[dict], b: list[dict], key: str, want: str) -> Verdict:
    """stat(b) − stat(a) {want} 0 for two losses' records of the same seeds on the same inputs: a paired
    bootstrap over inputs per seed, and the Student-t interval across seeds; holds only when all agree."""
    outcomes, parts, diffs = [], [], []
    for ra, rb in zip(a, b):
        bs = bootstrap_diff(ra, rb, key)
        diffs.append(bs["diff"])
        outcomes.append(stats.compare_interval(bs["lo"], bs["hi"], 0.0, want))
        parts.append(f"seed {ra.get('seed')}: {_fmt(bs['diff'])} [{_fmt(bs['lo'])}, {_fmt(bs['hi'])}]")
    evidence = (f"{key} difference {want} 0; paired bootstrap over {a[0]['n_inputs']} inputs per seed "
                f"({stats.BOOTSTRAP_RESAMPLES} resamples): " + "; ".join(parts))
    if len(diffs) > 1:
        s = stats.seed_interval(diffs)
        outcomes.append(stats.compare_interval(s["lo"], s["hi"], 0.0, want))
        evidence += f"; across seeds {_fmt(s['mean'])} [{_fmt(s['lo'])}, {_fmt(s['hi'])}] (Student t)"
    return Verdict(claim, outcomes[0] if len(set(outcomes)) == 1 else INCONCLUSIVE, evidence)


def _same_seeds(what: str, a: list[dict], b: list[dict]) -> None:
    """Two losses compared seed by seed must list the same seeds in the same order (they are zipped)."""
    sa, sb = [r.get("seed") for r in a], [r.get("seed") for r in b]
    if sa != sb:
        raise MixedResultsError(f"{what} are paired by seed but list seeds {sb} and {sa}")


def loss_verdicts(res: dict, reference: str = "nll") -> list[Verdict]:
    """Notebook 07's claims, each with its test: per loss, on Algorithm 1 the hit rates fell (exact
    McNemar against the baseline, per seed), the training-list rate is below 5 % (binomial), PPL within
    5 % and neighbours damaged less than targets (interval across seeds); on Algorithm 2 max-ratio fell
    (paired bootstrap), PPL within 10 %, responses not degenerate; and against ``reference`` (the
    paper's nll), paired by seed: a lower test-list hit rate (McNemar on the same targets and search),
    less collateral damage and a smaller PPL change (interval across seeds), a lower max-ratio
    (bootstrap). A claim tested per seed holds only when every seed's test holds."""
    out, order = [], loss_order(res)     # one order in memory and read back from the JSON (sorted keys)
    m, f = res.get("malicious"), res.get("frequent")
    if m:
        out += _malicious_loss_verdicts(m, order)
        ref = m["runs"].get(reference)
        for loss, runs in _in_order(m["runs"], order):
            if loss == reference or ref is None:
                continue
            _same_seeds(f"malicious runs of {loss!r} and {reference!r}", ref, runs)
            seeds = [r["seed"] for r in runs]
            out.append(_per_seed(f"{loss} vs {reference}: lower test-list hit rate after Algorithm 1", seeds,
                                 [_fell("", a["test"], b["test"]) for a, b in zip(ref, runs)]))
            out.append(_interval_verdict(f"{loss} vs {reference}: less collateral damage (neighbours lose less)",
                                         [b["collateral"]["neighbours"] - a["collateral"]["neighbours"]
                                          for a, b in zip(ref, runs)], 0.0, "above",
                                         "Δ log p(neighbour) difference", LOGP_FMT))
            out.append(_interval_verdict(f"{loss} vs {reference}: lower test PPL after Algorithm 1",
                                         [b["ppl"] - a["ppl"] for a, b in zip(ref, runs)], 0.0, "below",
                                         "PPL difference"))
    if f:
        rows = f["rows"]
        check_same_inputs(rows)
        base, test = rows["Baseline"][0], rows["Test-set"][0]
        for loss, recs in _in_order(rows, order):
            out.append(_verdict(f"{loss}: Algorithm 2 lowers max-ratio", base, recs, "max_ratio", "below",
                                describe="max-ratio"))
            out.append(_ppl_verdict(f"{loss}: Algorithm 2 moves PPL by < 10 %", base["ppl"], recs))
            out.append(_verdict(f"{loss}: Algorithm 2 does not make responses degenerate (share repeating a "
                                f"4-gram at most {100 * DEGENERATE_MARGIN:g} points above the test set's)", test, recs,
                                "rep4_share", "below", threshold=DEGENERATE_MARGIN,
                                describe="share repeating a 4-gram"))
        ref = rows.get(reference)
        for loss, recs in _in_order(rows, order):
            if loss == reference or ref is None:
                continue
            _same_seeds(f"frequent rows of {loss!r} and {reference!r}", ref, recs)
            out.append(_paired_by_seed(f"{loss} vs {reference}: lower max-ratio after Algorithm 2", ref, recs,
                                       "max_ratio", "below"))
            out.append(_interval_verdict(f"{loss} vs {reference}: lower test PPL after Algorithm 2",
                                         [b["ppl"] - a["ppl"] for a, b in zip(ref, recs)], 0.0, "below",
                                         "PPL difference"))
    return out
