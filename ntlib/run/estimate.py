"""What a profile costs before it runs: ``python -m ntlib.run.reproduce --profile paper --estimate``.

Times a few steps of every stage on the chosen device at the profile's sizes (vocabulary,
hidden sizes, batch sizes, beam, G candidates, ...) with freshly initialised models, and
extrapolates with the profile's counts; every row prints its formula. Untrained models are
an upper bound for decoding: they seldom emit <eos>, so decoders run to ``max_len``.
On the CPU the slowest units (eval, gibbs-enum, Algorithm 1 and 2, GAN) are timed on fewer
rows than the profile's batches and scaled linearly (CPU matmuls at these sizes are compute
bound), once, without warm-up, so ``paper`` is estimated in about two minutes; on a GPU every
unit is timed at full size after a warm-up call.
gibbs-enum counts every sweep (no early stop, no hit stop) and Algorithm 1 every
``max_neg_updates`` update: upper bounds as well. Counts come from the corpus (``load_dataset``); data that is missing or
corrupt is an error, unless ``nominal=True`` (``--nominal``) asks for Appendix B's counts and
synthetic batches instead (flagged in the output).
On a GPU a gibbs-enum position step is timed as the search runs it: a mini-batch's targets ×
restarts in lock-step, candidate rows in passes of ``gibbs_enum.CUDA_CHUNK_ROWS``.

Notebook 03 is also estimated for N GPUs from its FLOPs (:mod:`ntlib.run.flops`): derived, not measured.
"""
from __future__ import annotations

import copy
import math
import os
import time
from dataclasses import dataclass
from types import SimpleNamespace

import torch

from ntlib.data import dataset
from ntlib.data.dataset import EOS, PAD, load_dataset
from ntlib.machine.device import resolve_device, synchronize
from ntlib.methods import decode, frequent, gan, gibbs_enum, hits, malicious, mmi, triggers
from ntlib.methods.evaluate import LOSSES, evaluate_nll, seq2seq_nll
from ntlib.methods.models import build_model
from ntlib.methods.train import make_optimizer, sgd_step
from ntlib.results.paper import APPENDIX_B
from ntlib.run.config import override
from ntlib.run.flops import EFFICIENCY, H200_PEAK_FLOPS, _flop_targets, count_flops, gpu_estimate, search_flops
from ntlib.run.profiles import get_profile
from ntlib.stages import DEFAULT, waves


@dataclass
class Row:
    notebook: str
    stage: str
    formula: str
    seconds: float


def _timed(fn, device, reps: int = 2, warmup: int = 1) -> float:
    """Best-of-``reps`` seconds of ``fn()`` after ``warmup`` calls (CUDA synchronised)."""
    for _ in range(warmup):
        fn()
    best = math.inf
    for _ in range(reps):
        synchronize(device)
        t0 = time.perf_counter()
        fn()
        synchronize(device)
        best = min(best, time.perf_counter() - t0)
    return best


def _synthetic(profile, n_train: int, n_valid: int, n_test: int, seed: int = 0):
    """Random pairs with the profile's widths (sources 1..15 words left-padded, responses
    1..20 words + <eos>), for timing when the corpus is not found."""
    g = torch.Generator().manual_seed(seed)
    V, S, T = profile.data.vocab_size + 5, profile.data.max_src_len, profile.data.max_tgt_len

    def pairs(n):
        n = min(n, 20_000)                    # timing needs a sample, not the corpus
        src = torch.randint(5, V, (n, S), generator=g)
        src[torch.arange(S).expand(n, S) < S - torch.randint(1, S + 1, (n, 1), generator=g)] = PAD
        tgt = torch.randint(5, V, (n, T + 1), generator=g)
        m = torch.randint(1, T + 1, (n, 1), generator=g)
        pos = torch.arange(T + 1).expand(n, T + 1)
        tgt[pos == m] = EOS
        tgt[pos > m] = PAD
        return dataset.PairTensors(src, tgt)
    vocab = dataset.Vocab([f"w{i}" for i in range(V - 5)])
    return SimpleNamespace(vocab=vocab, train=pairs(n_train), valid=pairs(n_valid), test=pairs(n_test))


