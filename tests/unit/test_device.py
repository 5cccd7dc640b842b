"""The one device setting (ntlib.machine.device): ``auto`` resolution, clear errors for a bad setting,
device-free checkpoints, and every stage run with an explicit ``device``.

The stages run on ``DEV`` = ``resolve_device()``: the CPU here, CUDA on a GPU machine run with
``NTLIB_DEVICE=cuda`` (benchmarks/gpu_check.py). On the CPU the results must equal those of the
plain CPU call bit for bit; on CUDA they are compared within the tolerances stated below.
"""
import contextlib
import copy
import math
from types import SimpleNamespace

import pytest
import torch
from toys import train_toy

from ntlib.data.dataset import encode_sentences
from ntlib.machine.device import model_device, resolve_device, to_cpu
from ntlib.methods import decode, evaluate, frequent, gan, malicious, mmi
from ntlib.methods.gibbs_enum import gibbs_enum
from ntlib.methods.hits import Thresholds, hits
from ntlib.methods.models import Seq2Seq
from ntlib.methods.train import fit, load_checkpoint, load_model, resume_path, save_model
from ntlib.run.config import FrequentConfig, GanConfig, GibbsConfig, MaliciousConfig, ModelConfig, TrainConfig

DEV = resolve_device()                   # $NTLIB_DEVICE, else auto: the CPU on this machine
CPU = torch.device("cpu")


def same(a: torch.Tensor, b: torch.Tensor, rtol: float = 1e-4, atol: float = 1e-5) -> bool:
    """Bitwise equal on the CPU; within (rtol, atol) when DEV is a GPU (other kernels)."""
    a, b = a.detach().cpu(), b.detach().cpu()
    return torch.equal(a, b) if DEV.type == "cpu" else torch.allclose(a, b, rtol=rtol, atol=atol)


@contextlib.contextmanager
def no_tf32():
    """cuDNN's LSTMs in fp32 proper inside the block: torch runs them in TF32 on GPUs that have it
    unless ``torch.backends.cudnn.allow_tf32`` is off (the default is on)."""
    before = torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32 = before


@pytest.fixture(scope="module")
def toy():
    vocab, s2s, lm, pairs, plant = train_toy(steps=200)
    return SimpleNamespace(vocab=vocab, s2s=s2s, lm=lm, pairs=pairs, plant=plant,
                           s2s_dev=copy.deepcopy(s2s).to(DEV), lm_dev=copy.deepcopy(lm).to(DEV))


# -- the setting ----------------------------------------------------------------------
def test_auto_is_cuda_when_present_else_cpu(monkeypatch):
    want = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == want
    monkeypatch.delenv("NTLIB_DEVICE", raising=False)
    assert resolve_device(None).type == want
    monkeypatch.setenv("NTLIB_DEVICE", "cpu")
    assert resolve_device(None) == CPU and resolve_device("CPU") == CPU


def test_bad_device_setting_names_the_setting(monkeypatch):
    with pytest.raises(ValueError, match=r"device setting 'gpu0' is not a device"):
        resolve_device("gpu0")
    monkeypatch.setenv("NTLIB_DEVICE", "tpu:0")
    with pytest.raises(ValueError, match=r"\$NTLIB_DEVICE 'tpu:0'"):
        resolve_device(None)
    with pytest.raises(ValueError, match="'meta'.*ntlib runs on 'cpu' or 'cuda'"):
        resolve_device("meta")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="device setting 'cuda': CUDA is not available"):
            resolve_device("cuda")
    else:
        with pytest.raises(ValueError, match="CUDA device"):
            resolve_device(f"cuda:{torch.cuda.device_count()}")


def test_reproduce_rejects_a_bad_device_before_running(tmp_path):
    from ntlib.run.reproduce import main
    with pytest.raises(ValueError, match="device setting 'gpu' is not a device"):
        main(["--profile", "smoke", "--device", "gpu", "--run-root", str(tmp_path),
              "--reports-dir", str(tmp_path / "r"), "--stages", "01_data"])


