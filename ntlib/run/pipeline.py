"""Stages shared by the notebooks: the data set of a profile, and the cached baseline models — one LM and
``Profile.baselines`` seq2seq models, each trained with its own seed, each the start of every downstream stage.

Run folders are keyed by a hash of the stage's configs, the data read and the code that trains
the models (:data:`ntlib.machine.provenance.BASELINES_CODE` and its ntlib imports), so a changed config,
data file or training code never reuses a stale model and an unchanged one is loaded instead of
retrained (STYLE §2). Training writes ``provenance.json`` (code, torch, threads, CPU/GPU) beside
the models.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from ntlib.data.dataset import Dataset, load_dataset
from ntlib.data.sources import OFFICIAL_VOCAB, corpus_files, data_digest, verify_file
from ntlib.machine.device import resolve_device
from ntlib.machine.provenance import BASELINES_CODE, code_digest, record
from ntlib.methods.models import build_model
from ntlib.methods.train import fit, load_model
from ntlib.results.reports import clean_stale_tmp, read_json, run_lock, write_json
from ntlib.run.config import Profile, config_hash
from ntlib.run.profiles import baseline_profile, baseline_seeds


@dataclass
class Baselines:
    """One trained baseline of §4.1 — its seq2seq (seed ``seed``) and the LM shared by all baselines — with
    their data, the seq2seq's run folder (where the stages cache what they train from it) and the LM's."""
    data: Dataset
    lm: torch.nn.Module
    seq2seq: torch.nn.Module
    run_dir: Path
    history: dict
    seed: int = 1
    lm_dir: Path | None = None


def baselines_data_digest(profile: Profile, data_dir: str | Path | None = None) -> dict:
    """{file: sha256} of the data the baselines read: the corpus sources and the vocabulary file."""
    vocab_file = profile.data.vocab_file
    digest = data_digest([corpus_files(profile.data.corpus, data_dir)]
                         + ([(OFFICIAL_VOCAB,)] if vocab_file == "official" else []), data_dir)
    if vocab_file not in (None, "official") and Path(vocab_file).is_file():
        digest[vocab_file] = verify_file(vocab_file)
    return digest


def lm_run_dir(profile: Profile, run_root: str | Path = "runs", data_dir: str | Path | None = None,
               bf16: bool = False, digest: dict | None = None) -> Path:
    """``run_root/lm-<corpus>-<profile>-<hash>``: the LM's folder; the hash covers the data and LM configs,
    the sha256 of the data read and the training code (:func:`baselines_code`)."""
    digest = baselines_data_digest(profile, data_dir) if digest is None else digest
    key = config_hash(profile.data, profile.lm, profile.lm_train, digest, baselines_code())
    return Path(run_root) / f"lm-{profile.data.corpus}-{profile.name}-{key}{'-bf16' if bf16 else ''}"


def baselines_run_dir(profile: Profile, run_root: str | Path = "runs",
                      data_dir: str | Path | None = None, bf16: bool = False) -> Path:
    """``run_root/baselines-<corpus>-<profile>-seed<seed>-<hash>``: one baseline's seq2seq and what the stages
    train from it. The hash covers the configs (the LM's too: its thresholds and anti-LM shape what is
    trained here), the sha256 of the data read and the training code (:func:`baselines_code`), so other
    data or changed training code never reuses these models; not the device (a run is the same on every
    device), but bf16 training, which changes the weights, gets its own folder."""
    digest = baselines_data_digest(profile, data_dir)
    key = config_hash(profile.data, profile.lm, profile.seq2seq, profile.train, profile.lm_train, digest,
                      baselines_code())
    return Path(run_root) / (f"baselines-{profile.data.corpus}-{profile.name}-seed{profile.train.seed}-{key}"
                             f"{'-bf16' if bf16 else ''}")


def baselines_code() -> str:
    """Digest of the code that trains the baselines: ``ntlib.run.pipeline`` and every ntlib module it
    imports, transitively (data, corpora, sources, models, train, evaluate, decode, ...), each by
    its syntax tree without docstrings (:func:`ntlib.machine.provenance.code_digest`)."""
    return code_digest(*BASELINES_CODE)


def baseline_jobs(profile: Profile, data, run_root: str | Path = "runs", data_dir: str | Path | None = None,
                  bf16: bool = False) -> tuple:
    """(kind, model config, training config, train, valid, checkpoint path) of the two models of one
    baseline (§4.1), LM first: what notebook 02 (and ``ntlib.machine.distributed``) trains."""
    return (("lm", profile.lm, profile.lm_train, data.lm_train, data.lm_valid,
             lm_run_dir(profile, run_root, data_dir, bf16) / "lm.pt"),
            ("seq2seq", profile.seq2seq, profile.train, data.train, data.valid,
             baselines_run_dir(profile, run_root, data_dir, bf16) / "seq2seq.pt"))


def baselines(profile: Profile, run_root: str | Path = "runs", data_dir: str | Path | None = None,
              progress: bool = True, device: str | torch.device | None = None,
              bf16: bool = False, data: Dataset | None = None) -> Baselines:
    """Train (or load from its run folder) the LM and the seq2seq of the baseline ``profile`` describes (one
    of :func:`ntlib.run.profiles.baseline_profile`: its seeds); resumes an interrupted run.

    ``device``: a device setting (``ntlib.machine.device.resolve_device``; ``None`` = ``$NTLIB_DEVICE``
    or auto); the models are trained and returned there, the data tensors stay on the CPU.
    ``bf16``: train under bf16 autocast (its own run folder). ``data``: the profile's data set, when loaded."""
    device = resolve_device(device)
    data = load_dataset(profile, data_dir) if data is None else data
    models, history = {}, {}
    for kind, mcfg, tcfg, train, valid, path in baseline_jobs(profile, data, run_root, data_dir, bf16):
        # one process trains a run folder; a second waits, then loads what the first saved
        with run_lock(path.parent, wait=True, what=f"{kind} training"):
            clean_stale_tmp(path.parent)             # a kill mid-write left it; its writer is gone
            if not path.exists():
                torch.manual_seed(tcfg.seed)
                model = build_model(kind, len(data.vocab), mcfg)
                history[kind] = fit(model, kind, train, valid, tcfg, path, progress=progress,
                                    device=device, bf16=bf16)
                _record_training(path.parent, kind)
            models[kind] = load_model(path, device)
            models[kind].eval()
    run_dir, lm_dir = baselines_run_dir(profile, run_root, data_dir, bf16), lm_run_dir(profile, run_root, data_dir, bf16)
    _record_lm(run_dir, lm_dir)
    return Baselines(data, models["lm"], models["seq2seq"], run_dir, history, profile.train.seed, lm_dir)


