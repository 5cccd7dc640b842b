"""Several processes / GPUs with torchrun: DistributedDataParallel baselines and sharded hit rates.

``torchrun --nproc_per_node N -m ntlib.machine.distributed train --profile P --corpus C`` trains the
baseline LM and seq2seq of §4.1 (what ``pipeline.baselines`` trains, into the same run folder)
with DistributedDataParallel: ``gloo`` on the CPU, ``nccl`` on CUDA with one GPU per rank
(``cuda:LOCAL_RANK``). Every rank draws the same mini-batch indices (``train.epoch_batches``
from the same generator) and takes its share (rows ``rank::N``) of each global mini-batch, so
the global batch is the one-process batch. The loss is scaled so that DDP's gradient average
equals the one-process gradient of the per-token mean NLL: each rank backpropagates
``N · nll_rank / n_global`` (``n_global``: the batch's token count, all-reduced), DDP divides
the summed gradient by N. Rank 0 alone writes the checkpoints (atomically, ``train.fit``'s
resume checkpoint after every epoch, then the model) and prints; a killed run, started again,
resumes from its last epoch on every rank (each rank's dropout RNG state is kept in the resume
file). Validation is sharded and summed. The epoch's train loss is the whole batch's (averaged
over ranks); the progress bar's running loss is rank 0's estimate ``N · nll_0 / n_global``.
With dropout, rank r > 0 draws its own masks, so an N-rank model equals the one-process model
in distribution only; without dropout, up to float summation order.

``torchrun --nproc_per_node N -m ntlib.machine.distributed hits --profile P --corpus C --list test``
measures the baselines' hit rates (§3.2) of a target list with the targets split across ranks
(:func:`sharded_hits`) and gathered on rank 0. The search is cut into blocks of ``--block``
targets (§4.2's mini-batch of 100 targets by default); block ``b`` is searched by gibbs-enum
with seed ``GibbsConfig.seed + b`` whichever rank runs it, so the gathered result is the same
for every N, the one-process run included; with one block (``--block`` ≥ the list) it is
``malicious.evaluate_hits`` exactly.

``torchrun --nproc_per_node N -m ntlib.machine.distributed malicious --profile P --corpus C --list train``
runs Algorithm 1 on the first baseline with its searches sharded (issue 31): every mini-batch of targets
is searched in blocks of ``--block`` targets split across the ranks, the triggers gathered, the same
updates taken on every rank and rank 0's weights broadcast (:func:`ntlib.methods.malicious.negative_train`
with ``ranks``); the model updates stay sequential over the mini-batches, as Algorithm 1's are. For a
given ``--block`` the result does not depend on N; with one block per mini-batch it is the one-process
run's exactly. Rank 0 writes the model and its history to ``--out``.

Tested on 2 CPU processes with gloo in tests/system/test_distributed.py.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from ntlib.data.dataset import load_dataset
from ntlib.data.targets import load_targets
from ntlib.machine.device import resolve_device, to_device
from ntlib.machine.sharding import gather, shard
from ntlib.methods.evaluate import evaluate_nll, take
from ntlib.methods.gibbs_enum import gibbs_enum
from ntlib.methods.hits import hit_rate, hits, thresholds
from ntlib.methods.malicious import negative_train
from ntlib.methods.models import build_model
from ntlib.methods.train import fit, load_model, save_model
from ntlib.methods.triggers import is_io
from ntlib.results.reports import clean_stale_tmp, run_lock, write_json
from ntlib.run.config import override
from ntlib.run.pipeline import baseline_jobs, baselines_run_dir
from ntlib.run.profiles import baseline_profile, get_profile


# -- this process's place among the ranks -----------------------------------------------
@dataclass
class Ranks:
    """Rank, world size and device of this process in an initialised process group."""
    rank: int
    world: int
    local_rank: int
    device: torch.device

    @property
    def writer(self) -> bool:
        """Rank 0 alone writes checkpoints and reports."""
        return self.rank == 0

    # -- collectives (tensors live on ``device``: nccl reduces CUDA tensors only) --
    def all_sum(self, values) -> list[float]:
        t = torch.tensor([float(v) for v in values], dtype=torch.float64, device=self.device)
        dist.all_reduce(t)
        return t.tolist()

    def all_gather(self, obj) -> list:
        out = [None] * self.world
        dist.all_gather_object(out, obj)
        return out

    def broadcast_state(self, model: nn.Module, generator: torch.Generator, values=()) -> tuple:
        """Rank 0's weights (every tensor of the state dict, in place), ``generator`` state and ``values``
        on every rank; returns the values. Algorithm 1 after each mini-batch's updates
        (:func:`ntlib.methods.malicious.negative_train`)."""
        for t in model.state_dict().values():
            dist.broadcast(t, src=0)
        box = [generator.get_state(), tuple(values)]
        dist.broadcast_object_list(box, src=0, device=self.device if self.device.type == "cuda" else None)
        generator.set_state(box[0])
        return box[1]

    def barrier(self) -> None:
        dist.barrier(device_ids=[self.device.index]) if self.device.type == "cuda" else dist.barrier()

    # -- training hooks of train.fit --
    def loss_fn(self, model: nn.Module, loss_fn):
        """``loss_fn(model, batch) -> (summed NLL, tokens)`` through DDP: returns
        ``(world · nll_rank, n_global)``, so fit's ``nll / n`` is ``world · nll_rank / n_global``
        and DDP's average of the ranks' gradients is the gradient of the global per-token mean.
        A batch arrives as ``(rows, real)`` from :meth:`batches`; ``real=False`` (a rank with no
        row of a batch smaller than the world) contributes a zero gradient."""
        ddp = DistributedDataParallel(
            _Loss(model, loss_fn), device_ids=[self.device.index] if self.device.type == "cuda" else None)

        def distributed_loss(_model, item):
            batch, real = item
            nll, n = ddp(batch)
            if not real:
                nll, n = nll * 0.0, 0
            n_global = int(self.all_sum([n])[0])
            return nll * self.world, n_global
        return distributed_loss

    def batches(self, data, index, dev):
        """This rank's share (rows ``rank::world``) of each global mini-batch, as ``(rows, real)``."""
        for idx in index:
            share = idx[self.rank::self.world]
            real = len(share) > 0
            yield to_device(take(data, share if real else idx[:1]), dev), real

    def epoch_stats(self, stats: dict) -> dict:
        """The epoch's train loss over the whole data: each rank's ``loss`` is
        Σ world·nll_rank / Σ n_global, so their mean is Σ nll / Σ n."""
        loss, seconds = self.all_sum([stats["loss"], stats["seconds"]])
        return {**stats, "loss": loss / self.world, "seconds": seconds / self.world}

    def evaluate_nll(self, model, kind, data) -> tuple[float, int]:
        """``evaluate.evaluate_nll`` of this rank's rows ``rank::world``, summed over ranks."""
        rows = torch.arange(len(data.tgt) if hasattr(data, "tgt") else len(data))[self.rank::self.world]
        nll, n = self.all_sum(evaluate_nll(model, kind, take(data, rows)))
        return nll, int(n)

    def rng_states(self) -> list:
        """Every rank's torch (and CUDA) RNG state, gathered (a collective)."""
        mine = {"torch": torch.get_rng_state()}
        if self.device.type == "cuda":
            mine["cuda"] = torch.cuda.get_rng_state(self.device)
        return self.all_gather(mine)

    def set_rng_states(self, state: dict, path) -> None:
        """Continue this rank's dropout stream from a resume checkpoint."""
        states = state.get("rank_rng_states")
        if not states or len(states) != self.world:
            if self.writer:
                warnings.warn(f"{path}: written by {len(states or [])} rank(s), resumed by "
                              f"{self.world}: the same global batches continue, the dropout "
                              f"masks do not (each rank reseeds)", stacklevel=2)
            return
        torch.set_rng_state(states[self.rank]["torch"])
        if self.device.type == "cuda" and "cuda" in states[self.rank]:
            torch.cuda.set_rng_state(states[self.rank]["cuda"], self.device)

    def fork_rng(self, seed: int) -> None:
        """Rank r > 0 draws its dropout masks from its own stream (rank 0 keeps the one-process
        stream, so N = 1 is exactly ``pipeline.baselines``)."""
        if self.rank:
            torch.manual_seed(seed * 1_000_003 + self.rank)


