"""Your own model (beyond the paper): the paper's attack and both negative-training algorithms on a Hugging Face
model, through the interface the algorithms ask of a dialogue model (:mod:`ntlib.methods.adapter`).

He & Glass (2020) train LSTM models; a 2026 reader's model is a transformer from the Hugging Face hub. This stage
builds a tiny one offline — a GPT-2 (a causal LM reading ``x <bos> y``) or a T5 (encoder–decoder), random weights,
over ntlib's vocabulary (:mod:`ntlib.methods.adapter_hf`, nothing downloaded) — trains it briefly on the profile's
Switchboard pairs (Adam on the per-word NLL of the responses), and then runs on it, unchanged, what notebooks 03 and
04 run on the LSTM baselines:

* **the attack** (gibbs-enum, App. A): the o-greedy and o-sample-avg hit rates of the 0.5k training list's and the
  test list's targets (T_out: this model's average word log-likelihood on the test pairs, App. C);
* **Algorithm 1** (§3.2) on the training list, and the attack again on the trained copy (a fresh search, the
  evaluation seed of :func:`ntlib.methods.malicious.evaluation_seed`);
* **Algorithm 2** (§3.3) at one threshold, and Table 4's columns of greedy test responses before and after.

One model, trained once: a demonstration that the algorithms run on your model, not a test of the method (that
needs independently trained models: notebooks 03, 04, 07). Hits before and after are paired (the same targets,
the same evaluation search); the table gives the exact McNemar p, which on 20 targets rarely reaches 0.05.

:class:`OwnModelConfig` is the stage's config (presets ``smoke``, ``teach``, ``small``, ``paper``: :func:`config`),
the results schema :class:`OwnModelResults`. Needs the ``hf`` extra (``pip install -e ".[hf]"``). Shown in
notebooks/08_own_model.ipynb — an opt-in stage (``make own-model``).
"""
from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import pandas as pd
import torch
from tqdm.auto import tqdm

from ntlib.data.dataset import PAD, load_dataset
from ntlib.data.targets import load_targets
from ntlib.machine.provenance import code_digest
from ntlib.methods import evaluate, frequent, malicious
from ntlib.methods.hits import Thresholds
from ntlib.methods.train import atomic_save
from ntlib.results import figures, reports, tables
from ntlib.results.reports import atomic_write_text
from ntlib.run.config import config_hash, override
from ntlib.run.params import NotebookRun
from ntlib.run.rules import Checked, ConfigError, choice, integer, number
from ntlib.stages import StageResults

ARCHITECTURES = ("gpt2", "t5")
HIT_TYPES = ("o_greedy", "o_sample_avg")       # o- searches only: an io- search would need an LM of the sources too
LISTS = ("train", "test")                        # the 0.5k training list (Algorithm 1 trains on it) and the test list


@dataclass(frozen=True)
class OwnModelConfig(Checked):
    """Notebook 08: the Hugging Face model, its MLE training and what differs from the profile's Algorithms 1/2."""
    architecture: str = "gpt2"       # gpt2: causal LM reading x <bos> y | t5: encoder–decoder
    d_model: int = 128               # width (d_model / n_embd)
    layers: int = 2                  # transformer blocks (T5: encoder and decoder each)
    heads: int = 4                   # attention heads
    steps: int = 600                 # Adam steps of MLE training on the profile's training pairs
    batch_size: int = 64             # pairs per step, drawn with replacement (seeded)
    lr: float = 3e-3                 # Adam's learning rate
    log_every: int = 20              # training NLL logged every this many steps
    max_targets: int = 20            # targets of each list (the profile's sample of the 0.5k training and test lists)
    malicious_lr: float | None = None  # Algorithm 1's SGD learning rate (None: the profile's, the paper's 0.01)
    r_thres: float = 0.1             # Algorithm 2's threshold (Table 4's larger one)
    frequent_lr: float | None = None   # Algorithm 2's SGD learning rate (None: the profile's FrequentConfig.lr)

    _RULES: ClassVar[dict] = {
        "architecture": choice(ARCHITECTURES), "d_model": integer(8), "layers": integer(1), "heads": integer(1),
        "steps": integer(1), "batch_size": integer(1), "lr": number(0, lo_open=True), "log_every": integer(1),
        "max_targets": integer(1), "malicious_lr": number(0, lo_open=True, none=True),
        "r_thres": number(0, 1, lo_open=True, hi_open=True), "frequent_lr": number(0, lo_open=True, none=True)}

    def __post_init__(self):
        super().__post_init__()
        if self.d_model % self.heads:
            raise ConfigError(f"OwnModelConfig.d_model = {self.d_model}: must be a multiple of heads = {self.heads}")


