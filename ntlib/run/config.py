"""Stage configurations: one frozen dataclass per stage, each stage receiving only its own.

Defaults are the paper's values (He & Glass 2020, §4 and Appendices A, B, E) with the section on the
line; the named sizes are :mod:`ntlib.run.profiles`. ``override(cfg, **fields)`` changes fields and
names the field when one does not exist. Every field of every config is checked where the config is
built (``_RULES`` of each class, from :mod:`ntlib.run.rules`); a bad value is a :class:`ConfigError`
naming the class, the field, the value and what is allowed. Nothing here is ever exec'd or eval'd.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field

from ntlib.methods.negative_losses import NEGATIVE_LOSSES
from ntlib.run.rules import (
    LR,
    MAX_BEAM,
    MIN_VOCAB_WORDS,
    SEED,
    Checked,
    ConfigError,
    boolean,
    choice,
    integer,
    is_int,
    number,
    registered,
    text,
    tuple_of,
)

CORPORA = ("switchboard", "dailydialog", "ubuntu", "opensubtitles")
TRAINING_LISTS = ("train", "train_1k", "train_2.5k")   # malicious target lists (§4.2, Table 3)
# hit criteria of §3.2 (ntlib.methods.hits.hits)
HIT_TYPES = ("o_greedy", "o_sample_min", "o_sample_avg", "io_sample_min", "io_sample_avg")
NEGATIVE_LOSS = registered(NEGATIVE_LOSSES, "negative loss (ntlib.methods.negative_losses)")
R_THRES = number(0, 1, lo_open=True, hi_open=True, why=" (a share of the responses: 1 would flag none)")


@dataclass(frozen=True)
class DataConfig(Checked):
    corpus: str = "switchboard"
    context_utterances: int = 1       # official SwDA code: the previous utterance only
    max_src_len: int = 15             # App. B: input cropped (left) to 15 tokens
    max_tgt_len: int = 20             # App. B: output cropped to 20 tokens (+ <eos>)
    vocab_size: int = 10_000          # App. B: 10k Switchboard, 30k Ubuntu/OpenSubtitles
    vocab_file: str | None = None     # "official" = the authors' vocab_h10k.txt, or a path
    max_train_dialogues: int | None = None   # subsample (smoke/small); None = all
    max_eval_dialogues: int | None = None    # subsample valid/test; None = all

    _RULES = dict(corpus=choice(CORPORA), context_utterances=integer(1), max_src_len=integer(1),
                  max_tgt_len=integer(1), vocab_size=integer(MIN_VOCAB_WORDS), vocab_file=text(none=True),
                  max_train_dialogues=integer(1, none=True), max_eval_dialogues=integer(1, none=True))


@dataclass(frozen=True)
class ModelConfig(Checked):
    emb: int = 300          # §4.1
    hidden: int = 600       # §4.1: one hidden layer of size 600
    dropout: float = 0.3    # §4.1: Switchboard only (over-fitting); 0 for the others

    _RULES = dict(emb=integer(1), hidden=integer(1),
                  dropout=lambda v: None if (is_int(v) or isinstance(v, float)) and 0 <= v < 1
                  else "must be a probability in [0, 1) (1 drops every unit)")


@dataclass(frozen=True)
class TrainConfig(Checked):
    batch_size: int = 64            # §4.1
    lr: float = 1.0                 # §4.1: 1 for Ubuntu/Switchboard, 0.1 for OpenSubtitles
    epochs_fixed: int = 10          # §4.1: 10 iterations at the starting LR ...
    epochs_halving: int = 10        # §4.1: ... then 10 with LR halving
    clip_norm: float = 5.0          # gradient-norm clipping: authors' code, clip_grad_norm_(·, 5)
    momentum: float = 0.0           # §4.1 "SGD" (authors' code: 0.9; diverged for our seq2seq at LR 1)
    optimizer: str = "sgd"          # §4.1 SGD; "adam" lets the short `small` runs converge
    max_pairs_per_epoch: int | None = None   # subsample each epoch (small/smoke)
    seed: int = 1

    _RULES = dict(batch_size=integer(1), lr=LR, epochs_fixed=integer(0), epochs_halving=integer(0),
                  clip_norm=number(0, lo_open=True), momentum=number(0, 1), optimizer=choice(("sgd", "adam")),
                  max_pairs_per_epoch=integer(1, none=True), seed=SEED)

    def _check(self):
        if self.epochs_fixed + self.epochs_halving == 0:
            raise ConfigError("TrainConfig.epochs_fixed + epochs_halving = 0: at least one epoch "
                              "is needed (0 would save an untrained model)")


@dataclass(frozen=True)
class DecodeConfig(Checked):
    """Evaluation decoding, for every stage: the one home of ``max_len`` (stages pass it on)."""
    max_len: int = 20               # App. B: output ≤ 20 tokens
    beam_size: int = 10             # §4.2: 10-best lists
    temperature: float = 1.0
    max_eval_inputs: int | None = None   # Table 4 / 9: every row of 02, 04 and 05 (MMI's beam too) is scored
                                         # on N test pairs spread over every test dialogue (None: all pairs)

    _RULES = dict(max_len=integer(1), beam_size=integer(1, MAX_BEAM), temperature=number(0, lo_open=True),
                  max_eval_inputs=integer(1, none=True))


@dataclass(frozen=True)
class GibbsConfig(Checked):
    input_len: int = 15             # App. A: trigger length n = max input length, the last fixed to <eou> (authors' code)
    sweeps: int = 5                 # App. A: T
    candidates: int = 100           # App. A: G
    restarts: int = 5               # App. A: 5 random initialisations, best kept
    lambda_in: float = 1.0          # App. A eq. 7: 1 for io- hit types, else 0
    stop_when_hit: bool = False     # Alg. 1 ablation: a target's search stops at its first hit (paper: full sweeps)
    chunk_size: int = 128           # max (targets × candidates) rows in one forward pass (fastest on CPU)
    seed: int = 1

    _RULES = dict(input_len=integer(2), sweeps=integer(1), candidates=integer(1), restarts=integer(1),
                  lambda_in=number(0), stop_when_hit=boolean, chunk_size=integer(1), seed=SEED)


@dataclass(frozen=True)
class MaliciousConfig(Checked):
    iterations: int = 20            # §4.2: 20 iterations over the training target list
    target_batch: int = 100         # §4.2: mini-batch of 100 targets
    lr: float = 0.01                # §4.2: fixed learning rate 0.01
    lambda_pos: float = 1.0         # §4.2: 0.1 Ubuntu, 1 Switchboard/OpenSubtitles
    max_neg_updates: int = 21       # bound on the Alg. 1 while-loop per batch (authors' code: co_now > 20 ends it)
    miss_weight: float = 0.01       # authors' code (get_decay_co): a target no longer hit still weighs 0.01
    momentum: float = 0.9           # authors' code: SGD(momentum=0.9, weight_decay=1e-5), one for the negative,
    weight_decay: float = 1e-5      # one for the positive steps, both made anew every iteration
    warm_start: bool = False        # Alg. 1 ablation: start each search from the last iteration's trigger
    fwa: bool = True                # §4.2 frequent word avoiding
    fwa_words: tuple[str, ...] = ("<eos>", "you", "i", "me", "are", "to", "do")   # footnote 9
    hit_types: tuple[str, ...] = ("o_sample_avg", "io_sample_avg")   # Table 3, Switchboard
    max_targets: int | None = None  # subsample target lists (small/smoke)
    lists: tuple[str, ...] = TRAINING_LISTS   # Table 3: 0.5k / 1k / 2.5k training lists, on every baseline
    first_baseline_lists: tuple[str, ...] = ()     # more lists, trained on the first baseline only (time: small)
    first_baseline_hit_types: tuple[str, ...] | None = None   # their hit types (None: hit_types)
    pos_batch: int = 100            # positive update batch: the authors' code draws ADV_BATCH_SIZE = 100 pairs
    clip_norm: float | None = 5.0   # as baseline training (authors' code clips; value assumed)
    overlap_inputs: int = 500       # test inputs for the §4.2 10-best overlap check (count assumed)
    negative_loss: str = "nll"      # the negative step's loss (ntlib.methods.negative_losses); eq. 3's log-likelihood
    seed: int = 1

    _RULES = dict(iterations=integer(1), target_batch=integer(1), lr=LR, lambda_pos=number(0),
                  max_neg_updates=integer(1), miss_weight=number(0, 1), momentum=number(0, 1, why=" (SGD momentum)"),
                  weight_decay=number(0), warm_start=boolean, fwa=boolean, fwa_words=tuple_of(text(), nonempty=False),
                  hit_types=tuple_of(choice(HIT_TYPES)), max_targets=integer(1, none=True),
                  lists=tuple_of(choice(TRAINING_LISTS)), first_baseline_lists=tuple_of(choice(TRAINING_LISTS), nonempty=False),
                  first_baseline_hit_types=tuple_of(choice(HIT_TYPES), none=True), pos_batch=integer(1),
                  clip_norm=number(0, lo_open=True, none=True), overlap_inputs=integer(1),
                  negative_loss=NEGATIVE_LOSS, seed=SEED)


@dataclass(frozen=True)
class FrequentConfig(Checked):
    r_thres: float = 0.01           # §4.3: the threshold of one run
    sweep: tuple[float, ...] = (0.01, 0.001)   # Table 4's thresholds (§4.3; Switchboard: 10 % and 1 %, profiles)
    window: int = 200               # §3.3: current + last 200 mini-batches
    lr: float = 0.001               # §4.3: fixed LR 0.001
    batch_size: int = 64            # §4.3
    lambda_pos: float = 1.0         # §4.3
    eos_scale: float = 0.1          # §4.3: negative gradient of <eos> scaled by 0.1
    clip_norm: float = 5.0          # gradient-norm clipping, as the authors' code (clip 5)
    momentum: float = 0.9           # authors' code: two SGD optimisers (negative, positive), momentum 0.9,
    weight_decay: float = 1e-5      # weight decay 1e-5
    separate_positive: bool = True  # authors' code: the positive step takes the next batch of a second stream
    passes: float = 20              # §4.3: 20 iterations over the training data
    negative_loss: str = "nll"      # registered negative loss (ntlib.methods.negative_losses); eq. 3's log-likelihood
    log_every: int = 200            # batches between max-ratio / Ent-3 logs
    log_inputs: int = 500           # validation inputs decoded at each log
    seed: int = 1

    _RULES = dict(r_thres=R_THRES, sweep=tuple_of(R_THRES), window=integer(1), lr=LR, batch_size=integer(1),
                  lambda_pos=number(0), eos_scale=number(0), clip_norm=number(0, lo_open=True), momentum=number(0, 1),
                  weight_decay=number(0), separate_positive=boolean, passes=number(0, lo_open=True),
                  negative_loss=NEGATIVE_LOSS, log_every=integer(1), log_inputs=integer(1), seed=SEED)


@dataclass(frozen=True)
class GanConfig(Checked):
    d_emb: int = 300                # App. E: embeddings as in §2
    d_filters: int = 300            # App. E: 300 filters per width
    d_widths: tuple[int, ...] = (3, 4, 5, 6)   # App. E
    d_highway_layers: int = 3       # App. E
    d_highway: int = 2000           # App. E: hidden size 2000
    d_lr: float = 0.01              # App. E
    g_lrs: tuple[float, ...] = (1e-2, 1e-3, 1e-4)   # App. E: α_G chosen from this set
    d_steps_per_g: int = 3          # App. E: D:G = 3:1
    d_pretrain_batches: int = 500
    g_batches: int = 1000           # generator updates per α_G
    batch_size: int = 64
    lambda_pos: float = 1.0         # App. E: teacher-forcing positive updates
    clip_norm: float = 5.0          # G gradient-norm clipping, as in baseline training (assumed)
    ppl_tolerance: float = 0.05     # α_G choice: best valid Ent-3 with PPL ≤ (1+tol)·baseline
    max_valid_inputs: int | None = None   # validation pairs used to choose α_G (small/smoke)
    seed: int = 1

    _RULES = dict(d_emb=integer(1), d_filters=integer(1), d_widths=tuple_of(integer(1)), d_highway_layers=integer(0),
                  d_highway=integer(1), d_lr=LR, g_lrs=tuple_of(LR), d_steps_per_g=integer(1),
                  d_pretrain_batches=integer(0), g_batches=integer(1), batch_size=integer(1), lambda_pos=number(0),
                  clip_norm=number(0, lo_open=True), ppl_tolerance=number(0),
                  max_valid_inputs=integer(1, none=True), seed=SEED)


@dataclass(frozen=True)
class MMIConfig(Checked):
    lambdas: tuple[float, ...] = (0.0, 0.1, 0.2, 0.35, 0.5)   # anti-LM weight λ (grid)
    gs: tuple[int, ...] = (1, 3, 5)                            # anti-LM applies to first g tokens
    gammas: tuple[float, ...] = (0.0, 0.5, 1.0)                # length bonus γ
    beam_size: int = 10
    max_valid_inputs: int | None = None
    max_lm_ppl_ratio: float = 1.0             # sane: responses' LM PPL ≤ ratio × references'
    max_len_ratio: float = 1.5                # sane: mean length ≤ ratio × references'
    min_len_ratio: float = 0.25               # sane: mean length ≥ ratio × references' (our rule: the paper and the
                                              # authors' code give no bound; without one a one-word setting won)

    _RULES = dict(lambdas=tuple_of(number(0)), gs=tuple_of(integer(1)), gammas=tuple_of(number(0)), beam_size=integer(1, MAX_BEAM),
                  max_valid_inputs=integer(1, none=True),
                  max_lm_ppl_ratio=number(0, lo_open=True), max_len_ratio=number(0, lo_open=True),
                  min_len_ratio=number(0))

    def _check(self):
        if self.min_len_ratio > self.max_len_ratio:
            raise ConfigError(f"MMIConfig.min_len_ratio = {self.min_len_ratio} > max_len_ratio = {self.max_len_ratio}: "
                              "no mean length would be sane")


@dataclass(frozen=True)
class Profile:
    """Every stage's config at one size. ``baselines`` independently trained seq2seq baselines (seeds ``seed``,
    ``seed`` + 1, …: initialisation, data order, dropout) each carry every downstream stage; one LM (seed
    ``seed``) serves them all. A claim about a trained model holds only when it holds on every baseline."""
    name: str
    seed: int = 1
    baselines: int = 1
    data: DataConfig = field(default_factory=DataConfig)
    lm: ModelConfig = field(default_factory=ModelConfig)
    seq2seq: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    lm_train: TrainConfig = field(default_factory=TrainConfig)
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    gibbs: GibbsConfig = field(default_factory=GibbsConfig)
    malicious: MaliciousConfig = field(default_factory=MaliciousConfig)
    frequent: FrequentConfig = field(default_factory=FrequentConfig)
    gan: GanConfig = field(default_factory=GanConfig)
    mmi: MMIConfig = field(default_factory=MMIConfig)


def override(cfg, **fields):
    """``dataclasses.replace`` that names the offending field and config when one is unknown."""
    names = {f.name for f in dataclasses.fields(cfg)}
    for key in fields:
        if key not in names:
            raise ValueError(f"{type(cfg).__name__} has no field {key!r}; "
                             f"fields are {sorted(names)}")
    return dataclasses.replace(cfg, **fields)


def config_hash(*parts) -> str:
    """Stable short hash of configs (dataclasses or plain JSON values) for run-folder keys."""
    def plain(x):
        return dataclasses.asdict(x) if dataclasses.is_dataclass(x) else x
    blob = json.dumps([plain(p) for p in parts], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]
