"""Stages shared by the notebooks: the data set of a profile, and the cached baseline models.

Run folders are keyed by a hash of the stage's configs, so a changed config never reuses
a stale model and an unchanged one is loaded instead of retrained (STYLE §2).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from . import data as D
from .config import Profile, config_hash
from .models import build_model


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


def baselines_run_dir(profile: Profile, run_root: str | Path = "runs", bf16: bool = False) -> Path:
    """Run folder keyed by the configs (not the device: a run is the same on every device);
    bf16 training, which changes the weights, gets its own folder."""
    key = config_hash(profile.data, profile.lm, profile.seq2seq, profile.train, profile.lm_train)
    return Path(run_root) / f"baselines-{profile.data.corpus}-{profile.name}-{key}{'-bf16' if bf16 else ''}"


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
    run_dir = baselines_run_dir(profile, run_root, bf16)
    models, history = {}, {}
    for kind, mcfg, tcfg, train, valid in (
            ("lm", profile.lm, profile.lm_train, data.lm_train, data.lm_valid),
            ("seq2seq", profile.seq2seq, profile.train, data.train, data.valid)):
        path = run_dir / f"{kind}.pt"
        if path.exists():
            models[kind] = load_model(path, device)
        else:
            torch.manual_seed(tcfg.seed)
            model = build_model(kind, len(data.vocab), mcfg)
            history[kind] = fit(model, kind, train, valid, tcfg, path, progress=progress,
                                device=device, bf16=bf16)
            models[kind] = load_model(path, device)
        models[kind].eval()
    return Baselines(data, models["lm"], models["seq2seq"], run_dir, history)
