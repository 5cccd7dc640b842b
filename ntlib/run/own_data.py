"""Negative training on your own dialogues, end to end (issue 32, part 3): frequent responses, and your own
malicious targets.

``python -m ntlib.run.own_data --pairs FILE --out DIR [--targets TARGETS] [--preset smoke|small|paper] ...``

reads ``FILE`` (``context<TAB>response`` lines or JSON lines, :mod:`ntlib.data.own_dialogues`), splits it
(seeded), trains a baseline seq2seq on it with the preset's profile (§4.1, :func:`ntlib.methods.train.fit`),
runs Algorithm 2 (§3.3, :func:`ntlib.methods.frequent.negative_train_cached`) from it, and scores both on the
test split as Table 4's rows (:func:`ntlib.methods.evaluate.table4_row`: max-ratio, Ent-2/3, PPL, BLEU-4,
distinct-n, the top responses). It writes, under ``DIR``:

* ``own_data.md`` / ``.csv`` — Table 4 of the run (Test-set, Baseline, +neg-train rows; no paper value: –);
* ``own_data.json`` — the settings, the file's sha256, every row (responses and top-10 included) and
  Algorithm 2's history (max-ratio / Ent-3 of validation responses during training);
* with ``--targets TARGETS`` (one malicious sentence per line, preprocessed as the pairs): the attack (gibbs-enum,
  o-greedy and o-sample-avg) on them, Algorithm 1 (§3.2) against them from the baseline, the attack again on the
  trained copy — per-target hits before and after with the exact McNemar test, in ``own_data.md`` and under
  ``"malicious"`` in ``own_data.json`` (:func:`malicious_part`);
* ``models-<hash>/`` — the baseline and the negatively trained model, keyed by the file's sha256, the configs
  and the training code: an unchanged run loads them instead of training again.

:class:`OwnDataConfig` is the run's config, presets in :data:`OWN_PRESETS` (``smoke``: a few hundred pairs in
seconds, the tests; ``small`` and ``paper``: those profiles' models and Algorithm 2).
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import torch

from ntlib.data.corpora import DataError
from ntlib.data.own_dialogues import own_dataset, read_pairs, read_targets
from ntlib.data.sources import sha256_file
from ntlib.machine.device import resolve_device
from ntlib.machine.provenance import code_digest
from ntlib.methods import evaluate, frequent, malicious
from ntlib.methods.hits import Thresholds
from ntlib.methods.models import build_model
from ntlib.methods.negative_losses import NEGATIVE_LOSSES
from ntlib.methods.train import fit, load_model
from ntlib.results import reports, tables
from ntlib.results.tables import paired_hits_table
from ntlib.run.config import Profile, config_hash, override
from ntlib.run.profiles import PROFILES, get_profile
from ntlib.run.rules import SEED, Checked, ConfigError, boolean, choice, integer, number, registered

RESULTS = "own_data"


@dataclass(frozen=True)
class OwnDataConfig(Checked):
    """One run on your own pairs; None: the profile's value."""
    profile: str = "small"            # the model, training, Algorithm 2 and decoding configs (ntlib.run.profiles)
    preprocess: bool = True           # the paper's recipe (App. B); False: whitespace tokens as they stand
    valid_fraction: float = 0.1       # of the pairs, for validation (baseline selection, Algorithm 2's logs)
    test_fraction: float = 0.1        # of the pairs, for the report
    vocab_size: int | None = None     # None: the profile's DataConfig.vocab_size
    epochs: int | None = None         # baseline training epochs at the profile's LR (None: the profile's schedule)
    r_thres: float | None = None      # Algorithm 2's threshold (None: the profile's smaller one, Table 4)
    passes: float | None = None       # Algorithm 2's passes over the training pairs (None: the profile's)
    malicious_iterations: int | None = None   # Algorithm 1's iterations on --targets (None: the profile's)
    malicious_lr: float | None = None         # Algorithm 1's SGD learning rate (None: the profile's, the paper's 0.01)
    malicious_updates: int | None = None      # Algorithm 1's negative updates per batch at most (None: the profile's)
    negative_loss: str = "nll"        # registered negative loss (ntlib.methods.negative_losses)
    seed: int = 1                     # split, baseline training and Algorithm 2

    _RULES: ClassVar[dict] = {
        "profile": choice(tuple(PROFILES)), "preprocess": boolean,
        "valid_fraction": number(0, 0.5, lo_open=True), "test_fraction": number(0, 0.5, lo_open=True),
        "vocab_size": integer(2, none=True), "epochs": integer(1, none=True),
        "r_thres": number(0, 1, lo_open=True, hi_open=True, none=True), "passes": number(0, lo_open=True, none=True),
        "malicious_iterations": integer(1, none=True), "malicious_lr": number(0, lo_open=True, none=True),
        "malicious_updates": integer(1, none=True),
        "negative_loss": registered(NEGATIVE_LOSSES, "negative loss (ntlib.methods.negative_losses)"), "seed": SEED}


