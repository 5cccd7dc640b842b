"""MMI-antiLM decoding (Li et al. 2016), the "+MMI" comparison of §4.3 / Table 4.

score(T|S) = log P(T|S) − λ · log U(T) + γ · |T|, where U(T) = Π_{k ≤ g} P_LM(t_k | t_<k)
is the baseline LM's probability of the first g tokens (the anti-LM only penalises the
start of a response, which is where generic responses are decided) and |T| is the number
of words (without <eos>). We decode *inside* the beam, as Li et al. do for MMI-antiLM:
U(T) factorises over tokens, so each hypothesis' running score is
Σ_t [log P(t_t | t_<t, S) − λ·1[t ≤ g]·log P_LM(t_t | t_<t)]. The length bonus γ·|T| is
added when the finished hypotheses are ranked, so one beam run serves every γ (the
finished set is the one the beam holds when it stops, i.e. when no live hypothesis can
beat the K-th finished one without the bonus). With λ = γ = 0 this is plain beam search
(``decode.beam_search``). (λ, g, γ) are chosen on the validation set by
:func:`grid_search`. Shown in notebooks/05_gan_mmi.ipynb.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from ntlib.data.dataset import EOS, PAD
from ntlib.machine.device import model_device
from ntlib.methods.decode import beam_finished
from ntlib.methods.evaluate import response_scores
from ntlib.methods.models import eval_mode
from ntlib.results.metrics import ent_n, max_ratio, tensor_to_strings
from ntlib.run.config import MMIConfig


@dataclass(frozen=True)
class Hypothesis:
    """A finished beam hypothesis: word ids (no <eos>), log P(T|S) and log U(T) (first g tokens)."""
    ids: tuple[int, ...]
    logp: float
    lm_logp: float

    def score(self, lam: float = 0.0, gamma: float = 0.0) -> float:
        """MMI-antiLM score log P(T|S) − λ·log U(T) + γ·|T| (Li et al. 2016, eq. 9 + length)."""
        return mmi_score(self.logp, self.lm_logp, len(self.ids), lam, gamma)


def mmi_score(logp: float, lm_logp: float, length: int, lam: float, gamma: float) -> float:
    """log P(T|S) − λ · log U(T) + γ · |T| for precomputed terms."""
    return logp - lam * lm_logp + gamma * length


class AntiLM:
    """The anti-LM term of MMI-antiLM as a :func:`ntlib.methods.decode.beam_finished` hook: on the
    first ``g`` steps each candidate's score log P(t_t|·,S) becomes
    log P(t_t|·,S) − λ·log P_LM(t_t|t_<t), and log P_LM(t_t|t_<t) is summed into log U(T)."""

    def __init__(self, lm, lam: float, g: int):
        self.lm, self.lam, self.steps = lm, lam, g
        self.state = None                     # the LM's (h, c) for every live hypothesis

    def __call__(self, t: int, y: torch.Tensor, lp: torch.Tensor):
        logits, self.state = self.lm(y.unsqueeze(1), state=self.state)
        lm_lp = torch.log_softmax(logits[:, -1], dim=-1).view_as(lp)           # (B, K, V)
        return lp - self.lam * lm_lp, lm_lp

    def reorder(self, rows: torch.Tensor) -> None:
        if self.state is not None:
            self.state = (self.state[0][:, rows], self.state[1][:, rows])


def beam_search_antilm(seq2seq, lm, src: torch.Tensor, beam_size: int, max_len: int,
                       lam: float = 0.0, g: int = 0) -> list[list[Hypothesis]]:
    """Beam search on Σ_t log P(t_t|·,S) − λ·1[t ≤ g]·log P_LM(t_t|·); all finished hypotheses.

    The search of ``decode.beam_finished`` with the :class:`AntiLM` hook (none when λ = 0 or
    g = 0: plain beam search). ``src`` ``(B, S)``.
    """
    hook = AntiLM(lm, lam, g) if lm is not None and lam != 0.0 and g > 0 else None
    with eval_mode(lm):
        fin = beam_finished(seq2seq, src, beam_size, max_len, hook)
    finished: list[list[Hypothesis]] = [[] for _ in range(src.shape[0])]
    fin = [tuple(None if t is None else t.cpu() for t in f) for f in fin]   # one copy each, not a sync per hypothesis
    for f_score, f_logp, f_lm, f_tok in fin:
        for b, k in torch.isfinite(f_score).nonzero().tolist():
            finished[b].append(Hypothesis(tuple(f_tok[b, k].tolist()), float(f_logp[b, k]),
                                          0.0 if f_lm is None else float(f_lm[b, k])))
    return finished


def nbest(hyps: list[Hypothesis], lam: float, gamma: float, n: int) -> list[Hypothesis]:
    """The ``n`` best finished hypotheses under score(T|S) with (λ, γ)."""
    return sorted(hyps, key=lambda h: -h.score(lam, gamma))[:n]


def mmi_decode(seq2seq, lm, src: torch.Tensor, lam: float, g: int, gamma: float,
               beam_size: int, max_len: int, batch_size: int = 100,
               progress: bool = True) -> list[list[int]]:
    """The top MMI-antiLM response (word ids) for each source ``(N, S)``."""
    return [h[0].ids for h in decode_finished(seq2seq, lm, src, lam, g, (gamma,), beam_size,
                                              max_len, batch_size, progress)[gamma]]


def decode_finished(seq2seq, lm, src, lam, g, gammas, beam_size, max_len, batch_size=100,
                    progress=True) -> dict[float, list[list[Hypothesis]]]:
    """Beam-decode once with (λ, g), then rank each input's finished hypotheses for every γ."""
    finished = []
    for i in tqdm(range(0, src.shape[0], batch_size), desc=f"MMI beam λ={lam:g} g={g}",
                  disable=not progress, leave=False):
        finished += beam_search_antilm(seq2seq, lm, src[i:i + batch_size], beam_size, max_len,
                                       lam, g)
    return {gm: [nbest(f, lam, gm, beam_size) for f in finished] for gm in gammas}


