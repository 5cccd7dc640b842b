"""bf16 autocast (off by default): training and gibbs-enum scoring stay within stated tolerances
of fp32 on the smoke-size toy models (CPU bf16 autocast; on a GPU with NTLIB_DEVICE=cuda)."""
import pytest
import torch

from ntlib.config import GibbsConfig, ModelConfig, TrainConfig
from ntlib.data import encode_sentences
from ntlib.device import resolve_device
from ntlib.gibbs_enum import Thresholds, gibbs_enum, hits, trigger_loss
from ntlib.evaluate import perplexity
from ntlib.models import Seq2Seq
from ntlib.train import fit
from test_gibbs_enum import train_toy

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


def test_bf16_gibbs_enum_finds_the_same_triggers_and_hits(toy):
    vocab, s2s, lm, _, _ = toy
    tgt = encode_sentences([["hate", "you"], ["r3", "r5"], ["r1", "r2"]], vocab, max_len=20)
    cfg = GibbsConfig(sweeps=3, candidates=10, restarts=2)      # converges on the toy (fp32 test)
    for io in (False, True):
        a = gibbs_enum(s2s, tgt, cfg, lm=lm, io=io)
        b = gibbs_enum(s2s, tgt, cfg, lm=lm, io=io, bf16=True)
        # the returned loss is fp32 for the trigger found; bf16 scoring may pick another
        # candidate where two are within bf16 rounding, so compare the objective, not ids:
        # tolerance 0.05 nats of eq. 7 per target (measured on the CPU: 0.006 for o and io)
        assert b.loss.dtype == torch.float32
        assert (b.loss - a.loss).abs().max() < 0.05
        lam = cfg.lambda_in if io else 0.0
        assert torch.allclose(trigger_loss(s2s, lm, b.triggers, tgt[:, :3].to(DEV), lam)[0], b.loss)
        thr = Thresholds(t_out=-1.0, t_in=-100.0)
        for ht in ("o_greedy", "o_sample_avg"):
            assert hits(s2s, lm, a.triggers, tgt, ht, thr).tolist() == hits(s2s, lm, b.triggers, tgt, ht, thr).tolist()