OWN_PRESETS = {
    # the tests: a few hundred pairs, the smoke profile's tiny model trained 30 epochs (≈ 120 SGD steps), Algorithm
    # 2 at 10 % for 20 passes (≈ 80 mini-batches): seconds on one core
    "smoke": OwnDataConfig(profile="smoke", epochs=30, r_thres=0.1, passes=20,
                           # Algorithm 1 on --targets: the smoke profile's one iteration of ≤ 2 updates at 0.01 leaves
                           # a planted target hit; 3 iterations of ≤ 10 at 0.1 remove it (tests/unit/test_own_dialogues)
                           malicious_iterations=3, malicious_lr=0.1, malicious_updates=10),
    # the small profile's 128/256 seq2seq and Algorithm 2 (the committed run's), at its 1 % threshold
    "small": OwnDataConfig(profile="small"),
    # the paper's sizes (§4): a GPU
    "paper": OwnDataConfig(profile="paper"),
}


def own_profile(cfg: OwnDataConfig) -> Profile:
    """The profile's configs with the run's vocabulary, epochs, threshold, passes, loss and seed."""
    P = get_profile(cfg.profile, seed=cfg.seed)
    if cfg.vocab_size is not None:
        P = override(P, data=override(P.data, vocab_size=cfg.vocab_size))
    if cfg.epochs is not None:
        P = override(P, train=override(P.train, epochs_fixed=cfg.epochs, epochs_halving=0, max_pairs_per_epoch=None))
    return override(P, frequent=override(P.frequent, r_thres=cfg.r_thres or min(P.frequent.sweep),
                                         passes=cfg.passes or P.frequent.passes, negative_loss=cfg.negative_loss))


def models_dir(out: Path, cfg: OwnDataConfig, P: Profile, sha: str) -> Path:
    """``out/models-<hash>``: the hash covers the file's sha256, the run's configs and the code that trains."""
    key = config_hash(cfg, P.data, P.seq2seq, P.train, sha, code_digest("ntlib.run.own_data"))
    return Path(out) / f"models-{key}"


def baseline(data, P: Profile, folder: Path, progress: bool, device) -> torch.nn.Module:
    """The baseline seq2seq on ``data`` (§4.1: :func:`ntlib.methods.train.fit`), loaded when trained before."""
    path = folder / "seq2seq.pt"
    if not path.exists():
        torch.manual_seed(P.train.seed)
        model = build_model("seq2seq", len(data.vocab), P.seq2seq)
        fit(model, "seq2seq", data.train, data.valid, P.train, path, progress=progress, device=device)
    return load_model(path, device).eval()