class _Loss(nn.Module):
    """The module DDP wraps: forward = the loss, so the models' own methods run under DDP."""

    def __init__(self, model: nn.Module, loss_fn):
        super().__init__()
        self.model, self.loss_fn = model, loss_fn

    def forward(self, batch):
        return self.loss_fn(self.model, batch)


def init(device: str | None = None, backend: str | None = None) -> Ranks:
    """Join the process group torchrun describes (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
    ``MASTER_ADDR``/``MASTER_PORT``); without torchrun, a group of one. ``device``: ``auto``
    (CUDA when present) / ``cpu`` / ``cuda``: on CUDA each rank takes ``cuda:LOCAL_RANK`` and the
    backend is ``nccl``, on the CPU ``gloo``."""
    env = os.environ
    rank, world, local = _launch_variables(env)
    dev = resolve_device(device)
    if dev.type == "cuda":
        if local >= torch.cuda.device_count():
            raise ValueError(f"LOCAL_RANK {local}: this machine has {torch.cuda.device_count()} "
                             f"CUDA device(s); use --nproc_per_node ≤ that, or --device cpu")
        dev = torch.device("cuda", local)
        torch.cuda.set_device(dev)
    if not dist.is_initialized():
        if "MASTER_ADDR" not in env:
            env.setdefault("MASTER_ADDR", "127.0.0.1")
            env.setdefault("MASTER_PORT", str(_free_port()))
        timeout = float(env.get("NTLIB_DIST_TIMEOUT", "300"))
        try:
            dist.init_process_group(backend or ("nccl" if dev.type == "cuda" else "gloo"),
                                    rank=rank, world_size=world, timeout=timedelta(seconds=timeout),
                                    **({"device_id": dev} if dev.type == "cuda" else {}))
        except (RuntimeError, TimeoutError, ValueError) as e:     # the rendezvous timed out or failed
            raise RuntimeError(f"rank {rank} of {world}: could not join the process group at "
                               f"{env.get('MASTER_ADDR')}:{env.get('MASTER_PORT')} within {timeout:g} s "
                               f"($NTLIB_DIST_TIMEOUT): are all {world} ranks started (torchrun --nproc_per_node "
                               f"{world}) with the same MASTER_ADDR / MASTER_PORT? ({type(e).__name__}: {e})") from e
    return Ranks(dist.get_rank(), dist.get_world_size(), local, dev)