def _counts(profile, data_dir, nominal: bool = False):
    """(dataset for timing, counts dict, note) — the real corpus; with ``nominal``, Appendix B's counts
    and synthetic batches instead (a missing or corrupt corpus is otherwise a DataError)."""
    try:
        if nominal:
            raise dataset.DataError("nominal counts asked for")
        ds = load_dataset(profile, data_dir)
        counts = {"train": len(ds.train), "valid": len(ds.valid), "test": len(ds.test)}
        return ds, counts, f"counts from the {profile.data.corpus} corpus"
    except dataset.DataError as e:
        if not nominal:
            raise dataset.DataError(f"--estimate reads the {profile.data.corpus} corpus for its counts: {e}\n"
                              "(--nominal estimates from Appendix B's counts instead)") from e
        b = APPENDIX_B[profile.data.corpus]
        train = b["train_sentences"] - b["train_dialogues"]
        per = train / b["train_dialogues"]
        counts = {"train": train, "valid": int(per * b["valid_dialogues"]), "test": int(per * b["test_dialogues"])}
        if profile.data.max_train_dialogues:
            counts["train"] = int(per * profile.data.max_train_dialogues)
        if profile.data.max_eval_dialogues:
            counts["valid"] = counts["test"] = int(per * profile.data.max_eval_dialogues)
        return (_synthetic(profile, counts["train"], counts["valid"], counts["test"]), counts,
                "data not found: nominal counts from Appendix B, synthetic batches")


