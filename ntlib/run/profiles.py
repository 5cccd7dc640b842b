"""The named profiles ``smoke | teach | small | paper`` — every stage's config at one size — and
:func:`get_profile`, which adjusts them for a corpus as the paper does (§4.1, §4.2, App. B).
"""
from __future__ import annotations

import dataclasses

from ntlib.run.config import (
    CORPORA,
    DataConfig,
    DecodeConfig,
    FrequentConfig,
    GanConfig,
    GibbsConfig,
    MaliciousConfig,
    MMIConfig,
    ModelConfig,
    Profile,
    TrainConfig,
    override,
)

_SMOKE_MODEL = ModelConfig(emb=16, hidden=32, dropout=0.0)


_TEACH_MODEL = ModelConfig(emb=64, hidden=128, dropout=0.0)    # a few minutes of training: no dropout


_SMALL_MODEL = ModelConfig(emb=128, hidden=256, dropout=0.1)   # ~1 epoch: less dropout


PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        name="smoke", baselines=2,      # two: the across-baseline verdicts run in the tests
        data=DataConfig(vocab_size=500, max_train_dialogues=40, max_eval_dialogues=4),
        lm=_SMOKE_MODEL, seq2seq=_SMOKE_MODEL,
        train=TrainConfig(epochs_fixed=1, epochs_halving=1, max_pairs_per_epoch=1024),
        lm_train=TrainConfig(epochs_fixed=1, epochs_halving=1, max_pairs_per_epoch=1024),
        decode=DecodeConfig(beam_size=3, max_eval_inputs=64),
        gibbs=GibbsConfig(sweeps=1, candidates=8, restarts=1),
        malicious=MaliciousConfig(iterations=1, target_batch=8, max_targets=8, max_neg_updates=2,
                                  overlap_inputs=16, lists=("train",), first_baseline_lists=("train_1k", "train_2.5k")),
        frequent=FrequentConfig(passes=0.1, log_every=5, log_inputs=32, window=3, lr=0.1, momentum=0.0,
                                weight_decay=0.0),
        gan=GanConfig(d_emb=16, d_filters=8, d_highway=32, d_pretrain_batches=5, g_batches=4,
                      g_lrs=(1e-3,), max_valid_inputs=64),
        mmi=MMIConfig(lambdas=(0.0, 0.5), gs=(1,), gammas=(0.0, 1.0), beam_size=3, max_valid_inputs=16),
    ),
    # teaching run (issue 19): every notebook in ≤ 3 min on 2 cores, ``make reproduce PROFILE=teach`` in
    # ≤ 15 min, each effect still visible — an under-trained baseline with a dominant generic response,
    # frequent NT cutting its max-ratio, malicious targets hit and then removed by Algorithm 1. Its
    # numbers are a teaching run's (a Switchboard subset, small models, 1 seed), not the paper's.
    # seq2seq: 2 × 32k pairs (with 2 × 16k it answered "yeah" to all 300 test inputs and its PPL stayed
    # above the LM's); Algorithm 1: 20 targets per list, ≤ 10 negative updates per batch (03's time).
    "teach": Profile(
        name="teach", baselines=1,      # one: each effect shown on one model; its verdicts read inconclusive
        data=DataConfig(vocab_size=2000, max_train_dialogues=400, max_eval_dialogues=20),
        lm=_TEACH_MODEL, seq2seq=_TEACH_MODEL,
        train=TrainConfig(optimizer="adam", lr=3e-3, epochs_fixed=1, epochs_halving=1,
                          max_pairs_per_epoch=32_000),
        lm_train=TrainConfig(optimizer="adam", lr=3e-3, epochs_fixed=1, epochs_halving=1,
                             max_pairs_per_epoch=10_000),
        decode=DecodeConfig(beam_size=5, max_eval_inputs=300),
        gibbs=GibbsConfig(sweeps=1, candidates=10, restarts=1),
        malicious=MaliciousConfig(iterations=2, max_targets=20, max_neg_updates=10, hit_types=("o_sample_avg",),
                                  lists=("train", "train_2.5k"),
                                  overlap_inputs=50),
        frequent=FrequentConfig(passes=0.1, window=20, lr=0.005, log_every=20, log_inputs=200,
                                momentum=0.0, weight_decay=0.0),
        gan=GanConfig(d_emb=64, d_filters=32, d_highway=128, d_pretrain_batches=20, g_batches=10,
                      g_lrs=(1e-2, 1e-3), batch_size=32, max_valid_inputs=200),
        mmi=MMIConfig(lambdas=(0.0, 0.25, 0.5), gs=(1,), gammas=(0.0, 1.0), beam_size=5, max_valid_inputs=100),
    ),
    "small": Profile(
        name="small", baselines=3,      # issue 29: every downstream stage on each of 3 trained baselines
        data=DataConfig(),
        lm=_SMALL_MODEL, seq2seq=_SMALL_MODEL,
        # ≤ 15 min on 2 cores leaves ~1 epoch: SGD (even with momentum) left the seq2seq worse
        # than the LM (test PPL 88 vs 76); Adam reaches that PPL in a quarter of the steps.
        train=TrainConfig(optimizer="adam", lr=2e-3, epochs_fixed=1, epochs_halving=1,
                          max_pairs_per_epoch=90_000),
        lm_train=TrainConfig(optimizer="adam", lr=2e-3, epochs_fixed=1, epochs_halving=1,
                             max_pairs_per_epoch=60_000),
        # one evaluation set for every Table 4 / 9 row: the first 1,000 test inputs (MMI's beam
        # search on all 4,199 would not fit the time budget next to 3 seeds of 04 and 05)
        decode=DecodeConfig(max_eval_inputs=1000),
        # notebook 03: ≥ 100 training + 100 test targets (issue 16: enough to detect the paper's 27.6 % →
        # 13.4 % test-list drop with McNemar), all three lists, both hit types, the ablation and no-FWA runs;
        # search and iterations cut to fit (see notebook 03's timing table): G = 6 candidates costs ~25 % less
        # per search than 10 and found about as many hits on the baseline's 100 + 100 targets at G = 5-10
        # (benchmarks/gibbs_candidates.py)
        gibbs=GibbsConfig(sweeps=1, candidates=6, restarts=1),
        # every baseline: the 0.5k list, both hit types; the first baseline also the 1k / 2.5k lists (o- type)
        malicious=MaliciousConfig(iterations=2, max_targets=100, overlap_inputs=100, lists=("train",),
                                  first_baseline_lists=("train_1k", "train_2.5k"),
                                  first_baseline_hit_types=("o_sample_avg",)),
        # LR 5x the paper's 0.001 so 0.05 passes (≈ 140 mini-batches) show the effect in ≈ 1.5 min
        # plain SGD kept here (momentum 0.9 would multiply the effective LR by 10 on top of the 5x);
        # one run per baseline (≈ 1.5 min of training each per threshold)
        frequent=FrequentConfig(passes=0.05, window=30, lr=0.005, log_every=30, log_inputs=300,
                                momentum=0.0, weight_decay=0.0),
        gan=GanConfig(d_emb=128, d_filters=64, d_highway=256, d_pretrain_batches=50,
                      g_batches=20, batch_size=32, max_valid_inputs=500),
        mmi=MMIConfig(lambdas=(0.0, 0.25, 0.5), gs=(1, 3), max_valid_inputs=200),
    ),
    "paper": Profile(name="paper", baselines=3),
}


