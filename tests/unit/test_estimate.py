"""``python -m ntlib.run.reproduce --estimate``: every stage timed and extrapolated, on smoke (fast)."""
import math

import torch
from toys import shared_data_missing

from ntlib.data.dataset import EOS, PAD
from ntlib.methods import gibbs_enum, triggers
from ntlib.methods.models import LSTMLM, Seq2Seq
from ntlib.run.config import GibbsConfig, ModelConfig
from ntlib.run.estimate import _hms, _synthetic, estimate, format_estimate
from ntlib.run.flops import count_flops, gpu_estimate, makespan, search_flops
from ntlib.run.profiles import get_profile
from ntlib.run.reproduce import main

NOMINAL = shared_data_missing() is not None   # without the shared corpus: Appendix B's counts, synthetic batches

# smoke, 2 baselines: the 0.5k list × 2 hit types on each, 2 more lists × 2 hit types on the first, the ablation
# and no-FWA runs; 2 thresholds × 2 baselines; a GAN per baseline
STAGES = {"LM training", "seq2seq × 2 training", "test PPL, greedy, beam", "baseline hit rates",
          "Algorithm 1 (10 runs)", "hit rates after Alg. 1, overlap", "Algorithm 2 (4 runs: thresholds × 2 baselines)",
          "GAN (2 baselines)", "MMI grid + test"}


def test_estimate_smoke_covers_every_stage():
    e = estimate("smoke", "switchboard", device="cpu", nominal=NOMINAL)
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
    by_nb = {k: sum(r.seconds for r in e["rows"] if r.notebook == k) for k in ("02", "03", "04", "05")}
    side = by_nb["02"] + max(by_nb["03"], by_nb["04"], by_nb["05"])      # 03-05 side by side: 02 + the longest
    assert f"side by side (reproduce --concurrent, the default on a GPU): between {_hms(side)}" in text


def test_estimate_flag_prints_and_runs_nothing(capsys, tmp_path):
    assert main(["--profile", "smoke", "--estimate", "--device", "cpu", *(["--nominal"] if NOMINAL else []),
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


def test_count_flops_counts_matmuls_and_lstm_cells():
    lstm, lin = torch.nn.LSTM(6, 10, batch_first=True), torch.nn.Linear(10, 7)
    x = torch.randn(3, 5, 6)
    assert count_flops(lambda: lin(lstm(x)[0]), (lstm,)) == 8 * 10 * (6 + 10) * 15 + 2 * 15 * 10 * 7
    x.requires_grad_(True)                        # differentiated: forward + backward's two matmuls per cell
    assert count_flops(lambda: lstm(x)[0].sum().backward(), (lstm,)) == 3 * 8 * 10 * 16 * 15


def test_search_flops_are_gradient_plus_G_candidates():
    """The split at G = 2 and 4 predicts the FLOPs of a sweep at any other G exactly (affine in G)."""
    torch.manual_seed(0)
    s2s, lm = Seq2Seq(50, ModelConfig(8, 12, 0.0)).eval(), LSTMLM(50, ModelConfig(8, 12, 0.0)).eval()
    g = GibbsConfig(input_len=5)
    tgt = torch.tensor([[7, 8, EOS, PAD], [9, 10, 11, EOS]])
    f = search_flops(s2s, lm, g, tgt, torch.Generator().manual_seed(0))
    assert 0 < f["o"]["candidate"] < f["io"]["candidate"] and 0 < f["o"]["gradient"] < f["io"]["gradient"]
    x = triggers.random_triggers(2, 5, 50, torch.Generator().manual_seed(1))
    for io, lam in (("o", 0.0), ("io", 1.0)):
        def sweep():
            for pos in range(4):
                gibbs_enum._candidate_losses(s2s, lm, x, tgt, lam, pos, gibbs_enum._top_candidates(s2s, lm, x, tgt, lam, pos, 3), 10 ** 9)
        assert count_flops(sweep, (s2s, lm)) == 2 * 4 * (f[io]["gradient"] + 3 * f[io]["candidate"])


def test_gpu_estimate_spreads_whole_jobs_largest_first():
    loads = [5.0, 4.0, 3.0, 3.0, 3.0]
    assert makespan(loads, 1) == 18.0 and makespan(loads, 8) == 5.0
    assert makespan(loads, 2) == 10.0             # largest first: 5+3+... greedy, not the optimum 9
    est = gpu_estimate({f"j{i}": v * 1e12 for i, v in enumerate(loads)}, {"bf16": 100e12}, 0.5, gpus=(1, 2))
    assert est == {1: {"bf16": 18e12 / 50e12}, 2: {"bf16": 10e12 / 50e12}}


def test_gpu_estimate_with_sharded_searches_splits_all_but_the_sequential_part():
    """Issue 31: each job's searches over all N GPUs, its Algorithm 1 updates (sequential) on one, jobs in turn."""
    jobs, seq = {"search": 8e12, "alg1": 10e12}, {"alg1": 2e12}
    est = gpu_estimate(jobs, {"bf16": 100e12}, 0.5, gpus=(1, 4), sequential=seq)
    assert math.isclose(est[1]["bf16"], 18e12 / 50e12)                         # one GPU: everything in turn
    assert math.isclose(est[4]["bf16"], (8e12 / 4 + 8e12 / 4 + 2e12) / 50e12)     # 6e12 of 18e12