# -- checkpoints ------------------------------------------------------------------------
def test_checkpoints_are_device_free_and_round_trip(tmp_path, toy):
    path = tmp_path / "m.pt"
    save_model(toy.s2s_dev, "seq2seq", path, extra=torch.ones(2, device=DEV))
    ckpt = load_checkpoint(path, map_location="cpu")            # weights_only=True inside
    tensors = list(ckpt["state_dict"].values()) + [ckpt["extra"]]
    assert all(t.device == CPU for t in tensors)
    for k, v in toy.s2s_dev.state_dict().items():
        assert torch.equal(ckpt["state_dict"][k], v.cpu())
    back = load_model(path, "cpu")
    assert model_device(back) == CPU
    assert all(torch.equal(p, q.cpu()) for p, q in zip(back.parameters(), toy.s2s_dev.parameters()))
    assert model_device(load_model(path, DEV)).type == DEV.type
    nested = to_cpu({"a": [torch.zeros(1, device=DEV), (torch.ones(1, device=DEV), 3)], "b": "x"})
    assert nested["a"][0].device == CPU and nested["a"][1][0].device == CPU and nested["a"][1][1] == 3


def test_fit_on_device_writes_cpu_checkpoints_and_matches_cpu(tmp_path, toy):
    data = toy.pairs.subset(slice(0, 512))
    valid = toy.pairs.subset(slice(512, 640))
    cfg = TrainConfig(batch_size=32, epochs_fixed=1, epochs_halving=1, lr=0.5, seed=1)
    seen = []

    def check_resume(epoch, history):       # the per-epoch resume checkpoint is device-free too
        state = torch.load(resume_path(tmp_path / "d.pt"), map_location="cpu", weights_only=True)
        seen.append(all(t.device == CPU for t in state["state_dict"].values()))

    runs = {}
    for name, dev in (("cpu", "cpu"), ("dev", DEV)):
        torch.manual_seed(0)
        model = Seq2Seq(len(toy.vocab), ModelConfig(emb=8, hidden=16, dropout=0.0))
        runs[name] = (model, fit(model, "seq2seq", data, valid, cfg, tmp_path / f"{name[0]}.pt",
                                 progress=False, device=dev,
                                 on_epoch_end=check_resume if name == "dev" else None))
    model, hist = runs["dev"]
    assert model_device(model).type == DEV.type and seen == [True, True]
    assert all(t.device == CPU for t in load_checkpoint(tmp_path / "d.pt")["state_dict"].values())
    # GPU: cuDNN LSTM kernels sum in another order; 1e-4 relative on the PPL after 32 SGD steps
    assert hist["valid_ppl"] == pytest.approx(runs["cpu"][1]["valid_ppl"], rel=0 if DEV.type == "cpu" else 1e-4)


