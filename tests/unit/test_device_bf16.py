"""bf16 autocast (off by default): training and gibbs-enum scoring stay within stated tolerances
of fp32 on the smoke-size toy models (CPU bf16 autocast; on a GPU with NTLIB_DEVICE=cuda)."""
import pytest
import torch
from toys import train_toy

from ntlib.data.dataset import encode_sentences
from ntlib.machine.device import resolve_device
from ntlib.methods.evaluate import perplexity
from ntlib.methods.gibbs_enum import gibbs_enum, trigger_loss
from ntlib.methods.hits import Thresholds, hits
from ntlib.methods.models import Seq2Seq
from ntlib.methods.train import fit
from ntlib.run.config import GibbsConfig, ModelConfig, TrainConfig

DEV = resolve_device()


@pytest.fixture(scope="module")
def toy():
    vocab, s2s, lm, pairs, plant = train_toy(steps=200)
    return vocab, s2s.to(DEV), lm.to(DEV), pairs, plant


def test_bf16_training_reaches_the_fp32_ppl_within_2_percent(tmp_path, toy):
    vocab, _, _, pairs, _ = toy
    data, valid = pairs.subset(slice(0, 1024)), pairs.subset(slice(1024, 1280))
    cfg = TrainConfig(batch_size=32, epochs_fixed=2, epochs_halving=0, lr=0.5, seed=1)
    ppl = {}
    for bf16 in (False, True):
        torch.manual_seed(0)
        model = Seq2Seq(len(vocab), ModelConfig(emb=16, hidden=32, dropout=0.0))
        hist = fit(model, "seq2seq", data, valid, cfg, tmp_path / f"{bf16}.pt", progress=False,
                   device=DEV, bf16=bf16)
        ppl[bf16] = hist["valid_ppl"][-1]
        assert perplexity(model, valid)["ppl"] == pytest.approx(ppl[bf16], rel=1e-6)  # fp32 eval
    assert ppl[False] < 0.5 * len(vocab)                         # learnt (untrained: PPL ≈ |V|)
    # tolerance 2 %; measured on the CPU after 64 steps: fp32 4.319, bf16 4.313 (0.13 %)
    assert ppl[True] == pytest.approx(ppl[False], rel=0.02)


def test_bf16_gibbs_enum_reaches_the_fp32_objective_with_the_same_hits(toy):
    vocab, s2s, lm, _, _ = toy
    tgt = encode_sentences([["hate", "you"], ["r3", "r5"], ["r1", "r2"]], vocab, max_len=20)
    # bf16 rounds the candidate scores (|bf16 - fp32| of eq. 7 on 256 random triggers, mean / max:
    # 0.008 / 0.03 nats on an H200, 0.02-0.03 / 0.08-0.12 on CPUs) and so reorders near-tied candidates: each
    # restart's local search goes on from another point and may end in another local minimum, as an
    # fp32 restart from another start does. One restart's gap to fp32 is not bounded by rounding
    # (measured with 2 restarts, "r3 r5": bf16 0.105 vs fp32 0.0018 on an H200, torch 2.11+cu130;
    # fp32 from seeds 0-5: 0.0017 to 0.46), but the best over restarts is: over 6 seeds x 2 restarts the
    # best bf16 loss was within 0.001 nats of the best fp32 loss for every target (H200 and its CPU,
    # o- and io-). So: 6 restarts, the best within 0.02 nats (bf16's resolution of eq. 7), same hits.
    cfg = GibbsConfig(sweeps=3, candidates=10, restarts=6)
    for io in (False, True):
        a = gibbs_enum(s2s, tgt, cfg, lm=lm, io=io)
        b = gibbs_enum(s2s, tgt, cfg, lm=lm, io=io, bf16=True)
        assert b.loss.dtype == torch.float32
        assert (b.loss - a.loss).abs().max() < 0.02, (io, a.loss.tolist(), b.loss.tolist())
        lam = cfg.lambda_in if io else 0.0
        assert torch.allclose(trigger_loss(s2s, lm, b.triggers, tgt[:, :3].to(DEV), lam)[0], b.loss)
        thr = Thresholds(t_out=-1.0, t_in=-100.0)
        for ht in ("o_greedy", "o_sample_avg"):
            assert hits(s2s, lm, a.triggers, tgt, ht, thr).tolist() == hits(s2s, lm, b.triggers, tgt, ht, thr).tolist()