PRESETS = {
    # the tests (nbval): a 1-block d = 32 GPT-2, 40 steps, 4 targets per list — seconds, and nothing to read into
    "smoke": OwnModelConfig(d_model=32, layers=1, heads=2, steps=40, batch_size=32, log_every=5, max_targets=4),
    # a class, ≈ 3 min: ~0.6 M parameters, 600 steps (≈ 38k pairs, 2/3 of the teach subset's 60k) reach a test PPL
    # near the teach LSTM's and its generic-response problem (measured: PPL 63.8, max-ratio 75.7 %; 3 min 3 s, 1 thread)
    "teach": OwnModelConfig(),
    # not run yet: a larger model and ten times the steps (the small profile's 90k-pair epochs)
    "small": OwnModelConfig(d_model=256, layers=4, steps=6000, max_targets=100),
    # not run yet: a GPU — GPT-2 small's shape on the full corpus
    "paper": OwnModelConfig(d_model=768, layers=12, heads=12, steps=60000, max_targets=500),
}


def config(profile: str, **fields) -> OwnModelConfig:
    """The stage's preset for ``profile`` (``fields`` override it); a profile without one is an error."""
    if profile not in PRESETS:
        raise ValueError(f"notebook 08 has no preset for profile {profile!r}; presets: {sorted(PRESETS)} "
                         "(ntlib.stages.own_model.PRESETS)")
    return override(PRESETS[profile], **fields) if fields else PRESETS[profile]


@dataclass
class Setup:
    """The stage's config, the profile's data set and the Algorithm 1 / 2 / search configs as run."""
    cfg: OwnModelConfig
    data: object                 # ntlib.data.dataset.Dataset
    gcfg: object                 # gibbs-enum of Algorithm 1's searches (seed: the notebook's)
    eval_gcfg: object            # the attacks that measure hit rates (another seed)
    mcfg: object                 # Algorithm 1
    fcfg: object                 # Algorithm 2
    positions: int               # the model's positions: source + <bos> + response + <eos>


def setup(nb: NotebookRun) -> Setup:
    """The profile's data (App. B) and configs; Algorithm 1 on o-sample-avg hits, with the profile's learning rate
    unless the preset sets ``malicious_lr``."""
    from ntlib.methods.adapter_hf import require_transformers
    require_transformers()                     # the hf extra: say how to install it before anything runs
    cfg = config(nb.profile)
    P = nb.P
    mcfg = override(P.malicious, hit_types=("o_sample_avg",), lists=("train",), first_baseline_lists=(),
                    max_targets=cfg.max_targets, seed=nb.seed,
                    **({} if cfg.malicious_lr is None else {"lr": cfg.malicious_lr}))
    fcfg = override(P.frequent, r_thres=cfg.r_thres, seed=nb.seed,
                    **({} if cfg.frequent_lr is None else {"lr": cfg.frequent_lr}))
    return Setup(cfg, load_dataset(P, nb.data_dir), override(P.gibbs, seed=nb.seed),
                 override(P.gibbs, seed=malicious.evaluation_seed(nb.seed)), mcfg, fcfg,
                 P.data.max_src_len + P.data.max_tgt_len + 2)


