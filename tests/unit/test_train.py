"""ntlib.methods.train: the §4.1 schedule, the loop, best-model selection, exact resume, checkpoint errors."""
import dataclasses
import math

import pytest
import torch
from toys import copy_task

from ntlib.data.dataset import PAD
from ntlib.methods import evaluate, train
from ntlib.methods.models import build_model
from ntlib.methods.train import load_model, save_model
from ntlib.run.config import ModelConfig, TrainConfig

torch.set_num_threads(1)
V = 16
MCFG = ModelConfig(emb=8, hidden=16, dropout=0.2)


def fresh(kind="seq2seq", seed=0):
    torch.manual_seed(seed)
    return build_model(kind, V, MCFG)


CFG = TrainConfig(batch_size=16, lr=0.5, epochs_fixed=1, epochs_halving=1, clip_norm=5.0,
                  momentum=0.9, max_pairs_per_epoch=128, seed=3)   # momentum: optimizer state too


def test_epoch_lr_follows_section_4_1():
    cfg = TrainConfig(lr=1.0, epochs_fixed=10, epochs_halving=10)
    lrs = [train.epoch_lr(cfg, e) for e in range(20)]
    assert lrs[:10] == [1.0] * 10
    assert lrs[10:13] == [0.5, 0.25, 0.125] and lrs[19] == 0.5 ** 10


def test_epoch_batches_subsample_is_deterministic_and_bucketed():
    lengths = torch.randint(1, 20, (1000,))
    a = train.epoch_batches(lengths, 32, 300, torch.Generator().manual_seed(1))
    b = train.epoch_batches(lengths, 32, 300, torch.Generator().manual_seed(1))
    c = train.epoch_batches(lengths, 32, 300, torch.Generator().manual_seed(2))
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    flat = torch.cat(a)
    assert len(flat) == 300 and len(set(flat.tolist())) == 300        # a subsample, no repeats
    assert not torch.equal(flat.sort().values, torch.cat(c).sort().values)
    # similar lengths share a batch: spread inside batches far below the global spread
    assert sum(float(lengths[i].max() - lengths[i].min()) for i in a) / len(a) < 6


def test_nll_counts_eos_and_matches_token_logprobs():
    data, model = copy_task(8), fresh()
    model.eval()
    with torch.no_grad():
        nll, n = evaluate.seq2seq_nll(model, data.src, data.tgt)
        lp = model.token_logprobs(data.src, data.tgt)
    assert n == int((data.tgt != PAD).sum())                          # words + one <eos> each
    assert float(nll) == pytest.approx(-float(lp.sum()), rel=1e-5)
    total, count = evaluate.evaluate_nll(model, "seq2seq", data, batch_size=3)
    assert count == n and total == pytest.approx(float(nll), rel=1e-5)


@pytest.mark.parametrize("kind", ["seq2seq", "lm"])
def test_fit_lowers_loss_and_keeps_best(tmp_path, kind):
    data = copy_task()
    train_data, valid = (data, data.subset(torch.arange(64))) if kind == "seq2seq" \
        else (data.tgt, data.tgt[:64])
    model = fresh(kind)
    before = evaluate.evaluate_nll(model, kind, valid)
    cfg = TrainConfig(batch_size=16, epochs_fixed=3, epochs_halving=1, seed=1)
    hist = train.fit(model, kind, train_data, valid, cfg, tmp_path / "m.pt", progress=False)
    assert set(hist) == set(train.HISTORY_KEYS) and hist["lr"] == [1.0, 1.0, 1.0, 0.5]
    assert hist["valid_ppl"][-1] < math.exp(before[0] / before[1]) * 0.7   # learnt something
    assert hist["train_loss"][-1] < hist["train_loss"][0]
    assert all(t > 0 for t in hist["tokens_per_s"])
    ckpt = train.load_checkpoint(tmp_path / "m.pt")
    assert ckpt["history"]["valid_ppl"] == hist["valid_ppl"]
    best = int(torch.tensor(hist["valid_ppl"]).argmin()) + 1
    assert ckpt["best_epoch"] == best
    loaded = train.load_model(tmp_path / "m.pt").eval()
    total, n = evaluate.evaluate_nll(loaded, kind, valid)
    assert math.exp(total / n) == pytest.approx(min(hist["valid_ppl"]), rel=1e-5)
    assert not train.resume_path(tmp_path / "m.pt").exists()       # cleaned up when complete


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_interrupted_fit_resumes_to_identical_weights(tmp_path, optimizer):
    data = copy_task()
    valid = data.subset(torch.arange(64))
    cfg = TrainConfig(**{**CFG.__dict__, "optimizer": optimizer,
                         "lr": CFG.lr if optimizer == "sgd" else 0.01})
    straight = fresh()
    train.fit(straight, "seq2seq", data, valid, cfg, tmp_path / "a.pt", progress=False)

    def crash(epoch, history):
        raise KeyboardInterrupt

    broken = fresh()
    with pytest.raises(KeyboardInterrupt):
        train.fit(broken, "seq2seq", data, valid, cfg, tmp_path / "b.pt", progress=False,
                  on_epoch_end=crash)
    assert train.resume_path(tmp_path / "b.pt").exists() and not (tmp_path / "b.pt").exists()
    torch.manual_seed(12345)                       # the new process's RNG is somewhere else
    resumed = fresh(seed=99)                       # and its model starts from other weights
    hist = train.fit(resumed, "seq2seq", data, valid, cfg, tmp_path / "b.pt", progress=False)
    a = train.load_checkpoint(tmp_path / "a.pt")["state_dict"]
    b = train.load_checkpoint(tmp_path / "b.pt")["state_dict"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert hist["epoch"] == [1, 2]


def test_corrupt_and_foreign_checkpoints_give_clear_errors(tmp_path):
    data = copy_task(32)
    rpath = train.resume_path(tmp_path / "m.pt")
    rpath.write_bytes(b"\x00 not a zip file at all")
    with pytest.raises(ValueError, match="not a readable ntlib checkpoint"):
        train.fit(fresh(), "seq2seq", data, data, CFG, tmp_path / "m.pt", progress=False)
    torch.save({"weights": torch.zeros(3)}, rpath)             # e.g. another tool's file
    with pytest.raises(ValueError, match="not an ntlib checkpoint"):
        train.fit(fresh(), "seq2seq", data, data, CFG, tmp_path / "m.pt", progress=False)
    train.save_model(fresh(), "seq2seq", rpath)                 # a model file, not a resume one
    with pytest.raises(ValueError, match="not a resume checkpoint"):
        train.fit(fresh(), "seq2seq", data, data, CFG, tmp_path / "m.pt", progress=False)
    (tmp_path / "x.pt").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="x.pt"):
        train.load_model(tmp_path / "x.pt")


