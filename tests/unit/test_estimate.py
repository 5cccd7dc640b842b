"""``python -m ntlib.run.reproduce --estimate``: every stage timed and extrapolated, on smoke (fast)."""
import math

import torch

from ntlib.data.dataset import EOS, PAD
from ntlib.run.estimate import _synthetic, estimate, format_estimate
from ntlib.run.profiles import get_profile
from ntlib.run.reproduce import main

# smoke, 2 baselines: the 0.5k list × 2 hit types on each, 2 more lists × 2 hit types on the first, the ablation
# and no-FWA runs; 2 thresholds × 2 baselines; a GAN per baseline
STAGES = {"LM training", "seq2seq × 2 training", "test PPL, greedy, beam", "baseline hit rates",
          "Algorithm 1 (10 runs)", "hit rates after Alg. 1, overlap", "Algorithm 2 (4 runs: thresholds × 2 baselines)",
          "GAN (2 baselines)", "MMI grid + test"}


def test_estimate_smoke_covers_every_stage():
    e = estimate("smoke", "switchboard", device="cpu")
    assert {r.stage for r in e["rows"]} == STAGES
    assert {r.notebook for r in e["rows"]} == {"02", "03", "04", "05"}
    assert all(math.isfinite(r.seconds) and r.seconds > 0 for r in e["rows"])
    assert e["total"] == sum(r.seconds for r in e["rows"])
    assert all(v > 0 for k, v in e["units"].items())
    # the formula is the arithmetic: training = epochs x steps x step time + validation
    P = get_profile("smoke")
    lm = next(r for r in e["rows"] if r.stage == "LM training")
    steps = 2 * math.ceil(min(e["counts"]["train"], P.lm_train.max_pairs_per_epoch) / 64)
    assert lm.seconds >= steps * e["units"]["lm_step"]
    assert f"1 × (2 epochs × ⌈{min(e['counts']['train'], 1024)}/64⌉ steps" in lm.formula
    seq = next(r for r in e["rows"] if r.stage == "seq2seq × 2 training")       # one per baseline
    assert seq.formula.startswith("2 × (") and seq.seconds >= 2 * steps * e["units"]["seq2seq_step"]
    text = format_estimate(e)
    assert "total expected" in text and "Algorithm 1" in text and e["device"] == "cpu"


def test_estimate_flag_prints_and_runs_nothing(capsys, tmp_path):
    assert main(["--profile", "smoke", "--estimate", "--device", "cpu",
                 "--run-root", str(tmp_path / "runs")]) == 0
    out = capsys.readouterr().out
    assert "estimate: profile smoke" in out and "total expected" in out
    assert not (tmp_path / "runs").exists()


def test_synthetic_batches_have_the_profiles_shapes():
    P = get_profile("paper")
    ds = _synthetic(P, 100, 10, 10)
    assert ds.train.src.shape == (100, 15) and ds.train.tgt.shape == (100, 21)
    assert ((ds.train.tgt == EOS).sum(1) == 1).all()
    assert (ds.train.src[:, -1] != PAD).all()                  # left-padded, never empty
    assert len(ds.vocab) == P.data.vocab_size + 5 and int(ds.train.tgt.max()) < len(ds.vocab)
    assert torch.equal(_synthetic(P, 100, 10, 10).train.src, ds.train.src)


def test_estimate_without_the_data_is_an_error_unless_nominal_is_asked_for(tmp_path, capsys, monkeypatch):
    """Issue 27: missing or corrupt data printed "nominal counts" and exited 0."""
    monkeypatch.delenv("NTLIB_DATA", raising=False)
    (tmp_path / "data").mkdir()
    assert main(["--profile", "smoke", "--estimate", "--device", "cpu", "--data-dir", str(tmp_path / "data")]) == 2
    err = capsys.readouterr().err
    assert "--estimate reads the switchboard corpus" in err and "--nominal" in err and str(tmp_path / "data") in err
    (tmp_path / "data" / "README").write_text("not the corpus\n")
    e = estimate("smoke", "switchboard", device="cpu", data_dir=tmp_path / "data", nominal=True)
    assert "nominal counts from Appendix B" in e["note"]