def settings_table(nb: NotebookRun, s: Setup) -> pd.DataFrame:
    c, d = s.cfg, s.data
    rows = {"model": f"{c.architecture}, d = {c.d_model}, {c.layers} block(s), {c.heads} heads, random init",
            "vocabulary": f"{len(d.vocab):,} words (ntlib's, one token per word)",
            "MLE training": f"{c.steps:,} Adam steps × {c.batch_size} pairs, lr {c.lr:g} "
                            f"(of {len(d.train):,} training pairs)",
            "attack (gibbs-enum)": f"{s.gcfg.sweeps} sweep(s), {s.gcfg.candidates} candidates, {s.gcfg.restarts} "
                                   f"start(s); {c.max_targets} targets per list; {', '.join(HIT_TYPES)}",
            "Algorithm 1": f"{s.mcfg.iterations} iteration(s) on the training list, SGD lr {s.mcfg.lr:g}, ≤ "
                           f"{s.mcfg.max_neg_updates} negative updates per batch, o-sample-avg",
            "Algorithm 2": f"r_thres {s.fcfg.r_thres:g}, {s.fcfg.passes:g} pass(es), SGD lr {s.fcfg.lr:g}, window "
                           f"{s.fcfg.window}",
            "seed": str(nb.seed)}
    return pd.DataFrame({"setting": list(rows.values())}, index=list(rows))


# -- the model ---------------------------------------------------------------------------------------------
def build(cfg: OwnModelConfig, vocab_size: int, positions: int, seed: int):
    """The configured Hugging Face model behind the algorithms' interface (random weights, seeded)."""
    from ntlib.methods.adapter_hf import HFCausalLM, HFEncoderDecoder, tiny_gpt2, tiny_t5
    if cfg.architecture == "gpt2":
        return HFCausalLM(tiny_gpt2(vocab_size, d=cfg.d_model, layers=cfg.layers, heads=cfg.heads,
                                    positions=positions, seed=seed))
    return HFEncoderDecoder(tiny_t5(vocab_size, d=cfg.d_model, layers=cfg.layers, heads=cfg.heads, seed=seed))


def fit_mle(model, train, cfg: OwnModelConfig, seed: int, progress: bool = True) -> dict:
    """Adam on the per-word NLL of ``train``'s responses (``<eos>`` counted), ``cfg.batch_size`` pairs a step drawn
    with replacement (seeded); returns ``{step, loss}`` every ``cfg.log_every`` steps (the mean since the last)."""
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    hist, acc, n = {"step": [], "loss": []}, 0.0, 0
    model.train()
    for step in tqdm(range(1, cfg.steps + 1), desc=f"MLE {cfg.architecture}", disable=not progress, leave=False):
        i = torch.randint(len(train), (cfg.batch_size,), generator=gen)
        lp = model.token_logprobs(train.src[i], train.tgt[i])
        loss = -lp.sum() / (train.tgt[i] != PAD).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        acc, n = acc + float(loss.detach()), n + 1
        if step % cfg.log_every == 0 or step == cfg.steps:
            hist["step"].append(step)
            hist["loss"].append(acc / n)
            acc, n = 0.0, 0
    return hist


def model_dir(nb: NotebookRun, s: Setup) -> Path:
    """``runs/own_model-<hash>``: the hash covers the stage config, the data config and the training code."""
    key = config_hash(s.cfg, nb.P.data, nb.seed, code_digest("ntlib.stages.own_model"),
                      code_digest("ntlib.methods.adapter_hf"))
    return Path(nb.run_root) / f"own_model-{nb.corpus}-{nb.profile}-{key}"


@dataclass
class Trained:
    model: object
    history: dict
    seconds: float
    cached: bool