def with_seed(p: Profile, seed: int) -> Profile:
    """``p`` with its ``seed`` and the ``seed`` of every stage config that has one set to ``seed`` (training
    init, epoch subsampling and dropout, gibbs-enum restarts, Alg. 1 batches, frequent-NT batches, GAN
    samples): a notebook's ``seed`` parameter reaches every random choice of its stage."""
    seeded = {f.name: override(getattr(p, f.name), seed=seed) for f in dataclasses.fields(p)
              if dataclasses.is_dataclass(getattr(p, f.name))
              and "seed" in {g.name for g in dataclasses.fields(getattr(p, f.name))}}
    return override(p, seed=seed, **seeded)


def baseline_seeds(p: Profile) -> list[int]:
    """The seeds of the profile's independently trained baselines: ``p.seed``, ``p.seed + 1``, …"""
    return [p.seed + k for k in range(p.baselines)]


def baseline_profile(p: Profile, seed: int) -> Profile:
    """The configs of the baseline trained with ``seed`` (one of :func:`baseline_seeds`) and of every stage
    run on it: every seed set to ``seed`` but the LM's, which stays ``p.seed`` (one LM serves all baselines)."""
    if seed not in baseline_seeds(p):
        raise ValueError(f"seed {seed} is not one of the profile's baseline seeds {baseline_seeds(p)}")
    q = with_seed(p, seed)
    return override(q, seed=p.seed, lm_train=override(q.lm_train, seed=p.seed))


def get_profile(name: str = "small", corpus: str = "switchboard", seed: int | None = None) -> Profile:
    """The named preset, adjusted for ``corpus`` as the paper does (§4.1, §4.2, App. B); with
    ``seed``, every stage config's seed set to it (:func:`with_seed`)."""
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; choose one of {sorted(PROFILES)}")
    if corpus not in CORPORA:
        raise ValueError(f"unknown corpus {corpus!r}; choose one of {list(CORPORA)}")
    p = PROFILES[name]
    p = override(p, data=override(p.data, corpus=corpus))
    if corpus == "switchboard":     # Table 4: Switchboard's thresholds are 10 % and 1 % (others 1 % and 0.1 %)
        p = override(p, frequent=override(p.frequent, sweep=(0.10, 0.01)))
    if corpus != "switchboard":
        if name == "paper":     # App. B: 30k vocabulary for Ubuntu / OpenSubtitles
            p = override(p, data=override(p.data, vocab_size=30_000))
        # §4.1: dropout only for Switchboard
        p = override(p, lm=override(p.lm, dropout=0.0), seq2seq=override(p.seq2seq, dropout=0.0))
    if corpus == "opensubtitles":   # §4.1: starting LR 0.1
        p = override(p, train=override(p.train, lr=0.1), lm_train=override(p.lm_train, lr=0.1))
    if corpus == "ubuntu":          # §4.2: lambda_POS 0.1; Table 3 uses -min hit types
        p = override(p, malicious=override(p.malicious, lambda_pos=0.1,
                                           hit_types=("o_sample_min", "io_sample_min")))
    if corpus == "opensubtitles":
        p = override(p, malicious=override(p.malicious, hit_types=("o_sample_min", "io_sample_min")))
    return p if seed is None else with_seed(p, seed)