def run(pairs_file: str | Path, out: str | Path, cfg: OwnDataConfig, progress: bool = False,
        device: str | None = "cpu", fmt: str = "auto", targets_file: str | Path | None = None) -> dict:
    """Read ``pairs_file`` (``fmt``: auto — by its suffix —, tsv or jsonl), train the baseline, run Algorithm 2
    from it, score both and write the reports (module docstring); with ``targets_file`` (one malicious target per
    line) also the attack and Algorithm 1 (:func:`malicious_part`). Returns what ``own_data.json`` holds."""
    t0, out, dev = time.time(), Path(out), resolve_device(device)
    pairs = read_pairs(pairs_file, preprocess=cfg.preprocess, fmt=fmt)
    P = own_profile(cfg)
    data = own_dataset(pairs, P.data.vocab_size, P.data.max_src_len, P.data.max_tgt_len, cfg.valid_fraction,
                       cfg.test_fraction, cfg.seed, name=Path(pairs_file).stem)
    targets = None if targets_file is None else read_targets(targets_file, data.vocab, P.data.max_tgt_len,
                                                                   cfg.preprocess)   # a bad file fails before training
    sha = sha256_file(pairs_file)
    folder = models_dir(out, cfg, P, sha)
    folder.mkdir(parents=True, exist_ok=True)
    model = baseline(data, P, folder, progress, dev)
    ev = evaluate.eval_set(data, P.decode.max_eval_inputs)
    meta = {**evaluate.provenance(cfg.profile, data.corpus.name, cfg.seed, ev), "seed": cfg.seed}
    raw_refs = [" ".join(d[-1][:P.data.max_tgt_len]) for d in data.corpus.test]
    max_len, name = P.decode.max_len, f"+neg-train ({P.frequent.r_thres * 100:g}%)"
    rows = {"Test-set": [evaluate.test_set_row(ev, data.vocab, meta)],
            "Baseline": [evaluate.table4_row(model, data, ev, max_len, meta, raw_refs)]}
    tuned, history = frequent.negative_train_cached(model, data, P.frequent, folder, max_len, progress, dev)
    rows[name] = [{**evaluate.table4_row(tuned, data, ev, max_len, meta, raw_refs), "r_thres": P.frequent.r_thres}]
    res = {"pairs_file": str(pairs_file), "sha256": sha, "config": dataclasses.asdict(cfg),
           "frequent": dataclasses.asdict(P.frequent), "n_pairs": {"train": len(data.train), "valid": len(data.valid),
                                                                   "test": len(data.test)},
           "vocab_size": len(data.vocab), "rows": rows, "history": history, "models": str(folder),
           "seconds": time.time() - t0}
    note = summary(rows["Baseline"][0], rows[name][0], name)
    if targets is not None:
        res["malicious"] = malicious_part(model, data, targets, P, cfg, progress, dev)
        res["malicious"]["targets_file"] = str(targets_file)
        res["seconds"] = time.time() - t0
        note += "\n\n" + malicious_summary(res["malicious"])
    reports.write_json(res, out / f"{RESULTS}.json")
    reports.write_table(tables.table4({}, "own", rows), RESULTS, out,
                        title=f"Negative training on {Path(pairs_file).name} ({cfg.profile} profile)", note=note)
    return res


HIT_TYPES = ("o_greedy", "o_sample_avg")       # o- searches: an io- search would need an LM of your contexts too


def malicious_part(model, data, targets, P: Profile, cfg: OwnDataConfig, progress: bool, device) -> dict:
    """The attack (gibbs-enum, App. A) on your targets, Algorithm 1 (§3.2) against them on a copy of the baseline
    (your training pairs as the positive data), and the attack again on the trained copy: per target hits before and
    after (the same evaluation search, a seed apart from Algorithm 1's), T_out (the baseline's average word
    log-likelihood on your test split, App. C) and the test PPL of both."""
    thr = Thresholds(t_out=evaluate.avg_word_logprob(model, data.test), t_in=float("nan"))
    eval_gcfg = override(P.gibbs, seed=malicious.evaluation_seed(cfg.seed))
    knobs = {"iterations": cfg.malicious_iterations, "lr": cfg.malicious_lr, "max_neg_updates": cfg.malicious_updates}
    mcfg = override(P.malicious, hit_types=("o_sample_avg",), seed=cfg.seed,
                    negative_loss=cfg.negative_loss, **{k: v for k, v in knobs.items() if v is not None})
    before = malicious.evaluate_hits(model, None, targets.tensor, thr, HIT_TYPES, eval_gcfg)
    res = malicious.negative_train(model, None, targets.tensor, data.train, thr, "o_sample_avg", data.vocab, mcfg,
                                   override(P.gibbs, seed=cfg.seed), progress=progress, device=device)
    after = malicious.evaluate_hits(res.model, None, targets.tensor, thr, HIT_TYPES, eval_gcfg)
    return {"targets": [" ".join(t) for t in targets.sentences], "dropped_oov": targets.dropped_oov,
            "t_out": thr.t_out, "before": {ht: malicious.hit_record(r) for ht, r in before.items()},
            "after": {ht: malicious.hit_record(r) for ht, r in after.items()},
            "triggers": [" ".join(data.vocab.itos[int(t)] for t in row if int(t))
                         for row in before["o_sample_avg"]["triggers"]],
            "ppl": {"baseline": evaluate.perplexity(model, data.test)["ppl"],
                    "after": evaluate.perplexity(res.model, data.test)["ppl"]},
            "iterations": mcfg.iterations, "history": [{k: v for k, v in h.items() if k != "hits"}
                                                       for h in res.history]}


