"""ntlib.machine.distributed: 2 CPU processes (gloo, DistributedDataParallel) against one process.

One spawn of 2 ranks runs every distributed job (process start-up dominates on 2 shared cores);
the one-process references run here. Toy models of a few hundred parameters, a few steps.

Tolerance for the loss curves: 1e-5 relative. The 2-rank run computes the same global
mini-batch, but as two half-batches whose gradients DDP sums (and whose NLLs are summed in
another order): float32 addition in another order moves the last bits, ~1e-7 relative per
step, and a few SGD steps with momentum carry it along; 1e-5 leaves room for that and is far
below any difference a wrong batch split or a wrong per-token scaling would make (≥ 1e-2).
"""
import socket

import pytest
import torch
import torch.multiprocessing as mp
from toys import copy_task

from ntlib.machine import distributed
from ntlib.methods import train
from ntlib.methods.hits import Thresholds
from ntlib.methods.malicious import negative_train
from ntlib.methods.models import build_model
from ntlib.run.config import GibbsConfig, MaliciousConfig, ModelConfig, TrainConfig

torch.set_num_threads(1)
V = 16
RTOL = 1e-5
# 49 rows a epoch in batches of 16: 16, 16, 16, 1 — the last gives rank 1 no row at all
CFG = TrainConfig(batch_size=16, lr=0.5, epochs_fixed=1, epochs_halving=1, clip_norm=1.0,
                  momentum=0.9, max_pairs_per_epoch=49, seed=3)
GCFG = GibbsConfig(input_len=4, sweeps=1, candidates=4, restarts=2, chunk_size=64, seed=5)
THR = Thresholds(t_out=-2.75, t_in=-2.8)
HIT_TYPES = ("o_greedy", "o_sample_avg", "io_sample_avg")
# Algorithm 1 on the 7 targets: mini-batches of 4 and 3, each searched in blocks of 2 (rank 0: rows 0-1, rank 1: 2-3)
MCFG = MaliciousConfig(iterations=2, target_batch=4, lr=0.1, max_neg_updates=3, pos_batch=8, fwa=False, seed=4)


def model(kind="seq2seq", dropout=0.0, seed=0):
    torch.manual_seed(seed)
    return build_model(kind, V, ModelConfig(emb=6, hidden=8, dropout=dropout))


def targets(n=7):
    return copy_task(n, seed=9).tgt[:, :5]


def _fit(tmp, name, ranks, dropout, kill_after=None):
    """fit a fresh toy seq2seq into tmp/name.pt; ``kill_after``: stop (as a kill would) after
    that epoch's resume checkpoint. Returns history, weights and the atomic writes it made."""
    writes, real = [], train.atomic_save
    train.atomic_save = lambda obj, path: (writes.append(str(path)), real(obj, path))[1]
    m = model(dropout=dropout)
    if ranks is not None:
        ranks.fork_rng(CFG.seed)

    def on_epoch_end(epoch, history):
        if epoch == kill_after:
            raise KeyboardInterrupt
    try:
        data = copy_task(80)
        hist = train.fit(m, "seq2seq", data, copy_task(24, seed=1), CFG, tmp / f"{name}.pt",
                         progress=False, on_epoch_end=on_epoch_end, ranks=ranks)
    except KeyboardInterrupt:
        hist = None
    finally:
        train.atomic_save = real
    return {"history": hist, "state": {k: v.clone() for k, v in m.state_dict().items()},
            "writes": writes}


def _algorithm1(ranks=None, block=2):
    """Algorithm 1 (io_sample_avg: LM-sample starts) on the toy, sharded when ``ranks``: history without
    the seconds, the last iteration's triggers, the weights."""
    res = negative_train(model(), model("lm", seed=1), targets(), copy_task(80), THR, "io_sample_avg", None, MCFG,
                         GCFG, progress=False, block=block, ranks=ranks)
    return {"history": [{k: v for k, v in h.items() if k != "seconds"} for h in res.history],
            "triggers": res.triggers, "state": {k: v.clone() for k, v in res.model.state_dict().items()}}