# -- stages that receive a model: they run where the model is -------------------------------
def test_decoding_and_ppl_run_on_the_models_device(toy):
    src = toy.pairs.src[:40]                                        # CPU inputs are moved
    g_dev, g_cpu = decode.greedy(toy.s2s_dev, src, 6), decode.greedy(toy.s2s, src, 6)
    assert g_dev.device.type == DEV.type and torch.equal(g_dev.cpu(), g_cpu)
    s_dev = decode.sample(toy.s2s_dev, src, 6, generator=torch.Generator().manual_seed(3))
    s_cpu = decode.sample(toy.s2s, src, 6, generator=torch.Generator().manual_seed(3))
    assert s_dev.shape[0] == 40 and (torch.equal(s_dev.cpu(), s_cpu) or DEV.type != "cpu")
    b_dev, b_cpu = decode.beam_search(toy.s2s_dev, src, 3, 6), decode.beam_search(toy.s2s, src, 3, 6)
    assert [[h[0] for h in n] for n in b_dev] == [[h[0] for h in n] for n in b_cpu]
    p_dev, p_cpu = evaluate.perplexity(toy.s2s_dev, toy.pairs), evaluate.perplexity(toy.s2s, toy.pairs)
    assert p_dev["ppl"] == pytest.approx(p_cpu["ppl"], rel=0 if DEV.type == "cpu" else 1e-5)
    # GPU: cuDNN's LSTM may run its matmuls in TF32 (torch.backends.cudnn.allow_tf32, on by
    # default); measured on an H200: 1.9e-5 relative on this LM PPL, so 1e-4 as for training
    assert mmi.lm_ppl(toy.lm_dev, [[5, 6], [7]]) == pytest.approx(mmi.lm_ppl(toy.lm, [[5, 6], [7]]),
                                                                  rel=0 if DEV.type == "cpu" else 1e-4)
    h_dev = mmi.beam_search_antilm(toy.s2s_dev, toy.lm_dev, src[:8], 3, 6, lam=0.3, g=2)
    h_cpu = mmi.beam_search_antilm(toy.s2s, toy.lm, src[:8], 3, 6, lam=0.3, g=2)
    assert [[h.ids for h in f] for f in h_dev] == [[h.ids for h in f] for f in h_cpu]


@pytest.mark.parametrize("io", [False, True])
def test_gibbs_enum_candidates_live_on_the_device(toy, io):
    tgt = encode_sentences([["hate", "you"], ["r3", "r5"]], toy.vocab, max_len=20)
    cfg = GibbsConfig(sweeps=2, candidates=8, restarts=1)
    r_cpu = gibbs_enum(toy.s2s, tgt, cfg, lm=toy.lm, io=io)
    with no_tf32():                          # fp32 LSTMs on the GPU too (no effect on the CPU)
        r_dev = gibbs_enum(toy.s2s_dev, tgt, cfg, lm=toy.lm_dev, io=io)
    assert r_dev.triggers.device.type == DEV.type and r_dev.loss.device.type == DEV.type
    # the same triggers; their eq. 7 loss within 5e-4 relative on a GPU (measured 7.4e-5 on an H200,
    # torch 2.11+cu130, TF32 off), exact on the CPU
    assert torch.equal(r_dev.triggers.cpu(), r_cpu.triggers) and same(r_dev.loss, r_cpu.loss, rtol=5e-4)
    h = hits(toy.s2s_dev, toy.lm_dev, r_dev.triggers, tgt, "o_greedy", Thresholds(0, 0))
    assert h.tolist() == hits(toy.s2s, toy.lm, r_cpu.triggers, tgt, "o_greedy", Thresholds(0, 0)).tolist()
    if DEV.type == "cuda":
        # torch's default runs cuDNN's LSTMs in TF32 (torch.backends.cudnn.allow_tf32): measured on an
        # H200 (torch 2.11+cu130), the same trigger's loss moved 1.8e-3 relative (0.18361 -> 0.18394),
        # and where the saturated toy model scores candidates within 1e-7 nats of each other
        # (0.00165887 vs 0.00165883) TF32 picked another one: a trigger 2.5e-5 nats from the CPU's.
        # So with TF32: the same hits, and the loss within 5e-3 relative or 1e-4 nats.
        r_tf32 = gibbs_enum(toy.s2s_dev, tgt, cfg, lm=toy.lm_dev, io=io)
        assert torch.allclose(r_tf32.loss.cpu(), r_cpu.loss, rtol=5e-3, atol=1e-4)
        h = hits(toy.s2s_dev, toy.lm_dev, r_tf32.triggers, tgt, "o_greedy", Thresholds(0, 0))
        assert h.tolist() == hits(toy.s2s, toy.lm, r_cpu.triggers, tgt, "o_greedy", Thresholds(0, 0)).tolist()