def all_baselines(profile: Profile, run_root: str | Path = "runs", data_dir: str | Path | None = None,
                  progress: bool = True, device: str | torch.device | None = None,
                  bf16: bool = False) -> list[Baselines]:
    """Every baseline of the profile (:func:`ntlib.run.profiles.baseline_seeds`), trained or loaded in seed
    order, on one data set."""
    data = load_dataset(profile, data_dir)
    return [baselines(baseline_profile(profile, seed), run_root, data_dir, progress, device, bf16, data)
            for seed in baseline_seeds(profile)]


def _record_lm(run_dir: Path, lm_dir: Path) -> None:
    """Copy the LM's trainer into the seq2seq folder's ``provenance.json`` (with its folder), so one file says
    what trained both models of the baseline."""
    path, lm_path = run_dir / "provenance.json", lm_dir / "provenance.json"
    rec = read_json(path) if path.is_file() else {}
    if "lm" not in rec and lm_path.is_file():
        with run_lock(run_dir, wait=True, what="baseline provenance"):
            rec = read_json(path) if path.is_file() else {}
            rec["lm"] = {**read_json(lm_path).get("lm", {}), "run_dir": str(lm_dir)}
            write_json(rec, path)


def _record_training(run_dir: Path, kind: str) -> None:
    """Add ``kind``'s trainer (code version, torch, threads, CPU/GPU) to ``run_dir/provenance.json``."""
    path = run_dir / "provenance.json"
    rec = read_json(path) if path.is_file() else {}
    rec[kind] = {**record(), "baselines_code": baselines_code()}
    write_json(rec, path)