def test_unknown_optimizer_names_the_field(tmp_path):
    with pytest.raises(ValueError, match="TrainConfig.optimizer"):
        train.fit(fresh(), "seq2seq", copy_task(64), copy_task(64),
                  TrainConfig(**{**CFG.__dict__, "optimizer": "adagrad"}), tmp_path / "m.pt", progress=False)


def test_resume_with_another_config_names_the_difference(tmp_path):
    data = copy_task(64)

    def crash(epoch, history):
        raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        train.fit(fresh(), "seq2seq", data, data, CFG, tmp_path / "m.pt", progress=False,
                  on_epoch_end=crash)
    other = TrainConfig(**{**CFG.__dict__, "lr": 0.25})
    with pytest.raises(ValueError, match="train_config"):
        train.fit(fresh(), "seq2seq", data, data, other, tmp_path / "m.pt", progress=False)


def test_wrong_data_for_kind_is_an_error(tmp_path):
    data = copy_task(16)
    with pytest.raises(TypeError, match="train"):
        train.fit(fresh(), "seq2seq", data.tgt, data, CFG, tmp_path / "m.pt", progress=False)
    with pytest.raises(ValueError, match="unknown model kind"):
        train.fit(fresh(), "gan", data, data, CFG, tmp_path / "m.pt", progress=False)


def _checkpoint(tmp_path, **config_changes):
    model = build_model("lm", 12, ModelConfig(emb=4, hidden=6, dropout=0.0))
    path = tmp_path / "lm.pt"
    save_model(model, "lm", path)
    ckpt = torch.load(path, weights_only=True)
    ckpt["config"] = {**dataclasses.asdict(model.cfg), **config_changes}
    torch.save(ckpt, path)
    return path


def test_checkpoint_with_unknown_config_key_names_path_and_key(tmp_path):
    path = _checkpoint(tmp_path, attention=True)
    with pytest.raises(ValueError, match=rf"{path}: checkpoint config has unknown key\(s\) \['attention'\]"):
        load_model(path)


def test_checkpoint_with_bad_config_value_names_path_and_field(tmp_path):
    path = _checkpoint(tmp_path, hidden=-6)
    with pytest.raises(ValueError, match=rf"{path}: checkpoint config: ModelConfig.hidden = -6"):
        load_model(path)


def test_checkpoint_without_a_config_field_or_its_weights_names_the_path(tmp_path):
    """Issue 27: a checkpoint missing `hidden` silently became 600, an edited vocab_size gave a size-mismatch
    RuntimeError without the path, no state_dict a KeyError."""
    path = _checkpoint(tmp_path)
    ckpt = torch.load(path, weights_only=True)
    del ckpt["config"]["hidden"]
    torch.save(ckpt, path)
    with pytest.raises(ValueError, match=rf"{path}: checkpoint config has no hidden"):
        load_model(path)
    path = _checkpoint(tmp_path)
    ckpt = torch.load(path, weights_only=True)
    torch.save({**ckpt, "vocab_size": 13}, path)
    with pytest.raises(ValueError, match=rf"{path}: the weights do not fit .*vocab_size 13.*size mismatch"):
        load_model(path)
    torch.save({k: v for k, v in ckpt.items() if k != "state_dict"}, path)
    with pytest.raises(ValueError, match=rf"{path}: checkpoint has no state_dict"):
        load_model(path)