def train(nb: NotebookRun, s: Setup) -> Trained:
    """The model trained by :func:`fit_mle`, or loaded (``weights_only``) from its run folder when trained before."""
    folder = model_dir(nb, s)
    path, hist_path = folder / "model.pt", folder / "history.json"
    model = build(s.cfg, len(s.data.vocab), s.positions, nb.seed)
    t0 = time.time()
    if path.is_file() and hist_path.is_file():
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        return Trained(model.eval(), json.loads(hist_path.read_text(encoding="utf-8")), 0.0, True)
    hist = fit_mle(model, s.data.train, s.cfg, nb.seed)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_save(model.state_dict(), path)
    atomic_write_text(hist_path, json.dumps(hist))
    return Trained(model.eval(), hist, time.time() - t0, False)


def training_table(tr: Trained) -> pd.DataFrame:
    """The training log: NLL at the first and last logged step, and how long it took (0: loaded)."""
    h = tr.history
    return pd.DataFrame({"Adam steps": [h["step"][-1]], "training NLL, first logged": [h["loss"][0]],
                         "training NLL, last logged": [h["loss"][-1]],
                         "time": ["loaded from run_root" if tr.cached else f"{tr.seconds:.0f} s"]}, index=["MLE"])


# -- the attack and Algorithm 1 ------------------------------------------------------------------------------
@dataclass
class Attack:
    thr: Thresholds
    targets: dict                # {list: TargetList}
    before: dict                 # {list: {hit type: hit-rate dict with hits and triggers}}
    after: dict = field(default_factory=dict)
    history: list = field(default_factory=list)
    ppl: dict = field(default_factory=dict)
    seconds: float = 0.0


def attack(nb: NotebookRun, s: Setup, tr: Trained) -> Attack:
    """T_out on the test pairs (App. C), then the evaluation search on each list's targets (o- hit types)."""
    thr = Thresholds(t_out=evaluate.avg_word_logprob(tr.model, s.data.test), t_in=float("nan"))
    targets = {n: load_targets(n, s.data.vocab, nb.data_dir, max_targets=s.cfg.max_targets, seed=nb.seed,
                               max_len=nb.P.data.max_tgt_len) for n in LISTS}
    before = {n: malicious.evaluate_hits(tr.model, None, t.tensor, thr, HIT_TYPES, s.eval_gcfg)
              for n, t in targets.items()}
    return Attack(thr, targets, before)


def algorithm1(nb: NotebookRun, s: Setup, tr: Trained, att: Attack) -> object:
    """Algorithm 1 on the training list (a copy; the model stays as it was), then the same evaluation search on the
    trained copy; test PPL of both."""
    t0 = time.time()
    res = malicious.negative_train(tr.model, None, att.targets["train"].tensor, s.data.train, att.thr,
                                   "o_sample_avg", s.data.vocab, s.mcfg, s.gcfg, progress=True)
    att.after = {n: malicious.evaluate_hits(res.model, None, t.tensor, att.thr, HIT_TYPES, s.eval_gcfg)
                 for n, t in att.targets.items()}
    att.history = [{k: v for k, v in h.items() if k != "hits"} for h in res.history]
    att.ppl = {"before": evaluate.perplexity(tr.model, s.data.test)["ppl"],
               "after": evaluate.perplexity(res.model, s.data.test)["ppl"]}
    att.seconds = time.time() - t0
    return res.model


def hit_table(att: Attack) -> pd.DataFrame:
    """Per list and hit type: hits before → after Algorithm 1 (k of N) and the exact one-sided McNemar test
    (:func:`ntlib.results.tables.paired_hits_table`)."""
    keys = [(f"{n} list", n, ht) for n in LISTS for ht in HIT_TYPES]
    return tables.paired_hits_table({(label, ht): att.before[n][ht] for label, n, ht in keys},
                                    {(label, ht): att.after[n][ht] for label, n, ht in keys} if att.after else None)