LAUNCH_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


def _launch_variables(env) -> tuple[int, int, int]:
    """(rank, world size, local rank) from torchrun's variables, checked: a group of several ranks
    needs all of them (with WORLD_SIZE = 2 and no MASTER_ADDR each rank waited for the others on a
    port of its own, for ever); a variable that is no integer, or a rank outside the world, is named."""
    values = {}
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        if env.get(name) is not None:
            try:
                values[name] = int(env[name])
            except ValueError:
                raise ValueError(f"${name} = {env[name]!r}: must be an integer (as torchrun sets it)") from None
    world = values.get("WORLD_SIZE", 1)
    if world < 1:
        raise ValueError(f"$WORLD_SIZE = {world}: must be ≥ 1")
    if world > 1:
        missing = [v for v in LAUNCH_VARIABLES if not env.get(v)]
        if missing:
            raise ValueError(f"$WORLD_SIZE = {world} but {', '.join('$' + m for m in missing)} not set: start the "
                             f"ranks with torchrun (torchrun --nproc_per_node {world} -m ntlib.machine.distributed ...), "
                             "which sets all of " + ", ".join(LAUNCH_VARIABLES))
    rank = values.get("RANK", 0)
    if not 0 <= rank < world:
        raise ValueError(f"$RANK = {rank}: must be in [0, $WORLD_SIZE = {world})")
    return rank, world, values.get("LOCAL_RANK", rank)


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def shutdown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


# -- sharded hit rates (the items split and gathered by ntlib.machine.sharding) ------------
def sharded_hits(seq2seq, lm, targets: torch.Tensor, thr, hit_types, gcfg, block: int = 100,
                 ranks: Ranks | None = None, progress: bool = False) -> dict:
    """Hit rates (Wilson 95 %) of ``targets`` ``(N, T)``, blocks of ``block`` targets split
    across ranks and gathered: ``{hit_type: {rate, lo, hi, k, n, hits, triggers}}`` (on every
    rank, tensors on the CPU) as ``malicious.evaluate_hits`` returns.

    Block ``b`` gets one gibbs-enum per search kind (o-: λ_in = 0, random start; io-: λ_in from
    ``gcfg``, LM-sample start; ``stop_when_hit`` off) seeded ``gcfg.seed + b``: the result does
    not depend on the number of ranks, and with one block it is ``evaluate_hits``'s."""
    if block < 1:
        raise ValueError(f"block must be ≥ 1 target, not {block}")
    starts = list(range(0, len(targets), block))
    local = {}
    for b in shard(len(starts), ranks):
        rows = targets[starts[b]:starts[b] + block]
        searches, out = {}, {}
        for ht in hit_types:
            io = is_io(ht)
            if io not in searches:
                g = override(gcfg, lambda_in=gcfg.lambda_in if io else 0.0, stop_when_hit=False,
                             seed=gcfg.seed + b)
                searches[io] = gibbs_enum(seq2seq, rows, g, lm=lm, io=io, progress=progress)
            out[ht] = (hits(seq2seq, lm, searches[io].triggers, rows, ht, thr).cpu(),
                       searches[io].triggers.cpu())
        local[b] = out
    blocks = gather(local, ranks, len(starts))
    result = {}
    for ht in hit_types:
        h = torch.cat([blk[ht][0] for blk in blocks]) if blocks else torch.zeros(0, dtype=torch.bool)
        x = (torch.cat([blk[ht][1] for blk in blocks]) if blocks
             else torch.zeros(0, gcfg.input_len, dtype=torch.long))
        result[ht] = {**hit_rate(h), "hits": h, "triggers": x}
    return result