def test_algorithm_1_with_device(toy):
    tgt = encode_sentences([["hate", "you"]], toy.vocab, max_len=20)
    thr = Thresholds(t_out=-1.0, t_in=-100.0)
    mcfg = MaliciousConfig(iterations=2, lr=0.5, max_neg_updates=3, target_batch=1, fwa=True)
    gcfg = GibbsConfig(sweeps=2, candidates=8, restarts=1, stop_when_hit=True)
    args = (tgt, toy.pairs.subset(~toy.plant), thr, "o_sample_avg", toy.vocab, mcfg, gcfg)
    r_dev = malicious.negative_train(toy.s2s, toy.lm_dev, *args, progress=False, device=DEV)
    r_cpu = malicious.negative_train(toy.s2s, toy.lm, *args, progress=False, device="cpu")
    assert model_device(r_dev.model).type == DEV.type and model_device(toy.s2s) == CPU  # a copy moved
    assert [h["k"] for h in r_dev.history] == [h["k"] for h in r_cpu.history]
    assert all(same(p, q) for p, q in zip(r_dev.model.parameters(), r_cpu.model.parameters()))


def test_algorithm_2_with_device(toy, tmp_path):
    data = toy.pairs.subset(slice(0, 256))
    cfg = FrequentConfig(r_thres=0.05, window=2, lr=0.1, passes=0.5, log_every=2, log_inputs=16)
    m_dev, h_dev = frequent.negative_train(toy.s2s, data, data, toy.vocab, cfg, max_len=4,
                                           progress=False, device=DEV)
    m_cpu, h_cpu = frequent.negative_train(toy.s2s, data, data, toy.vocab, cfg, max_len=4,
                                           progress=False, device="cpu")
    assert model_device(m_dev).type == DEV.type and h_dev["step"] == h_cpu["step"]
    assert all(same(p, q, rtol=1e-3, atol=1e-4) for p, q in zip(m_dev.parameters(), m_cpu.parameters()))
    ds = SimpleNamespace(train=data, valid=data, vocab=toy.vocab)
    cached, _ = frequent.negative_train_cached(toy.s2s_dev, ds, cfg, tmp_path, max_len=4, progress=False)
    again, _ = frequent.negative_train_cached(toy.s2s_dev, ds, cfg, tmp_path, max_len=4, progress=False)
    assert model_device(cached).type == DEV.type == model_device(again).type


def test_gan_with_device(toy):
    data = SimpleNamespace(vocab=toy.vocab, train=toy.pairs.subset(slice(0, 160)),
                           valid=toy.pairs.subset(slice(160, 200)))
    cfg = GanConfig(d_emb=8, d_filters=4, d_highway=16, d_pretrain_batches=2, g_batches=2,
                    batch_size=8, g_lrs=(1e-2,), seed=3)
    r_dev = gan.train_gan(toy.s2s, data, cfg, max_len=6, progress=False, device=DEV)
    r_cpu = gan.train_gan(toy.s2s, data, cfg, max_len=6, progress=False, device="cpu")
    assert model_device(r_dev.generator).type == DEV.type == model_device(r_dev.discriminator).type
    assert model_device(toy.s2s) == CPU
    ok = [math.isclose(a["ppl"], b["ppl"], rel_tol=0 if DEV.type == "cpu" else 1e-3)
          for a, b in zip(r_dev.selection, r_cpu.selection)]
    assert all(ok)


def test_the_gpu_checks_test_files_exist():
    """benchmarks/gpu_check.py runs these on a lent GPU: a moved file would be found missing there, in its few minutes."""
    import importlib.util
    from pathlib import Path
    root = Path(__file__).resolve().parents[2]
    spec = importlib.util.spec_from_file_location("gpu_check", root / "benchmarks" / "gpu_check.py")
    gpu_check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gpu_check)
    assert [t for t in gpu_check.UNIT_TESTS + gpu_check.QUICK_TESTS if not (root / t).is_file()] == []