def trigger_examples(att: Attack, vocab, k: int = 5) -> pd.DataFrame:
    """The training-list targets the model was attacked into saying (o-sample-avg), with their triggers."""
    r = att.before["train"]["o_sample_avg"]
    rows = [{"target": " ".join(att.targets["train"].sentences[i]),
             "trigger": " ".join(vocab.itos[int(t)] for t in r["triggers"][i] if int(t) != PAD),
             "hit after Algorithm 1": ("yes" if bool(att.after["train"]["o_sample_avg"]["hits"][i]) else "no")
             if att.after else "–"}
            for i in range(len(r["hits"])) if bool(r["hits"][i])][:k]
    return pd.DataFrame(rows or [{"target": "(no target hit)", "trigger": "–", "hit after Algorithm 1": "–"}])


# -- Algorithm 2 and Table 4 -----------------------------------------------------------------------------------
@dataclass
class Frequent:
    rows: dict                   # {"Test-set" | "Baseline" | "+neg-train": Table 4 row}
    history: dict
    seconds: float


def algorithm2(nb: NotebookRun, s: Setup, tr: Trained) -> Frequent:
    """Table 4's row of the model's greedy test responses, Algorithm 2 from it (a copy), the trained copy's row."""
    t0 = time.time()
    ev = evaluate.eval_set(s.data, nb.P.decode.max_eval_inputs)
    meta = evaluate.provenance(nb.profile, nb.corpus, nb.seed, ev)
    max_len = nb.P.decode.max_len
    rows = {"Test-set": evaluate.test_set_row(ev, s.data.vocab, meta),
            "Baseline": evaluate.table4_row(tr.model, s.data, ev, max_len, meta)}
    tuned, hist = frequent.negative_train(tr.model, s.data.train, s.data.valid, s.data.vocab, s.fcfg, max_len)
    rows["+neg-train"] = evaluate.table4_row(tuned, s.data, ev, max_len, meta)
    return Frequent(rows, hist, time.time() - t0)


def _top(r: dict) -> str:
    """A row's most frequent response and its share; the empty response (``<eos>`` first) named as such."""
    if not r.get("top10"):
        return "–"
    text, share = r["top10"][0]
    return f"“{text}” ({100 * share:.1f} %)" if text else f"(empty response) ({100 * share:.1f} %)"


COLUMNS = {"ppl": "PPL", "max_ratio": "max-ratio %", "ent3": "Ent-3", "distinct2": "distinct-2 %", "bleu4": "BLEU-4"}
PERCENT = ("max_ratio", "distinct2")
DIGITS = {"ppl": 2, "max_ratio": 1, "ent3": 2, "distinct2": 1, "bleu4": 3}    # as the paper's Table 4 shows them


def table4(fr: Frequent) -> pd.DataFrame:
    """Table 4's columns (greedy responses to the same test inputs) and each row's most frequent response."""
    out = {}
    for name, r in fr.rows.items():
        out[name] = {label: (None if r.get(k) is None else round(100 * r[k] if k in PERCENT else r[k], DIGITS[k]))
                     for k, label in COLUMNS.items()}
        out[name]["most frequent response"] = _top(r)
    return pd.DataFrame(out).T


def training_figure(nb: NotebookRun, s: Setup, tr: Trained, fr: Frequent):
    """The training NLL and Algorithm 2's max-ratio (:func:`ntlib.results.figures.own_model_training`), saved as
    ``figures/own_model_training_<corpus>.png`` / ``.pdf``."""
    fig = figures.own_model_training(tr.history, fr.history, corpus=nb.corpus, profile=nb.profile,
                                     n_pairs=len(s.data.train), model=s.cfg.architecture)
    reports.save_figure(fig, f"own_model_training_{nb.corpus}", nb.reports_dir)
    return fig