# -- the torchrun entries ---------------------------------------------------------------
def train_baselines(profile, ranks: Ranks, kinds=("lm", "seq2seq"), run_root="runs",
                    data_dir=None, bf16: bool = False) -> Path:
    """Train the baseline of ``pipeline.baselines`` (the LM and the seq2seq of ``profile``'s seed) into its
    run folders with DDP; returns the seq2seq's folder. A kind whose checkpoint exists is skipped; an
    interrupted kind resumes."""
    data = load_dataset(profile, data_dir)
    for kind, mcfg, tcfg, train, valid, path in baseline_jobs(profile, data, run_root, data_dir, bf16):
        if kind not in kinds or path.exists():
            if ranks.writer and kind in kinds:
                print(f"{kind}: {path} exists, not retrained", flush=True)
            continue
        lock = run_lock(path.parent, wait=True, what=f"{kind} training") if ranks.writer else None
        if lock is not None:
            lock.__enter__()
            clean_stale_tmp(path.parent)
        ranks.barrier()
        try:
            torch.manual_seed(tcfg.seed)
            model = build_model(kind, len(data.vocab), mcfg)       # the same weights on every rank
            ranks.fork_rng(tcfg.seed)
            fit(model, kind, train, valid, tcfg, path, progress=ranks.writer, device=ranks.device,
                bf16=bf16, ranks=ranks)
            if ranks.writer:
                write_json({"kind": kind, "world_size": ranks.world,
                            "backend": dist.get_backend(), "device": ranks.device.type},
                           path.parent / f"{kind}.distributed.json")
        finally:
            if lock is not None:
                lock.__exit__(*sys.exc_info())
        ranks.barrier()
    return baselines_run_dir(profile, run_root, data_dir, bf16)


def _profile(args):
    """The first baseline of the profile whose first seed is ``--seed`` (default: the profile's)."""
    p = get_profile(args.profile, args.corpus, seed=args.seed)
    return baseline_profile(p, p.seed)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="torchrun --nproc_per_node N -m ntlib.machine.distributed",
                                     description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("train", "hits", "malicious"):
        p = sub.add_parser(name)
        p.add_argument("--profile", default="small")
        p.add_argument("--corpus", default="switchboard")
        p.add_argument("--seed", type=int, default=None)
        p.add_argument("--run-root", default="runs")
        p.add_argument("--data-dir", default=None)
        p.add_argument("--device", default=None, help="auto (default, $NTLIB_DEVICE) / cpu / cuda")
        p.add_argument("--bf16", action="store_true")
    sub.choices["train"].add_argument("--kind", choices=("lm", "seq2seq", "both"), default="both")
    hp = sub.choices["hits"]
    hp.add_argument("--list", default="test", help="target list: train / train_1k / train_2.5k / test")
    hp.add_argument("--hit-types", default=None, help="comma-separated (default: o_greedy + the profile's)")
    hp.add_argument("--block", type=int, default=None, help="targets per search block "
                    "(default: MaliciousConfig.target_batch)")
    hp.add_argument("--out", default=None, help="JSON file rank 0 writes the hit rates to")
    mp = sub.choices["malicious"]
    mp.add_argument("--list", default="train", help="training target list: train / train_1k / train_2.5k")
    mp.add_argument("--hit-type", default=None, help="the criterion trained against (default: the profile's first)")
    mp.add_argument("--block", type=int, default=None, help="targets per search block (default: "
                    "⌈MaliciousConfig.target_batch / N⌉, one block per rank; the result depends on it, not on N)")
    mp.add_argument("--out", default=None, help="folder rank 0 writes model.pt and history.json to")
    args = parser.parse_args(argv)
    profile = _profile(args)
    ranks = init(args.device)
    try:
        if args.command == "train":
            kinds = ("lm", "seq2seq") if args.kind == "both" else (args.kind,)
            run_dir = train_baselines(profile, ranks, kinds, args.run_root, args.data_dir, args.bf16)
            if ranks.writer:
                print(f"trained on {ranks.world} rank(s) ({dist.get_backend()}): {run_dir}", flush=True)
        elif args.command == "hits":
            _hits_entry(args, profile, ranks)
        else:
            _malicious_entry(args, profile, ranks)
    finally:
        shutdown()
    return 0