@torch.no_grad()
def lm_ppl(lm, responses: list[list[int]], batch_size: int = 256) -> float:
    """Perplexity of responses (ids, +<eos>) under the LM: a fluency proxy for MMI's outputs."""
    nll, n = 0.0, 0
    for i in range(0, len(responses), batch_size):
        chunk = responses[i:i + batch_size]
        tgt = torch.full((len(chunk), max(len(r) for r in chunk) + 1), PAD, dtype=torch.long)
        for j, r in enumerate(chunk):
            tgt[j, :len(r) + 1] = torch.tensor(list(r) + [EOS])
        tgt = tgt.to(model_device(lm))
        nll -= float(lm.token_logprobs(tgt).sum())
        n += int((tgt != PAD).sum())
    return math.exp(nll / n)


def grid_search(seq2seq, lm, valid, vocab, cfg: MMIConfig, max_len: int,
                progress: bool = True) -> tuple[list[dict], dict]:
    """Score every (λ, g, γ) of ``cfg`` on validation inputs; choose the best Ent-3 among *sane* settings:
    responses' LM perplexity at most ``max_lm_ppl_ratio`` × that of the reference responses (fluency:
    antiLM decoding drifts into ungrammatical output, Li et al. 2016 §5) and mean length between
    ``min_len_ratio`` and ``max_len_ratio`` × the references' (our rule, stated: neither the paper nor the
    authors' code bounds it, and without a lower bound a setting answering one word — no trigram, so a
    few rare ones make Ent-3 high — won). With no sane setting the best Ent-3 of all is chosen, marked
    ``sane: False``."""
    n = len(valid) if cfg.max_valid_inputs is None else min(cfg.max_valid_inputs, len(valid))
    src, refs = valid.src[:n], [vocab.decode(t) for t in valid.tgt[:n]]
    ref_ppl = lm_ppl(lm, [vocab.encode(r) for r in refs])
    ref_len = sum(map(len, refs)) / n
    rows, responses = [], {}
    settings = [(lam, g) for lam in cfg.lambdas for g in cfg.gs if lam != 0.0 or g == cfg.gs[0]]
    for lam, g in tqdm(settings, desc="MMI grid", disable=not progress):
        by_gamma = decode_finished(seq2seq, lm, src, lam, g, cfg.gammas, cfg.beam_size, max_len,
                                   progress=False)
        for gamma, hyps in by_gamma.items():
            ids = [h[0].ids for h in hyps]
            text = [" ".join(vocab.itos[i] for i in r) for r in ids]
            setting = setting_name(lam, g, gamma)
            responses[setting] = text
            rows.append({"setting": setting, "lambda": lam, "g": g if lam != 0.0 else None,
                         "gamma": gamma, "max_ratio": max_ratio(text), "ent2": ent_n(text, 2),
                         "ent3": ent_n(text, 3), "avg_len": sum(map(len, ids)) / n,
                         "lm_ppl": lm_ppl(lm, ids)})
    for r in rows:
        r["sane"] = sane(r, cfg, ref_ppl, ref_len)
    pool = [r for r in rows if r["sane"]] or rows
    best = max(pool, key=lambda r: r["ent3"])
    for r in rows:
        r["chosen"] = r is best
    return rows, {"ref_lm_ppl": ref_ppl, "ref_avg_len": ref_len, "n_inputs": n,
                  "references": [" ".join(r) for r in refs], "responses": responses}


def sane(row: dict, cfg: MMIConfig, ref_lm_ppl: float, ref_len: float) -> bool:
    """A setting's validation responses are *sane*: their LM perplexity at most ``max_lm_ppl_ratio`` × the
    references' and their mean length within ``min_len_ratio`` … ``max_len_ratio`` × the references'."""
    return (row["lm_ppl"] <= cfg.max_lm_ppl_ratio * ref_lm_ppl
            and cfg.min_len_ratio * ref_len <= row["avg_len"] <= cfg.max_len_ratio * ref_len)


def setting_name(lam: float, g: int | None, gamma: float) -> str:
    """A readable key for one (λ, g, γ) setting."""
    return f"λ={lam:g} g={g if lam else '-'} γ={gamma:g}"


def evaluate(seq2seq, lm, ev, vocab, lam: float, g: int, gamma: float, beam_size: int,
             max_len: int, progress: bool = True) -> dict:
    """Table 4's "+MMI" columns: max-ratio, Ent-2, Ent-3 (and BLEU-4, LM PPL) of MMI-antiLM responses to
    the evaluation set ``ev`` (:class:`ntlib.methods.evaluate.EvalSet`); no PPL (not a model)."""
    sub = ev.pairs
    ids = mmi_decode(seq2seq, lm, sub.src, lam, g, gamma, beam_size, max_len, progress=progress)
    responses = [" ".join(vocab.itos[i] for i in r) for r in ids]
    refs = tensor_to_strings(sub.tgt, vocab)
    return {"ppl": None, **response_scores(responses, refs), "lm_ppl": lm_ppl(lm, ids),
            "avg_len": sum(map(len, ids)) / len(ids), "responses": responses}
