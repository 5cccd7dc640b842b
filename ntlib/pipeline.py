"""Stages shared by the notebooks: the data set of a profile, and the cached baseline models.

Run folders are keyed by a hash of the stage's configs, the data read and the code that trains
the models (:data:`ntlib.provenance.BASELINES_CODE` and its ntlib imports), so a changed config,
data file or training code never reuses a stale model and an unchanged one is loaded instead of
retrained (STYLE §2). Training writes ``provenance.json`` (code, torch, threads, CPU/GPU) beside
the models.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from . import data as D
from .config import Profile, config_hash
from .models import build_model
from .provenance import BASELINES_CODE, code_digest
from .reports import clean_stale_tmp, run_lock, write_json


@dataclass
class Dataset:
    """A corpus made ready for the models: vocabulary, pair tensors, LM sentences.

    LM sentences are the responses, each an independent sentence (§3.2 footnote 6), so
    ``lm_test`` scores exactly the tokens the seq2seq scores on ``test`` (Table 8).
    """
    corpus: D.Corpus
    vocab: D.Vocab
    train: D.PairTensors
    valid: D.PairTensors
    test: D.PairTensors

    @property
    def lm_train(self) -> torch.Tensor:
        return self.train.tgt

    @property
    def lm_valid(self) -> torch.Tensor:
        return self.valid.tgt

    @property
    def lm_test(self) -> torch.Tensor:
        return self.test.tgt


def load_dataset(profile: Profile, data_dir: str | Path | None = None) -> Dataset:
    """Read the profile's corpus (``ntlib.data.load_corpus``), build the vocabulary, encode pairs."""
    cfg = profile.data
    corpus = D.load_corpus(cfg, data_dir)
    vocab = D.build_vocab(corpus, cfg, data_dir)

    def encode(dialogues):
        pairs = [p for d in dialogues
                 for p in D.make_pairs(d, cfg.context_utterances, cfg.max_src_len, cfg.max_tgt_len)]
        return D.encode_pairs(pairs, vocab, cfg.max_src_len, cfg.max_tgt_len)

    return Dataset(corpus, vocab, encode(corpus.train), encode(corpus.valid), encode(corpus.test))


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
    from .sources import OFFICIAL_VOCAB, corpus_files, data_digest, verify_file
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
    """Digest of the code that trains the baselines: ``ntlib.pipeline`` and every ntlib module it
    imports, transitively (data, corpora, sources, models, train, evaluate, decode, ...), each by
    its syntax tree without docstrings (:func:`ntlib.provenance.code_digest`)."""
    return code_digest(*BASELINES_CODE)


def baseline_jobs(profile: Profile, data) -> tuple:
    """(kind, model config, training config, train, valid) of the two baselines (§4.1), LM first:
    what notebook 02 (and ``ntlib.distributed``) trains."""
    return (("lm", profile.lm, profile.lm_train, data.lm_train, data.lm_valid),
            ("seq2seq", profile.seq2seq, profile.train, data.train, data.valid))


def baselines(profile: Profile, run_root: str | Path = "runs", data_dir: str | Path | None = None,
              progress: bool = True, device: str | torch.device | None = None,
              bf16: bool = False) -> Baselines:
    """Train (or load from the run folder) the LM and the seq2seq; resumes an interrupted run.

    ``device``: a device setting (``ntlib.device.resolve_device``; ``None`` = ``$NTLIB_DEVICE``
    or auto); the models are trained and returned there, the data tensors stay on the CPU.
    ``bf16``: train under bf16 autocast (its own run folder)."""
    from .device import resolve_device
    from .train import fit, load_model   # train imports data; keep this module light
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
    from .provenance import record
    from .reports import read_json
    path = run_dir / "provenance.json"
    rec = read_json(path) if path.is_file() else {}
    rec[kind] = {**record(), "baselines_code": baselines_code()}
    write_json(rec, path)