def _baselines(args, profile, ranks: Ranks):
    """The first baseline's data, LM, seq2seq (on this rank's device), thresholds and ``--list`` targets."""
    data = load_dataset(profile, args.data_dir)
    paths = {kind: path for kind, *_, path in baseline_jobs(profile, data, args.run_root, args.data_dir, args.bf16)}
    missing = [str(p) for p in paths.values() if not p.exists()]
    if missing:
        raise FileNotFoundError(f"no trained baselines: {missing} missing; train them first "
                                f"(torchrun ... -m ntlib.machine.distributed train --profile {args.profile} "
                                f"--corpus {args.corpus})")
    lm, seq2seq = (load_model(paths[k], ranks.device).eval() for k in ("lm", "seq2seq"))
    targets = load_targets(args.list, data.vocab, args.data_dir, max_targets=profile.malicious.max_targets,
                           seed=args.seed if args.seed is not None else 1,
                           max_len=profile.data.max_tgt_len).tensor
    return data, lm, seq2seq, thresholds(seq2seq, lm, data.test), targets


def _malicious_entry(args, profile, ranks: Ranks) -> None:
    data, lm, seq2seq, thr, targets = _baselines(args, profile, ranks)
    mcfg = profile.malicious
    ht = args.hit_type or mcfg.hit_types[0]
    block = args.block or -(-mcfg.target_batch // ranks.world)
    t0 = time.time()
    res = negative_train(seq2seq, lm, targets, data.train, thr, ht, data.vocab, mcfg, profile.gibbs,
                         progress=ranks.writer, block=block, ranks=ranks)
    seconds = time.time() - t0
    if ranks.writer:
        for h in res.history:
            print(f"iteration {h['iteration']}: {100 * h['rate']:5.1f}% hit ({h['k']}/{h['n']}) before its "
                  f"updates, {h['neg_updates']} negative target updates, {h['seconds']:.1f} s", flush=True)
        print(f"Algorithm 1 on {ranks.world} rank(s), blocks of {block}: {seconds:.1f} s", flush=True)
        if args.out:
            out = Path(args.out)
            save_model(res.model, "seq2seq", out / "model.pt")
            write_json({"list": args.list, "hit_type": ht, "profile": args.profile, "corpus": args.corpus,
                        "world_size": ranks.world, "block": block, "seconds": seconds,
                        "thresholds": {"t_out": thr.t_out, "t_in": thr.t_in}, "history": res.history},
                       out / "history.json")


def _hits_entry(args, profile, ranks: Ranks) -> None:
    data, lm, seq2seq, thr, targets = _baselines(args, profile, ranks)
    mcfg = profile.malicious
    hit_types = (tuple(args.hit_types.split(",")) if args.hit_types
                 else ("o_greedy",) + tuple(mcfg.hit_types))
    res = sharded_hits(seq2seq, lm, targets, thr, hit_types, profile.gibbs,
                       args.block or mcfg.target_batch, ranks)
    if ranks.writer:
        rows = {ht: {k: r[k] for k in ("rate", "lo", "hi", "k", "n")} for ht, r in res.items()}
        for ht, r in rows.items():
            print(f"{ht:14s} {100 * r['rate']:5.1f}% [{100 * r['lo']:.1f}, {100 * r['hi']:.1f}] "
                  f"({r['k']}/{r['n']})", flush=True)
        if args.out:
            write_json({"list": args.list, "profile": args.profile, "corpus": args.corpus,
                        "world_size": ranks.world, "thresholds": {"t_out": thr.t_out, "t_in": thr.t_in},
                        "hit_rates": rows}, args.out)


if __name__ == "__main__":
    sys.exit(main())
