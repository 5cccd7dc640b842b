"""Stages shared by the notebooks: the data set of a profile, and the cached baseline models.

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


@dataclass
class Baselines:
    """The trained LSTM LM and seq2seq of §4.1 with their data and run folder."""
    data: Dataset
    lm: torch.nn.Module
    seq2seq: torch.nn.Module
    run_dir: Path
    history: dict


def baselines_data_digest(profile: Profile, data_dir: str | Path | None = None) -> dict:
    """{file: sha256} of the data the baselines read: the corpus sources and the vocabulary file."""
    vocab_file = profile.data.vocab_file
    digest = data_digest([corpus_files(profile.data.corpus, data_dir)]
                         + ([(OFFICIAL_VOCAB,)] if vocab_file == "official" else []), data_dir)
    if vocab_file not in (None, "official") and Path(vocab_file).is_file():
        digest[vocab_file] = verify_file(vocab_file)
    return digest


def baselines_run_dir(profile: Profile, run_root: str | Path = "runs",
                      data_dir: str | Path | None = None, bf16: bool = False) -> Path:
    """``run_root/baselines-<corpus>-<profile>-<hash>``: the hash covers the configs, the
    sha256 of the data read and the digest of the training code (:func:`baselines_code`), so
    other data or changed training code never reuses these models; not the device (a run is the
    same on every device), but bf16 training, which changes the weights, gets its own folder."""
    key = config_hash(profile.data, profile.lm, profile.seq2seq, profile.train, profile.lm_train,
                      baselines_data_digest(profile, data_dir), baselines_code())
    return Path(run_root) / f"baselines-{profile.data.corpus}-{profile.name}-{key}{'-bf16' if bf16 else ''}"


def baselines_code() -> str:
    """Digest of the code that trains the baselines: ``ntlib.run.pipeline`` and every ntlib module it
    imports, transitively (data, corpora, sources, models, train, evaluate, decode, ...), each by
    its syntax tree without docstrings (:func:`ntlib.machine.provenance.code_digest`)."""
    return code_digest(*BASELINES_CODE)


def baseline_jobs(profile: Profile, data) -> tuple:
    """(kind, model config, training config, train, valid) of the two baselines (§4.1), LM first:
    what notebook 02 (and ``ntlib.machine.distributed``) trains."""
    return (("lm", profile.lm, profile.lm_train, data.lm_train, data.lm_valid),
            ("seq2seq", profile.seq2seq, profile.train, data.train, data.valid))


def baselines(profile: Profile, run_root: str | Path = "runs", data_dir: str | Path | None = None,
              progress: bool = True, device: str | torch.device | None = None,
              bf16: bool = False) -> Baselines:
    """Train (or load from the run folder) the LM and the seq2seq; resumes an interrupted run.

    ``device``: a device setting (``ntlib.machine.device.resolve_device``; ``None`` = ``$NTLIB_DEVICE``
    or auto); the models are trained and returned there, the data tensors stay on the CPU.
    ``bf16``: train under bf16 autocast (its own run folder)."""
    device = resolve_device(device)
    data = load_dataset(profile, data_dir)
    run_dir = baselines_run_dir(profile, run_root, data_dir, bf16)
    # one process trains a run folder; a second waits, then loads what the first saved
    with run_lock(run_dir, wait=True, what="baseline training"):
        clean_stale_tmp(run_dir)                # a kill mid-write left it; its writer is gone
        models, history = {}, {}
        for kind, mcfg, tcfg, train, valid in baseline_jobs(profile, data):
            path = run_dir / f"{kind}.pt"
            if path.exists():
                models[kind] = load_model(path, device)
            else:
                torch.manual_seed(tcfg.seed)
                model = build_model(kind, len(data.vocab), mcfg)
                history[kind] = fit(model, kind, train, valid, tcfg, path, progress=progress,
                                    device=device, bf16=bf16)
                models[kind] = load_model(path, device)
                _record_training(run_dir, kind)
            models[kind].eval()
    return Baselines(data, models["lm"], models["seq2seq"], run_dir, history)


def _record_training(run_dir: Path, kind: str) -> None:
    """Add ``kind``'s trainer (code version, torch, threads, CPU/GPU) to ``run_dir/provenance.json``."""
    path = run_dir / "provenance.json"
    rec = read_json(path) if path.is_file() else {}
    rec[kind] = {**record(), "baselines_code": baselines_code()}
    write_json(rec, path)