def _worker(rank, world, port, tmp):
    import os
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    ranks = distributed.init("cpu")
    out = {"world": ranks.world, "backend": torch.distributed.get_backend()}
    out["curve"] = _fit(tmp, "curve", ranks, dropout=0.0)
    out["killed"] = _fit(tmp, "resumed", ranks, dropout=0.3, kill_after=0)
    out["resumed"] = _fit(tmp, "resumed", ranks, dropout=0.3)
    out["unbroken"] = _fit(tmp, "unbroken", ranks, dropout=0.3)
    out["hits"] = distributed.sharded_hits(model(), model("lm", seed=1), targets(), THR, HIT_TYPES,
                                           GCFG, block=3, ranks=ranks)
    out["alg1"] = _algorithm1(ranks)
    distributed.shutdown()
    torch.save(out, tmp / f"rank{rank}.pt")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ddp")
    mp.spawn(_worker, args=(2, _free_port(), tmp), nprocs=2, join=True)
    return tmp, [torch.load(tmp / f"rank{r}.pt", weights_only=False) for r in (0, 1)]


def test_two_gloo_ranks_give_the_one_process_loss_curve(two_ranks, tmp_path):
    tmp, outs = two_ranks
    assert [o["world"] for o in outs] == [2, 2] and outs[0]["backend"] == "gloo"
    one = _fit(tmp_path, "one", None, dropout=0.0)
    for o in outs:
        got, ref = o["curve"]["history"], one["history"]
        assert len(got["train_loss"]) == 2
        for key in ("train_loss", "valid_nll", "valid_ppl"):
            assert got[key] == pytest.approx(ref[key], rel=RTOL), key
        for k, v in one["state"].items():            # the same weights, on both ranks
            assert torch.allclose(o["curve"]["state"][k], v, rtol=RTOL, atol=1e-6), k
    diff = max(abs(a - b) / abs(b) for a, b in zip(outs[0]["curve"]["history"]["train_loss"],
                                                   one["history"]["train_loss"]))
    print(f"max relative train-loss difference, 2 ranks vs 1 process: {diff:.2e}")
    # the checkpoint is the one-process model (within the tolerance)
    ckpt = train.load_checkpoint(tmp / "curve.pt")
    for k, v in one["state"].items():
        assert torch.allclose(ckpt["state_dict"][k], v, rtol=RTOL, atol=1e-6), k


def test_rank_0_alone_writes_the_checkpoints(two_ranks):
    tmp, outs = two_ranks
    assert outs[1]["curve"]["writes"] == [] and outs[1]["unbroken"]["writes"] == []
    assert [p.rsplit("/", 1)[1] for p in outs[0]["curve"]["writes"]] == \
        ["curve.resume.pt", "curve.resume.pt", "curve.pt"]
    assert (tmp / "curve.pt").exists() and not (tmp / "curve.resume.pt").exists()


def test_a_killed_two_rank_run_resumes_to_the_unbroken_run(two_ranks):
    tmp, outs = two_ranks
    for o in outs:
        assert o["killed"]["history"] is None                  # stopped after epoch 1
        res, full = o["resumed"], o["unbroken"]
        assert res["history"]["epoch"] == [1, 2]
        for key in ("train_loss", "valid_nll", "lr"):
            assert res["history"][key] == full["history"][key], key     # exactly: same ranks
        for k, v in full["state"].items():
            assert torch.equal(res["state"][k], v), k
    # dropout 0.3 on both ranks: the resumed run continued each rank's own mask stream
    assert outs[0]["killed"]["writes"][-1].endswith("resumed.resume.pt")
    assert len(outs[0]["resumed"]["writes"]) == 2            # epoch 2's resume + the model