# -- results ------------------------------------------------------------------------------------------------
@dataclass
class OwnModelResults(StageResults):
    """``results/own_model_<corpus>.json``: settings, the training log, the hit records (per target, before and
    after Algorithm 1), Algorithm 1's history, Table 4's rows (responses included) and Algorithm 2's history."""
    RESULTS: ClassVar[str] = "own_model"
    corpus: str
    profile: str
    seed: int
    config: dict
    settings: dict
    training: dict
    thresholds: dict
    hits: dict
    malicious_history: list
    ppl: dict
    frequent_rows: dict
    frequent_history: dict
    seconds: dict
    provenance: dict = field(default_factory=dict)


def _flat(t: pd.DataFrame) -> pd.DataFrame:
    """A table's two-level index as one column of text ("train list, o_sample_avg"), for markdown and CSV."""
    return t.set_axis([", ".join(i) for i in t.index])


def write_reports(nb: NotebookRun, s: Setup, tr: Trained, att: Attack, fr: Frequent) -> OwnModelResults:
    """The results JSON and ``own_model_<corpus>.md`` / ``.csv`` (Table 4's rows and the hit table)."""
    res = OwnModelResults(
        nb.corpus, nb.profile, nb.seed, dataclasses.asdict(s.cfg), settings_table(nb, s)["setting"].to_dict(),
        tr.history, {"t_out": att.thr.t_out},
        {stage: {n: {ht: malicious.hit_record(r) for ht, r in by.items()} for n, by in recs.items()}
         for stage, recs in (("before", att.before), ("after", att.after))},
        att.history, att.ppl, fr.rows, fr.history,
        {"training": tr.seconds, "training_cached": tr.cached, "algorithm1": att.seconds, "algorithm2": fr.seconds,
         "notebook": nb.seconds()}, nb.provenance())
    res.write(nb.reports_dir)
    note = (f"One {s.cfg.architecture} (d = {s.cfg.d_model}, {s.cfg.layers} block(s)) trained once: a demonstration, "
            "not a test of the method. Table 4 rows: greedy responses to the same "
            f"{fr.rows['Baseline'].get('n_inputs', '–')} test inputs.\n\nHits before → after Algorithm 1 (same "
            "targets, same evaluation search):\n\n" + _flat(hit_table(att)).to_markdown())
    reports.write_table(table4(fr), f"own_model_{nb.corpus}", nb.reports_dir,
                        title=f"Your own model ({nb.corpus}, {nb.profile}): {s.cfg.architecture}, attacked and "
                              "negatively trained", note=note)
    print(f"notebook 08 took {nb.seconds():.0f} s on {nb.threads} thread(s)")
    return res


def findings(res: OwnModelResults) -> str:
    """What the run showed, in words, from its results (one model: no verdict)."""
    rows, hits, c = res.frequent_rows, res.hits, res.config
    b, a = rows["Baseline"], rows["+neg-train"]

    def k(stage, lst, ht="o_sample_avg"):
        r = hits.get(stage, {}).get(lst, {}).get(ht)
        return f"{r['k']}/{r['n']}" if r else "–"
    top = _top
    return "\n".join([
        f"{res.corpus}, profile {res.profile}: a {c['architecture']} (d = {c['d_model']}, {c['layers']} block(s)) "
        f"trained {c['steps']:,} Adam steps; test PPL {b['ppl']:.2f}.",
        f"- attack (o-sample-avg): training list {k('before', 'train')} targets hit, test list {k('before', 'test')}; "
        f"after Algorithm 1 {k('after', 'train')} and {k('after', 'test')} "
        f"(PPL {res.ppl.get('before', float('nan')):.2f} → {res.ppl.get('after', float('nan')):.2f}).",
        f"- generic responses: max-ratio {100 * b['max_ratio']:.1f} % (most frequent {top(b)}); after Algorithm 2 "
        f"(r_thres {c['r_thres']:g}) {100 * a['max_ratio']:.1f} % ({top(a)}), Ent-3 {b['ent3']:.2f} → {a['ent3']:.2f}, "
        f"PPL {b['ppl']:.2f} → {a['ppl']:.2f}.",
        "One model trained once: these show the algorithms at work on a transformer, not that they work in general."])