def malicious_summary(m: dict) -> str:
    """The hit table of :func:`malicious_part` (markdown) and what was dropped."""
    t = paired_hits_table(m["before"], m["after"])
    dropped = f"; {len(m['dropped_oov'])} dropped (a word outside the vocabulary)" if m["dropped_oov"] else ""
    return (f"Malicious targets ({len(m['targets'])} from {Path(m['targets_file']).name}{dropped}): hits before → "
            f"after Algorithm 1 ({m['iterations']} iteration(s)), the same evaluation search; T_out {m['t_out']:.3f}; "
            f"test PPL {m['ppl']['baseline']:.2f} → {m['ppl']['after']:.2f}. One model: a description, not a "
            "verdict.\n\n"
            + t.to_markdown())


def summary(before: dict, after: dict, name: str) -> str:
    """Max-ratio and Ent-3 before and after Algorithm 2, with the most frequent response of each, in words."""
    def top(r):
        return f"“{r['top10'][0][0]}” ({100 * r['top10'][0][1]:.1f} %)" if r["top10"] else "–"
    return (f"Baseline: max-ratio {100 * before['max_ratio']:.1f} %, Ent-3 {before['ent3']:.2f}, most frequent "
            f"{top(before)}. {name}: max-ratio {100 * after['max_ratio']:.1f} %, Ent-3 {after['ent3']:.2f}, most "
            f"frequent {top(after)}.")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ntlib.run.own_data", description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", required=True, help="context<TAB>response lines, or JSON lines (.jsonl)")
    ap.add_argument("--out", required=True, help="folder of the reports and models")
    ap.add_argument("--preset", default="small", choices=sorted(OWN_PRESETS))
    ap.add_argument("--targets", default=None, help="your malicious targets, one per line: the attack and Algorithm 1 "
                                                    "on them too")
    ap.add_argument("--format", default="auto", choices=("auto", "tsv", "jsonl"),
                    help="auto: .jsonl/.json are JSON lines")
    ap.add_argument("--no-preprocess", action="store_true", help="whitespace tokens as they stand (no App. B recipe)")
    knobs = ("vocab_size", "epochs", "r_thres", "passes", "malicious_iterations", "malicious_lr", "malicious_updates",
             "negative_loss", "seed")
    for f in knobs:
        kind = {"vocab_size": int, "epochs": int, "seed": int, "negative_loss": str, "malicious_iterations": int,
                "malicious_updates": int}.get(f, float)
        ap.add_argument(f"--{f.replace('_', '-')}", type=kind, default=None)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--progress", action="store_true")
    args = ap.parse_args(argv)
    fields = {f: getattr(args, f) for f in knobs if getattr(args, f) is not None}
    if args.no_preprocess:
        fields["preprocess"] = False
    try:                             # a bad file or setting: its message (file:line, Config.field), no traceback
        cfg = override(OWN_PRESETS[args.preset], **fields) if fields else OWN_PRESETS[args.preset]
        res = run(args.pairs, args.out, cfg, progress=args.progress, device=args.device, fmt=args.format,
                  targets_file=args.targets)
    except (DataError, ConfigError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(Path(args.out) / f"{RESULTS}.md")
    print(summary(res["rows"]["Baseline"][0], next(v for k, v in res["rows"].items() if k.startswith("+neg"))[0],
                  "after Algorithm 2"))
    if "malicious" in res:
        m = res["malicious"]
        print(f"malicious targets hit (o-sample-avg): {m['before']['o_sample_avg']['k']}/{len(m['targets'])} before, "
              f"{m['after']['o_sample_avg']['k']}/{len(m['targets'])} after Algorithm 1")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
