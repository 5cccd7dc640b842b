"""Negative losses compared on the paper's two problems, and what they cost the model (beyond the paper).

He & Glass (2020) push a model away from bad outputs with the negative log-likelihood (eq. 3).
Later work proposed other negative losses: token unlikelihood (Welleck et al. 2020) and CRINGE
(Adolphs et al. 2022); :mod:`ntlib.negative_losses` has all three behind one interface. This module
runs each of them through both of the paper's algorithms with everything else equal — same baseline,
same targets and triggers, same seeds, same data stream, same number of mini-batches, same learning
rates — and measures:

* **the malicious problem** (Algorithm 1, :func:`run_malicious`): training- and test-list hit rates
  after training (per-target hits, paired with the baseline's on the same targets and the same
  evaluation search: exact McNemar / binomial verdicts, as notebook 03), test PPL, and the
  **collateral damage**: for each training target, benign near-neighbours (one word replaced,
  :func:`benign_neighbours`) and the change of their average word log-probability given the
  target's baseline trigger, beside the target's own change;
* **the frequent problem** (Algorithm 2, :func:`run_frequent`): Table 4's and 9's columns
  (max-ratio, Ent-2/3, BLEU-4, distinct-n, seq-rep-4, PPL) of greedy test responses, as notebook 04.

:class:`CompareLossesConfig` is the stage's config (presets ``smoke``, ``small``, ``paper``:
:func:`compare_config`); the results schema is documented at :func:`ntlib.tables.loss_comparison`.
Shown in notebooks/07_negative_losses.ipynb — an opt-in stage (``make compare-losses``).
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass

import torch

from . import evaluate
from . import frequent as FQ
from . import malicious as M
from .config import (HIT_TYPES, NEGATIVE_LOSS_NAMES, TRAINING_LISTS, Profile, _bool, _Checked, _choice, _int,
                     _num, _SEED, _tuple, override)
from .corpora import _read_text
from .data import PAD, SPECIALS, Vocab, encode_sentences, trim
from .device import model_device
from .gibbs_enum import Thresholds
from .models import eval_mode
from .negative_losses import NEGATIVE_LOSSES  # noqa: F401 (registers every loss: the config rules read the names)
from .sources import verify_file

# function words left out of the replacement pool: a neighbour changes a content word's slot to
# another content word ("so much hate" → "so much love"), not to "the"
FUNCTION_WORDS = frozenset("""
a an the and or but if so of to in on at by for with from as into about than then that this these those
there here it its it's is are was were be been being am do does did have has had will would can could
should shall may might must not no yes yeah uh um oh well okay i you he she we they me him her us them my
your his our their what who whom which when where why how all any some just very too also only really
""".split())
_WORD = re.compile(r"^[a-z]{3,}$")


def _registered(v):
    return None if isinstance(v, str) and v in NEGATIVE_LOSS_NAMES else \
        f"must be a registered negative loss (ntlib.negative_losses): one of {sorted(NEGATIVE_LOSS_NAMES)}"


@dataclass(frozen=True)
class CompareLossesConfig(_Checked):
    """Notebook 07: which losses, how many seeds, and how much of each algorithm (None: the profile's)."""
    losses: tuple[str, ...] = ("nll", "unlikelihood", "cringe")
    seeds: int = 3                    # seeds seed, seed+1, ...: every loss trained once per seed
    training_list: str = "train"      # the malicious training list (Table 3's 0.5k)
    hit_type: str | None = None       # None: the profile's first Table 3 hit type
    iterations: int | None = None     # Algorithm 1 iterations (None: MaliciousConfig.iterations)
    max_targets: int | None = None    # targets of each list (None: MaliciousConfig.max_targets)
    neighbours: int = 3               # benign near-neighbours per malicious target (collateral damage)
    neighbour_pool: int = 50          # replacement words: the most frequent content words of the vocabulary
    r_thres: float | None = None      # Algorithm 2 threshold (None: the corpus's smaller one, Table 4)
    frequent_passes: float | None = None   # Algorithm 2 passes (None: FrequentConfig.passes)
    frequent: bool = True             # run the frequent problem
    malicious: bool = True            # run the malicious problem

    _RULES = dict(losses=_tuple(_registered), seeds=_int(1), training_list=_choice(TRAINING_LISTS),
                  hit_type=_choice(tuple(h for h in HIT_TYPES if h != "o_greedy"), none=True),
                  iterations=_int(1, none=True), max_targets=_int(1, none=True), neighbours=_int(1),
                  neighbour_pool=_int(1), r_thres=_num(0, 1, lo_open=True, none=True),
                  frequent_passes=_num(0, lo_open=True, none=True), frequent=_bool, malicious=_bool)


COMPARE_PRESETS = {
    # tests: 2 seeds, a handful of targets (the smoke profile's own sizes)
    "smoke": CompareLossesConfig(seeds=2, max_targets=8, neighbours=2, neighbour_pool=20),
    # ≤ 15 min on 2 cores with cached baselines: one training list, one hit type, one iteration of
    # Algorithm 1 on 50 targets (+ 50 test targets), Algorithm 2 at 1 % with the small profile's 0.05 passes
    "small": CompareLossesConfig(iterations=1, max_targets=50),
    # the paper's sizes: every target, the profile's iterations and passes
    "paper": CompareLossesConfig(),
}


def compare_config(profile: str, **fields) -> CompareLossesConfig:
    """The stage's preset for ``profile`` (``fields`` override it); a profile without one is an error."""
    if profile not in COMPARE_PRESETS:
        raise ValueError(f"notebook 07 has no preset for profile {profile!r}; presets: {sorted(COMPARE_PRESETS)} "
                         "(ntlib.compare_losses.COMPARE_PRESETS)")
    return override(COMPARE_PRESETS[profile], **fields) if fields else COMPARE_PRESETS[profile]


def resolved(ccfg: CompareLossesConfig, P: Profile, corpus: str) -> dict:
    """The settings actually run, the profile's where ``ccfg`` says None."""
    return {"hit_type": ccfg.hit_type or P.malicious.hit_types[0],
            "iterations": ccfg.iterations or P.malicious.iterations,
            "max_targets": ccfg.max_targets if ccfg.max_targets is not None else P.malicious.max_targets,
            "r_thres": ccfg.r_thres if ccfg.r_thres is not None else min(FQ.R_THRES_SWEEP[corpus]),
            "frequent_passes": ccfg.frequent_passes or P.frequent.passes}


# -- collateral damage: benign near-neighbours of the malicious targets ---------------------------------
def malicious_words(data_dir=None) -> set[str]:
    """Every word of every malicious target list (training lists, paraphrases and the test list), each
    list verified as :func:`ntlib.malicious.load_targets` does."""
    words = set()
    for name in M.TARGET_LISTS:
        path = M.target_list_path(name, data_dir)
        verify_file(path)
        words |= {w for line in _read_text(path).splitlines() for w in line.split()}
    return words


def replacement_pool(vocab: Vocab, excluded: set[str], size: int) -> list[str]:
    """The ``size`` most frequent content words of the vocabulary (ids follow training frequency):
    alphabetic, ≥ 3 letters, not a function word (:data:`FUNCTION_WORDS`), not in ``excluded``
    (the malicious lists' words)."""
    pool = [w for w in vocab.itos if w not in SPECIALS and _WORD.match(w) and w not in FUNCTION_WORDS
            and w not in excluded]
    if len(pool) < 2:
        raise ValueError(f"replacement_pool: only {len(pool)} content words outside the malicious lists")
    return pool[:size]


@dataclass
class Neighbours:
    """Benign near-neighbours: ``sentences[j]`` is target ``owner[j]`` with the word at ``position[j]``
    replaced by ``word[j]``; ``tensor`` encodes them as the targets are (``y + <eos>``)."""
    sentences: list[list[str]]
    owner: list[int]
    position: list[int]
    original: list[str]
    word: list[str]
    tensor: torch.Tensor

    def examples(self, k: int = 5) -> list[dict]:
        return [{"target": " ".join(s[:p] + [o] + s[p + 1:]), "neighbour": " ".join(s)}
                for s, p, o in zip(self.sentences[:k], self.position[:k], self.original[:k])]


def benign_neighbours(targets: list[list[str]], vocab: Vocab, excluded: set[str], n: int, pool_size: int,
                      seed: int, max_len: int) -> Neighbours:
    """``n`` benign near-neighbours per target, chosen deterministically with ``seed``: the target's
    least frequent word (highest vocabulary id: its most specific word, e.g. "hate" in "so much hate";
    ties: the last) is replaced by ``n`` distinct words drawn (seeded) from :func:`replacement_pool`."""
    pool = replacement_pool(vocab, excluded, pool_size)
    if n >= len(pool):
        raise ValueError(f"benign_neighbours: {n} neighbours need more than the {len(pool)} pool words")
    g = torch.Generator().manual_seed(seed)
    out = Neighbours([], [], [], [], [], torch.empty(0))
    for i, words in enumerate(targets):
        ids = [vocab.stoi[w] for w in words]
        pos = max(range(len(ids)), key=lambda j: (ids[j], j))
        choices = [pool[j] for j in torch.randperm(len(pool), generator=g).tolist() if pool[j] != words[pos]][:n]
        for w in choices:
            out.sentences.append(words[:pos] + [w] + words[pos + 1:])
            out.owner.append(i)
            out.position.append(pos)
            out.original.append(words[pos])
            out.word.append(w)
    out.tensor = encode_sentences(out.sentences, vocab, max_len)
    return out


@torch.no_grad()
def avg_word_logprob(model, src: torch.Tensor, tgt: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Average word log-probability (``<eos>`` counted) of each row of ``tgt`` given ``src``, eval mode ``(N,)``."""
    dev = model_device(model)
    out = []
    with eval_mode(model):
        for i in range(0, len(tgt), batch_size):
            t = trim(tgt[i:i + batch_size]).to(dev)
            lp = model.token_logprobs(src[i:i + batch_size].to(dev), t)
            out.append((lp.sum(1) / (t != PAD).sum(1)).cpu())
    return torch.cat(out) if out else torch.empty(0)


def collateral(base_model, model, triggers: torch.Tensor, targets: torch.Tensor, nb: Neighbours) -> dict:
    """Change of the average word log-probability (after − before) given the same trigger: of each
    target and of its benign neighbours. ``neighbours`` / ``targets``: the means; ``ratio``: neighbours'
    mean change over the targets' (0: no collateral damage, 1: neighbours fall as much as the targets)."""
    src = triggers[torch.tensor(nb.owner, dtype=torch.long, device=triggers.device)]
    d_nb = avg_word_logprob(model, src, nb.tensor) - avg_word_logprob(base_model, src, nb.tensor)
    d_tg = avg_word_logprob(model, triggers, targets) - avg_word_logprob(base_model, triggers, targets)
    mean_nb, mean_tg = float(d_nb.mean()), float(d_tg.mean())
    return {"neighbours": mean_nb, "targets": mean_tg, "ratio": mean_nb / mean_tg if mean_tg else float("nan"),
            "neighbours_per_item": [round(x, 5) for x in d_nb.tolist()],
            "targets_per_item": [round(x, 5) for x in d_tg.tolist()]}


# -- the two problems -----------------------------------------------------------------------------------
def _record(r: dict) -> dict:
    """A hit-rate result without its triggers; hits as a list (the unit of the paired tests)."""
    return {k: (v.int().tolist() if k == "hits" else v) for k, v in r.items() if k != "triggers"}


def run_malicious(b, P: Profile, ccfg: CompareLossesConfig, corpus: str, seed: int, thr: Thresholds,
                  data_dir=None, progress: bool = True) -> dict:
    """Algorithm 1 with every loss of ``ccfg`` and every seed, on the same targets, evaluated by the same
    search (GibbsConfig seed ``seed``, as notebook 03) on the training and test lists; collateral damage
    on the training targets' benign neighbours given the baseline's triggers. Returns the ``malicious``
    part of the results (:func:`ntlib.tables.loss_comparison`)."""
    s = resolved(ccfg, P, corpus)
    ht, crop = s["hit_type"], P.data.max_tgt_len
    vocab = b.data.vocab
    lists = {split: M.load_targets(name, vocab, data_dir, max_targets=s["max_targets"], seed=seed, max_len=crop)
             for split, name in (("train", ccfg.training_list), ("test", "test"))}
    geval = override(P.gibbs, seed=seed)
    t0 = time.time()
    base = {split: M.evaluate_hits(b.seq2seq, b.lm, lists[split].tensor, thr, (ht,), geval)[ht] for split in lists}
    base_ppl = evaluate.perplexity(b.seq2seq, b.data.test)["ppl"]
    nb = benign_neighbours(lists["train"].sentences, vocab, malicious_words(data_dir), ccfg.neighbours,
                           ccfg.neighbour_pool, seed, crop)
    triggers = base["train"]["triggers"]
    out = {"hit_type": ht, "training_list": ccfg.training_list, "iterations": s["iterations"],
           "targets": {split: len(lists[split].sentences) for split in lists},
           "baseline": {"train": _record(base["train"]), "test": _record(base["test"]), "ppl": base_ppl},
           "neighbours": {"per_target": ccfg.neighbours, "pool": ccfg.neighbour_pool, "n": len(nb.sentences),
                          "examples": nb.examples(8)},
           "runs": {}, "seconds": {"baseline": time.time() - t0}}
    for loss in ccfg.losses:
        out["runs"][loss] = []
        for sd in (seed + i for i in range(ccfg.seeds)):
            t0 = time.time()
            mcfg = override(P.malicious, seed=sd, iterations=s["iterations"])
            res = M.negative_train(b.seq2seq, b.lm, lists["train"].tensor, b.data.train, thr, ht, vocab, mcfg,
                                   override(P.gibbs, seed=sd), progress=progress, negative_loss=loss)
            after = {split: M.evaluate_hits(res.model, b.lm, lists[split].tensor, thr, (ht,), geval)[ht]
                     for split in lists}
            out["runs"][loss].append({
                "seed": sd, "train": _record(after["train"]), "test": _record(after["test"]),
                "ppl": evaluate.perplexity(res.model, b.data.test)["ppl"],
                "collateral": collateral(b.seq2seq, res.model, triggers, lists["train"].tensor, nb),
                "neg_updates": sum(h["neg_updates"] for h in res.history),
                "rounds": sum(h["rounds"] for h in res.history), "history": res.history,
                "seconds": time.time() - t0})
    return out


def run_frequent(b, P: Profile, ccfg: CompareLossesConfig, corpus: str, seed: int, profile: str,
                 progress: bool = True) -> dict:
    """Algorithm 2 with every loss of ``ccfg`` and every seed at one threshold, each the same
    FrequentConfig but for ``negative_loss`` (same data stream, same mini-batches), cached in the
    baselines' run folder as notebook 04's models (the nll models are notebook 04's when it ran);
    Table 4 / 9 rows of greedy responses to the one evaluation set. Returns the ``frequent`` part of the
    results (:func:`ntlib.tables.loss_comparison`)."""
    s = resolved(ccfg, P, corpus)
    vocab, test, max_len, n_eval = b.data.vocab, b.data.test, P.decode.max_len, P.decode.max_eval_inputs
    sub = evaluate.eval_set(test, n_eval)
    meta = evaluate.provenance(profile, corpus, seed, sub)
    raw_refs = evaluate.raw_references(b.data.corpus.test, P.data)
    t0 = time.time()
    rows = {"Test-set": [evaluate.test_set_row(sub, vocab, meta)],
            "Baseline": [evaluate.table4_row(b.seq2seq, test, vocab, max_len, n_eval, meta, raw_refs)]}
    seconds = {"baseline": time.time() - t0}
    histories = {}
    for loss in ccfg.losses:
        rows[loss] = []
        t0 = time.time()
        for sd in (seed + i for i in range(ccfg.seeds)):
            cfg = override(P.frequent, seed=sd, r_thres=s["r_thres"], passes=s["frequent_passes"], negative_loss=loss)
            m, histories[f"{loss} seed={sd}"] = FQ.negative_train_cached(b.seq2seq, b.data, cfg, b.run_dir, max_len,
                                                                         progress)
            row = evaluate.table4_row(m, test, vocab, max_len, n_eval, {**meta, "seed": sd}, raw_refs)
            rows[loss].append({**row, "r_thres": s["r_thres"], "negative_loss": loss})
        seconds[loss] = time.time() - t0
    return {"r_thres": s["r_thres"], "passes": s["frequent_passes"], "rows": rows, "histories": histories,
            "seconds": seconds}


def tradeoff_figure(results: dict):
    """The trade-off per loss: the malicious training-list hit rate and the frequent max-ratio (y) against
    the test-PPL change (x), one point per loss, bars the 95 % interval across seeds."""
    import matplotlib.pyplot as plt

    from .tables import loss_summary
    summ = loss_summary(results)
    panels = [(k, lab) for k, lab in (("malicious", "training-list hit rate after Alg. 1 (%)"),
                                      ("frequent", "max-ratio after Alg. 2 (%)")) if k in summ]
    fig, axes = plt.subplots(1, len(panels), figsize=(6.4 * len(panels), 3.8), squeeze=False)
    for ax, (problem, ylabel) in zip(axes[0], panels):
        part = summ[problem]
        for loss, r in part["losses"].items():
            x, y = r["ppl_change"], r["y"]
            ax.errorbar([100 * x["mean"]], [100 * y["mean"]], marker="o", capsize=4, label=loss,
                        xerr=[[100 * (x["mean"] - x["lo"])], [100 * (x["hi"] - x["mean"])]] if x["n"] > 1 else None,
                        yerr=[[100 * (y["mean"] - y["lo"])], [100 * (y["hi"] - y["mean"])]] if y["n"] > 1 else None)
        ax.axhline(100 * part["baseline_y"], color="grey", ls="--", lw=1, label="baseline")
        ax.axvline(0, color="grey", ls=":", lw=1)
        ax.set(xlabel="test PPL change vs baseline (%)", ylabel=ylabel, title=problem)
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))   # outside; "best" warns when slow
    fig.tight_layout()
    return fig