def estimate(profile: str = "paper", corpus: str = "switchboard", device: str | None = None,
             data_dir=None, gibbs_targets: int | None = None, nominal: bool = False) -> dict:
    """Measure every stage's unit cost on ``device`` and extrapolate to ``profile``'s counts (the
    corpus's; ``nominal``: Appendix B's, with synthetic batches).

    Returns ``{"rows": [Row], "total": seconds, "device": str, "note": str, "units": {...}}``.
    """
    dev = resolve_device(device)
    P = get_profile(profile, corpus)
    if dev.type == "cpu":
        torch.set_num_threads(int(os.environ.get("NTLIB_THREADS", "1")))   # as the notebooks
    t_start = time.perf_counter()
    ds, n, note = _counts(P, data_dir, nominal)
    V = len(ds.vocab)
    torch.manual_seed(0)
    lm = build_model("lm", V, P.lm).to(dev)
    s2s = build_model("seq2seq", V, P.seq2seq).to(dev)
    gen = torch.Generator().manual_seed(0)
    u = {}                                                              # unit costs, seconds
    gpu = dev.type == "cuda"
    warm = 1 if gpu else 0

    def rows_for(full: int, cpu: int) -> int:
        """Rows to time: the profile's ``full`` on a GPU, at most ``cpu`` on the CPU."""
        return full if gpu else min(full, cpu)

    def batch(pairs, k):
        idx = torch.randint(len(pairs), (k,), generator=gen)
        return dataset.PairTensors(pairs.src[idx].to(dev), pairs.tgt[idx].to(dev))

    # -- training steps (§4.1): one SGD step on a mini-batch of batch_size --------------------
    for kind, model, tcfg in (("lm", lm, P.lm_train), ("seq2seq", s2s, P.train)):
        opt = make_optimizer(model, tcfg)
        b = batch(ds.train, tcfg.batch_size)
        data = b.tgt if kind == "lm" else b

        def step(model=model, opt=opt, data=data, kind=kind, tcfg=tcfg):
            model.train()
            nll, k = LOSSES[kind](model, data)
            sgd_step(model, opt, nll / k, tcfg.clip_norm)
        u[f"{kind}_step"] = _timed(step, dev, reps=2 if gpu else 1)
    ev = ds.valid.subset(slice(0, rows_for(1024, 128)))
    ntok = int((ev.tgt != PAD).sum())
    u["eval_token"] = _timed(lambda: evaluate_nll(s2s, "seq2seq", ev), dev, reps=1, warmup=warm) / ntok
    # -- decoding ----------------------------------------------------------------------
    K, L = P.decode.beam_size, P.decode.max_len
    src = ds.test.src[:256]
    u["greedy_input"] = _timed(lambda: decode.greedy(s2s, src, L), dev, reps=1, warmup=warm) / len(src)
    bsrc = ds.test.src[:rows_for(200, 32)]
    u["beam_input"] = _timed(lambda: decode.beam_search(s2s, bsrc, K, L), dev, reps=1, warmup=warm) / len(bsrc)
    # -- gibbs-enum: one position step (eq. 10 gradient + G candidates scored) per target-restart row;
    # on a GPU a mini-batch's targets × restarts in lock-step, in passes of CUDA_CHUNK_ROWS candidate rows
    g = P.gibbs
    B = gibbs_targets or rows_for(P.malicious.target_batch * g.restarts, 2)
    tgt = ds.test.tgt[torch.arange(B) % len(ds.test)].to(dev)
    x = triggers.random_triggers(B, g.input_len, V, gen).to(dev)
    for io in (False, True):
        lam = g.lambda_in if io else 0.0

        def pos_step(lam=lam):
            cand = gibbs_enum._top_candidates(s2s, lm, x, dataset.trim(tgt), lam, g.input_len // 2, g.candidates)
            gibbs_enum._candidate_losses(s2s, lm, x, dataset.trim(tgt), lam, g.input_len // 2, cand, gibbs_enum.chunk_rows(g, dev))
        s2s.eval(), lm.eval()
        u[f"gibbs_{'io' if io else 'o'}_target_position"] = _timed(pos_step, dev, reps=1, warmup=warm) / B
    flops = search_flops(s2s, lm, g, _flop_targets(P, ds, data_dir, gen).to(dev), gen)
    # -- Algorithm 1: one negative update on hit targets + one λ_POS positive update + hit check
    m = P.malicious
    model = copy.deepcopy(s2s)
    opt = torch.optim.SGD(model.parameters(), lr=m.lr)
    avoid = malicious.fwa_ids(ds.vocab, m.fwa_words).to(dev)
    thr = hits.Thresholds(-4.0, -4.0)
    Bu = rows_for(m.target_batch, 10)         # hit targets of a mini-batch (all hit: upper bound)
    tgt_u = ds.test.tgt[:Bu].to(dev)
    x_u = triggers.random_triggers(len(tgt_u), g.input_len, V, gen).to(dev)
    pb = batch(ds.train, rows_for(m.pos_batch, 16))

    def alg1_negative():
        model.train()
        ys = dataset.trim(tgt_u)
        sgd_step(model, opt, malicious.negative_loss(model(x_u, ys), ys, avoid), m.clip_norm)
        hits.hits(model, lm, x_u, tgt_u, "o_sample_avg", thr)

    def alg1_positive():
        model.train()
        nll, _ = seq2seq_nll(model, pb.src, pb.tgt)
        sgd_step(model, opt, m.lambda_pos * nll / len(pb), m.clip_norm)
    u["alg1_update"] = (_timed(alg1_negative, dev, reps=1, warmup=warm) * m.target_batch / len(tgt_u)
                        + _timed(alg1_positive, dev, reps=1, warmup=warm) * m.pos_batch / len(pb))
    flops["alg1_update"] = (count_flops(alg1_negative, (model, lm)) * m.target_batch / len(tgt_u)
                            + count_flops(alg1_positive, (model,)) * m.pos_batch / len(pb))
    # -- Algorithm 2: one mini-batch (greedy responses, window, eq. 4 step), all rows flagged --
    f = P.frequent
    fb = rows_for(f.batch_size, 16)
    fcfg = override(f, window=1, r_thres=1e-9, log_every=10 ** 9, log_inputs=1, batch_size=fb)
    k = 3 if gpu else 1
    sub = ds.train.subset(slice(0, k * fb))
    t = _timed(lambda: frequent.negative_train(s2s, sub, sub, ds.vocab, override(fcfg, passes=1.0), L,
                                               progress=False), dev, reps=1, warmup=warm)
    u["alg2_batch"] = t / k * f.batch_size / fb
    # -- GAN (App. E): one D pre-training batch, one adversarial round (d_steps_per_g D + 1 G)
    gb = rows_for(P.gan.batch_size, 16)
    gc = override(P.gan, d_pretrain_batches=1, g_batches=1, batch_size=gb)
    G = copy.deepcopy(s2s).eval()
    Dm = gan.Discriminator(V, gc).to(dev)
    scale = P.gan.batch_size / gb
    u["gan_d_batch"] = _timed(lambda: gan.pretrain_discriminator(Dm, G, ds.train, gc, gen, max_len=L,
                                                                 progress=False), dev, reps=1, warmup=warm) * scale
    u["gan_round"] = _timed(lambda: gan.adversarial_training(G, Dm, ds.train, gc, gc.g_lrs[0], gen, L,
                                                             progress=False), dev, reps=1, warmup=warm) * scale
    # -- MMI-antiLM beam (λ > 0 on the first g tokens) ---------------------------------------
    mc = P.mmi
    msrc = ds.valid.src[:rows_for(100, 16)]
    u["mmi_input"] = _timed(lambda: mmi.beam_search_antilm(s2s, lm, msrc, mc.beam_size, L, lam=0.5,
                                                           g=max(mc.gs)), dev, reps=1, warmup=0) / len(msrc)
    measured = time.perf_counter() - t_start

    # -- extrapolation ---------------------------------------------------------------------
    rows = []
    tok = {s: float((getattr(ds, s).tgt != PAD).sum()) / len(getattr(ds, s)) for s in ("train", "valid", "test")}

    def add(nb, stage, formula, seconds):
        rows.append(Row(nb, stage, formula, seconds))
    B = P.baselines                 # seq2seq baselines, each the start of every downstream stage; one LM
    for kind, tcfg, label, copies in (("lm", P.lm_train, "LM", 1), ("seq2seq", P.train, f"seq2seq × {B}", B)):
        E = tcfg.epochs_fixed + tcfg.epochs_halving
        N = min(n["train"], tcfg.max_pairs_per_epoch or n["train"])
        steps = E * math.ceil(N / tcfg.batch_size)
        add("02", f"{label} training", f"{copies} × ({E} epochs × ⌈{N}/{tcfg.batch_size}⌉ steps × "
            f"{u[kind + '_step']:.3g} s + {E} × {n['valid']} valid pairs × {tok['valid']:.1f} tok × "
            f"{u['eval_token']:.2g} s/tok)",
            copies * (steps * u[f"{kind}_step"] + E * n["valid"] * tok["valid"] * u["eval_token"]))
    n_greedy = n["test"] if P.decode.max_eval_inputs is None else min(n["test"], P.decode.max_eval_inputs)
    add("02", "test PPL, greedy, beam", f"{B + 1} × {n['test']} × {tok['test']:.1f} tok × eval + {B} × {n_greedy} "
        f"greedy × {u['greedy_input']:.2g} s + 200 beam-{K} × {u['beam_input']:.2g} s",
        (B + 1) * n["test"] * tok["test"] * u["eval_token"] + B * n_greedy * u["greedy_input"] + 200 * u["beam_input"])
    # 03: list sizes as Table 3 (0.5k / 1k / 2.5k training, 0.5k test), capped by max_targets
    sizes = {"train": 500, "train_1k": 1000, "train_2.5k": 2500, "test": 500}
    copies = {"train": 1, "train_1k": 2, "train_2.5k": 5, "test": 1}
    if m.max_targets is not None:
        sizes = {k: min(v, m.max_targets * copies[k]) for k, v in sizes.items()}
    per_search = g.restarts * g.sweeps * (g.input_len - 1)       # position steps per target (<eou> fixed)
    io_types = [ht for ht in m.hit_types if ht.startswith("io_")]

    def search(N, io):
        return N * per_search * u[f"gibbs_{'io' if io else 'o'}_target_position"]

    def search_flop(N, io):
        f = flops["io" if io else "o"]
        return N * per_search * (f["gradient"] + g.candidates * f["candidate"])
    per_baseline = sum(search_flop(sizes[s], False) + (search_flop(sizes[s], True) if io_types else 0)
                       for s in ("train", "test"))
    jobs = {f"baseline {b + 1} searches": per_baseline for b in range(B)}
    sequential = {}                           # per job, the FLOPs one GPU runs alone: Algorithm 1's updates
    base = sum(search(sizes[s], False) + (search(sizes[s], True) if io_types else 0) for s in ("train", "test"))
    add("03", "baseline hit rates", f"{B} × (train + test targets) × {g.restarts} restarts × {g.sweeps} sweeps × "
        f"{g.input_len - 1} positions × (o {u['gibbs_o_target_position']:.3g} + io "
        f"{u['gibbs_io_target_position']:.3g} s per target-position)", B * base)
    alg1 = after = 0.0
    # every baseline: the lists × hit types; the first: its extra lists; + the warm-start / stop-when-hit
    # ablation and the no-FWA run, both on the 0.5k list
    runs = [(lst, ht) for _ in range(B) for lst in m.lists for ht in m.hit_types]
    runs += [(lst, ht) for lst in m.first_baseline_lists for ht in (m.first_baseline_hit_types or m.hit_types)]
    runs += [("train", m.hit_types[0])] * 2
    for i, (lst, ht) in enumerate(runs):
        N, io = sizes[lst], ht.startswith("io_")
        updates = m.iterations * math.ceil(N / m.target_batch) * m.max_neg_updates
        alg1 += m.iterations * search(N, io) + updates * u["alg1_update"]
        name = f"Algorithm 1 run {i + 1} ({lst}, {ht})"
        sequential[name] = updates * flops["alg1_update"]
        job = m.iterations * search_flop(N, io) + sequential[name]
        if i < len(runs) - 1:                 # the no-FWA run is not re-evaluated
            after += search(sizes["train"], io) + search(sizes["test"], io)
            job += search_flop(sizes["train"], io) + search_flop(sizes["test"], io)
        jobs[name] = job
    add("03", f"Algorithm 1 ({len(runs)} runs)", f"Σ_runs {m.iterations} iterations × (search of the list "
        f"+ ⌈N/{m.target_batch}⌉ × {m.max_neg_updates} updates × {u['alg1_update']:.3g} s)", alg1)
    add("03", "hit rates after Alg. 1, overlap", f"{len(runs) - 1} runs × searches on train + test; 3 × "
        f"{m.overlap_inputs} beam-{K}", after + 3 * m.overlap_inputs * u["beam_input"])
    f_runs = len(f.sweep) * B       # thresholds × baselines
    nb = max(1, math.ceil(f.passes * n["train"] / f.batch_size))
    logs = nb // f.log_every + 2
    add("04", f"Algorithm 2 ({f_runs} runs: thresholds × {B} baselines)", f"{f_runs} × ({nb} batches × {u['alg2_batch']:.3g} s + {logs} logs × "
        f"{f.log_inputs} greedy + test greedy/PPL)",
        f_runs * (nb * u["alg2_batch"] + logs * f.log_inputs * u["greedy_input"] + n_greedy * u["greedy_input"]
                  + n["test"] * tok["test"] * u["eval_token"]))
    gc = P.gan
    nv = n["valid"] if gc.max_valid_inputs is None else min(n["valid"], gc.max_valid_inputs)
    val = nv * (u["greedy_input"] + tok["valid"] * u["eval_token"])
    add("05", f"GAN ({B} baselines)", f"{B} × ({gc.d_pretrain_batches} D batches × {u['gan_d_batch']:.3g} s + {len(gc.g_lrs)} α_G × "
        f"{gc.g_batches} rounds × {u['gan_round']:.3g} s + {len(gc.g_lrs) + 1} validations)",
        B * (gc.d_pretrain_batches * u["gan_d_batch"] + len(gc.g_lrs) * gc.g_batches * u["gan_round"]
        + (len(gc.g_lrs) + 1) * val))
    settings = len([(lam, gg) for lam in mc.lambdas for gg in mc.gs if lam != 0.0 or gg == mc.gs[0]])
    nmv = n["valid"] if mc.max_valid_inputs is None else min(n["valid"], mc.max_valid_inputs)
    nmt = min(c for c in (P.decode.max_eval_inputs, n["test"]) if c)
    add("05", "MMI grid + test", f"{B} × ({settings} settings × {nmv} valid + {nmt} test) inputs × "
        f"{u['mmi_input']:.3g} s", B * (settings * nmv + nmt) * u["mmi_input"])
    total = sum(r.seconds for r in rows)
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"CPU, {torch.get_num_threads()} thread(s)"
    if gpu:
        peaks = {dt: matmul_peak(dev, d) for dt, d in (("fp32", torch.float32), ("bf16", torch.bfloat16))}
        peak_note = f"measured here ({name}, n = 8192 GEMMs)"
    else:
        peaks, peak_note = dict(H200_PEAK_FLOPS), "one H200's, measured in an earlier run (docs/device.md), not here"
    return {"profile": profile, "corpus": corpus, "device": str(dev), "device_name": name, "note": note,
            "counts": n, "units": u, "rows": rows, "total": total, "measured_seconds": measured,
            "flops": {"per_row_position": flops, "jobs": jobs, "peaks": peaks, "peak_note": peak_note,
                      "efficiency": EFFICIENCY, "gpus": gpu_estimate(jobs, peaks),
                      "gpus_sharded": gpu_estimate(jobs, peaks, sequential=sequential)}}


def _hms(s: float) -> str:
    if s < 90:
        return f"{s:.0f} s"
    if s < 5400:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h" if s < 2 * 86400 else f"{s / 86400:.1f} d"


def format_estimate(e: dict) -> str:
    """The estimate as a plain-text table: notebook, stage, expected time, formula."""
    lines = [f"estimate: profile {e['profile']}, corpus {e['corpus']}, on {e['device']} ({e['device_name']}); "
             f"{e['note']} (train {e['counts']['train']}, valid {e['counts']['valid']}, test {e['counts']['test']} pairs); "
             f"measured in {e['measured_seconds']:.0f} s",
             f"{'nb':<3} {'stage':<34} {'expected':>9}  formula"]
    for r in e["rows"]:
        lines.append(f"{r.notebook:<3} {r.stage:<34} {_hms(r.seconds):>9}  {r.formula}")
    by_nb = {}
    for r in e["rows"]:
        by_nb[r.notebook] = by_nb.get(r.notebook, 0.0) + r.seconds
    lines.append("per notebook: " + ", ".join(f"{k} {_hms(v)}" for k, v in by_nb.items()))
    lines.append(f"total expected: {_hms(e['total'])} ({e['total']:.0f} s; upper bounds: untrained "
                 f"decoders run to max_len, every gibbs-enum sweep and Alg. 1 update counted)")
    group = {name[:2] for w in waves(DEFAULT, concurrent=True) if len(w) > 1 for name in w}   # 03, 04, 05
    side = [v for k, v in by_nb.items() if k in group]
    if len(side) > 1:
        rest = sum(v for k, v in by_nb.items() if k not in group)
        lines.append(f"with 03, 04 and 05 side by side (reproduce --concurrent, the default on a GPU): between "
                     f"{_hms(rest + max(side))} (02 and the longest of them, if they do not slow each other) and the "
                     f"total above (if each alone keeps the device busy); not measured")
    return "\n".join(lines + format_gpu_estimate(e["flops"]))


def matmul_peak(device, dtype: torch.dtype, n: int = 8192, reps: int = 5) -> float:
    """A device's matmul FLOP/s in ``dtype``: the best of ``reps`` n×n×n GEMMs (synchronised)."""
    a, b = (torch.randn(n, n, device=device, dtype=dtype) for _ in range(2))
    return 2 * n ** 3 / _timed(lambda: a @ b, device, reps=reps)


def _flop(x: float) -> str:
    for unit, scale in (("EFLOP", 1e18), ("PFLOP", 1e15), ("TFLOP", 1e12), ("GFLOP", 1e9)):
        if x >= scale:
            return f"{x / scale:.3g} {unit}"
    return f"{x / 1e6:.3g} MFLOP"


def format_gpu_estimate(f: dict) -> list[str]:
    """Notebook 03 on N GPUs from its FLOPs (:func:`gpu_estimate`), every assumption on the lines."""
    o, io = f["per_row_position"]["o"], f["per_row_position"]["io"]
    total = sum(f["jobs"].values())
    big = max(f["jobs"], key=f["jobs"].get)
    lines = [f"notebook 03 on N GPUs, derived from FLOPs (not measured on a GPU): {_flop(total)} "
             f"(torch.utils.flop_counter + LSTM cells: per row-position o- {_flop(o['gradient'])} "
             f"gradient + {_flop(o['candidate'])} per candidate, io- {_flop(io['gradient'])} + "
             f"{_flop(io['candidate'])}; Alg. 1 update {_flop(f['per_row_position']['alg1_update'])}); "
             f"{len(f['jobs'])} independent jobs, the largest {big} "
             f"{100 * f['jobs'][big] / total:.0f} %; at {100 * f['efficiency']:.0f} % (assumed) of matmul peaks "
             f"{', '.join(f'{dt} {p / 1e12:.1f} TFLOP/s' for dt, p in f['peaks'].items())} ({f['peak_note']})",
             "  whole jobs: each on one GPU, largest first; sharded: each job's searches split over all N GPUs "
             "(torchrun -m ntlib.machine.distributed hits / malicious), its Algorithm 1 updates on one, jobs in turn",
             "  GPUs  " + "  ".join(f"{'whole ' + dt:>12}" for dt in f["peaks"]) + "  "
             + "  ".join(f"{'sharded ' + dt:>12}" for dt in f["peaks"])]
    for N, by in f["gpus"].items():
        sharded = f.get("gpus_sharded", {}).get(N, {})
        lines.append(f"  {N:>4}  " + "  ".join(f"{_hms(v):>12}" for v in by.values()) + "  "
                     + "  ".join(f"{_hms(v):>12}" for v in sharded.values()))
    return lines