def test_sharded_hit_rates_equal_one_process(two_ranks):
    from ntlib.methods.malicious import evaluate_hits
    _, outs = two_ranks
    s2s, lm = model(), model("lm", seed=1)
    one = distributed.sharded_hits(s2s, lm, targets(), THR, HIT_TYPES, GCFG, block=3)
    assert any(0 < one[ht]["k"] < one[ht]["n"] for ht in HIT_TYPES)   # an informative comparison
    for o in outs:                                       # gathered on every rank
        for ht in HIT_TYPES:
            assert {k: o["hits"][ht][k] for k in ("rate", "k", "n")} == \
                {k: one[ht][k] for k in ("rate", "k", "n")}, ht
            assert torch.equal(o["hits"][ht]["hits"], one[ht]["hits"])
            assert torch.equal(o["hits"][ht]["triggers"], one[ht]["triggers"])
    # one block: exactly malicious.evaluate_hits on the whole list
    whole = distributed.sharded_hits(s2s, lm, targets(), THR, HIT_TYPES, GCFG, block=100)
    ref = evaluate_hits(s2s, lm, targets(), THR, HIT_TYPES, GCFG)
    for ht in HIT_TYPES:
        assert torch.equal(whole[ht]["hits"], ref[ht]["hits"].cpu())
        assert torch.equal(whole[ht]["triggers"], ref[ht]["triggers"].cpu())


def _same_run(a, b):
    assert a["history"] == b["history"] and torch.equal(a["triggers"], b["triggers"])
    assert all(torch.equal(a["state"][k], v) for k, v in b["state"].items())


def test_algorithm1_with_its_searches_sharded_equals_one_process(two_ranks):
    """Issue 31: each mini-batch's search split in blocks across 2 ranks, the triggers gathered, rank 0's
    weights broadcast: both ranks end with the one-process run of the same blocks, exactly; with one block per
    mini-batch that run is negative_train's without blocks."""
    _, outs = two_ranks
    one = _algorithm1(block=2)
    assert sum(h["neg_updates"] for h in one["history"]) > 0 and one["history"][0]["k"] > 0   # it trained
    for o in outs:
        _same_run(o["alg1"], one)
    _same_run(_algorithm1(block=4), _algorithm1(block=None))


def test_shard_and_gather_cover_every_item_once():
    ranks = [distributed.Ranks(r, 3, r, torch.device("cpu")) for r in range(3)]
    parts = [distributed.shard(8, r) for r in ranks]
    assert sorted(i for p in parts for i in p) == list(range(8)) and parts[1] == [1, 4, 7]
    assert distributed.gather({i: i * i for i in range(5)}, None, 5) == [0, 1, 4, 9, 16]
    with pytest.raises(RuntimeError, match="expected 0..4"):
        distributed.gather({0: 0}, None, 5)


def test_a_torchrun_start_without_its_variables_is_an_error_naming_them(monkeypatch):
    """Issue 27: WORLD_SIZE=2 without MASTER_ADDR hung silently (each rank waited on a port of its own)."""
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    with pytest.raises(ValueError, match=r"\$WORLD_SIZE = 2 but \$LOCAL_RANK, \$MASTER_ADDR, \$MASTER_PORT not set.*torchrun"):
        distributed.init("cpu")
    monkeypatch.setenv("RANK", "two")
    with pytest.raises(ValueError, match=r"\$RANK = 'two': must be an integer"):
        distributed.init("cpu")
    monkeypatch.setenv("RANK", "2")
    monkeypatch.setenv("LOCAL_RANK", "0")
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", "1")
    with pytest.raises(ValueError, match=r"\$RANK = 2: must be in \[0, \$WORLD_SIZE = 2\)"):
        distributed.init("cpu")


def test_a_rank_whose_peers_never_come_times_out_with_a_message(monkeypatch):
    """One rank of two started alone: init returns an error naming the address within the timeout."""
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("LOCAL_RANK", "0")
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", str(_free_port()))
    monkeypatch.setenv("NTLIB_DIST_TIMEOUT", "3")
    with pytest.raises(RuntimeError, match=r"rank 0 of 2: could not join the process group at 127\.0\.0\.1:\d+ within 3 s"):
        distributed.init("cpu")
    assert not torch.distributed.is_initialized()
