"""Decoding a trained seq2seq (§2): greedy, sampling, and beam search with n-best lists.

Greedy decoding gives the stable outputs whose frequent-response problem §3.3 / §4.3
measures; sampling gives the diverse outputs behind the malicious response problem (§3.2);
beam search gives the 10-best lists compared before / after negative training (§4.2).
All work on batches of left-padded sources ``(B, S)``, never trimmed (see
``ntlib.methods.evaluate.seq2seq_nll``), and return at most ``max_len`` words
followed by ``<eos>`` (App. B: outputs ≤ 20 tokens; ``DecodeConfig.max_len``, the one place
that value lives — callers pass it). Shown in notebooks/02_baselines.ipynb.
"""
from __future__ import annotations

import contextlib

import torch

from ntlib.data.dataset import BOS, EOS, PAD
from ntlib.machine.device import model_device, multinomial
from ntlib.methods.models import eval_mode

NEVER = (PAD, BOS)   # tokens a decoder may not emit


@contextlib.contextmanager
def _eval(model):
    """Eval mode and no gradients, restoring the model's mode afterwards."""
    with eval_mode(model), torch.no_grad():
        yield


def _generate(model, src: torch.Tensor, max_len: int, pick) -> torch.Tensor:
    """Token-by-token decoding; ``pick(logprobs (B, V)) -> (B,)`` chooses each next token.
    Runs on the model's device (``src`` is moved there); the ids come back on it."""
    with _eval(model):
        src = src.to(model_device(model))
        state = model.decode_start(src)                 # ntlib.methods.adapter.DialogueModel
        B, dev = src.shape[0], src.device
        y = torch.full((B,), BOS, dtype=torch.long, device=dev)
        done = torch.zeros(B, dtype=torch.bool, device=dev)
        out = []
        for _ in range(max_len):
            logprobs, state = model.decode_step(y, state)                   # (B, V)
            logprobs[:, list(NEVER)] = float("-inf")
            y = pick(logprobs).masked_fill(done, PAD)                       # (B,)
            out.append(y)
            done |= y == EOS
            if bool(done.all()):
                break
        if not bool(done.all()):                # App. B: cut at max_len words, then <eos>
            out.append(torch.where(done, PAD, EOS))
        return torch.stack(out, dim=1)                                      # (B, ≤ max_len + 1)


def greedy(model, src: torch.Tensor, max_len: int) -> torch.Tensor:
    """Greedy decoding (§2): argmax at every step; ids ``(B, ≤ max_len + 1)``, <eos> then PAD."""
    return _generate(model, src, max_len, lambda lp: lp.argmax(-1))


def sample(model, src: torch.Tensor, max_len: int, temperature: float = 1.0,
           generator: torch.Generator | None = None) -> torch.Tensor:
    """Sampling (§2) from softmax(logits / temperature); ids ``(B, ≤ max_len + 1)``."""
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")

    def pick(lp):
        probs = torch.softmax(lp / temperature, dim=-1)                    # (B, V)
        return multinomial(probs, generator)      # a CPU generator draws the same on any device
    return _generate(model, src, max_len, pick)


def beam_finished(model, src: torch.Tensor, beam_size: int, max_len: int,
                  hook=None) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor]]:
    """The beam search of §4.2, batched over inputs ``src`` ``(B, S)``: every hypothesis it
    finishes, step by step, as ``(score, logp, term, tokens)`` — ``score`` ``(B, K)`` the search
    score of the hypothesis ending in <eos> at that step (−inf where none finished), ``logp``
    ``(B, K)`` its log P(T|S), ``term`` ``(B, K)`` the sum of the hook's terms (``None``
    without a hook), ``tokens`` ``(B, K, t)`` its words without <eos>.

    At every step the K best unfinished extensions stay alive; an <eos> extension that ranks
    among the step's K best candidates is a finished hypothesis (so a beam of 1 is greedy
    decoding). No length normalisation (the paper notes beam search favours short responses,
    §4.3). A beam still alive after ``max_len`` words must emit <eos>. Stops once no alive
    beam can beat an input's K-th finished hypothesis.

    ``hook`` changes the search score of the first ``hook.steps`` steps:
    ``hook(t, y, logprobs) -> (scores, term)`` gets the step's log-probs ``(B, K, V)`` after
    the previous tokens ``y`` ``(B·K,)`` and returns the scores that replace them and a term
    ``(B, K, V)`` summed per hypothesis; ``hook.reorder(rows)`` follows the surviving beams.
    The early stop is checked only past ``hook.steps``, where scores can no longer rise.
    """
    K, ninf = beam_size, float("-inf")
    with _eval(model):
        src = src.to(model_device(model))
        enc, (h, c), mask = model.encode(src)
        B, dev = src.shape[0], src.device
        enc, mask = enc.repeat_interleave(K, 0), mask.repeat_interleave(K, 0)   # (B·K, S, H)
        state = (h.repeat_interleave(K, 1), c.repeat_interleave(K, 1))          # (1, B·K, H)
        score = torch.full((B, K), ninf, device=dev)
        score[:, 0] = 0.0                       # one live beam at the start: no duplicates
        logp = torch.zeros(B, K, device=dev)
        term_sum = torch.zeros(B, K, device=dev) if hook is not None else None
        tokens = torch.empty(B, K, 0, dtype=torch.long, device=dev)
        y = torch.full((B * K,), BOS, dtype=torch.long, device=dev)
        fin = []                                # per step: (score, logp, term) (B, K), tokens
        for t in range(max_len + 1):
            lp, state = model.step(y, state, enc, mask)
            V = lp.shape[-1]
            lp = lp.view(B, K, V)                                            # (B, K, V)
            if hook is not None and t < hook.steps:
                adj, term = hook(t, y, lp)
            else:
                adj, term = lp.clone(), None if hook is None else torch.zeros_like(lp)
            adj[:, :, list(NEVER)] = ninf
            cand = score.unsqueeze(2) + adj                                  # (B, K, V)
            eos = cand[:, :, EOS].clone()                                    # (B, K)
            if t < max_len:     # an <eos> ends a hypothesis only if it makes the top K
                kth = cand.view(B, K * V).topk(K, dim=1).values[:, -1:]      # (B, 1)
                eos = eos.masked_fill(eos < kth, ninf)
            fin.append((eos, logp + lp[:, :, EOS],
                        None if term is None else term_sum + term[:, :, EOS], tokens))
            if t == max_len:
                break
            cand[:, :, EOS] = ninf
            score, flat = cand.view(B, K * V).topk(K, dim=1)                 # (B, K)
            beam, word = flat // V, flat % V
            logp = logp.gather(1, beam) + lp.view(B, K * V).gather(1, flat)
            if term is not None:
                term_sum = term_sum.gather(1, beam) + term.view(B, K * V).gather(1, flat)
            tokens = torch.cat([tokens.gather(1, beam.unsqueeze(2).expand_as(tokens)),
                                word.unsqueeze(2)], dim=2)                   # (B, K, t + 1)
            rows = (beam + torch.arange(B, device=dev).unsqueeze(1) * K).view(-1)   # (B·K,)
            state = (state[0][:, rows], state[1][:, rows])
            if hook is not None:
                hook.reorder(rows)
            y = word.view(-1)
            if hook is None or t + 1 >= hook.steps:   # from here on every step adds log P ≤ 0
                kth_done = torch.cat([f[0] for f in fin], 1).topk(K, dim=1).values[:, -1]   # (B,)
                if bool((score[:, 0] <= kth_done).all()):
                    break
        return fin


def beam_search(model, src: torch.Tensor, beam_size: int,
                max_len: int) -> list[list[tuple[list[int], float]]]:
    """Beam search (§4.2, :func:`beam_finished`) for inputs ``src`` ``(B, S)``: for each input
    the ``beam_size`` best finished hypotheses as ``(ids ending in <eos>, sum of log-probs)``,
    best first."""
    K, ninf = beam_size, float("-inf")
    fin = beam_finished(model, src, beam_size, max_len)
    all_scores = torch.cat([f[0] for f in fin], dim=1)                       # (B, K·steps)
    best, where = all_scores.topk(min(K, all_scores.shape[1]), dim=1)
    best, where = best.cpu(), where.cpu()                                    # one copy, not B·K
    fin_tokens = [f[3].cpu() for f in fin]
    results = []
    for b in range(src.shape[0]):
        nbest = []
        for s, w in zip(best[b].tolist(), where[b].tolist()):
            if s == ninf:
                break
            step, k = divmod(w, K)
            nbest.append((fin_tokens[step][b, k].tolist() + [EOS], s))
        results.append(nbest)
    return results


def respond(model, src: torch.Tensor, vocab, method: str = "greedy", batch_size: int = 256, *,
            max_len: int, **kwargs) -> list[str]:
    """Response strings for sources ``(N, S)`` by ``method`` = greedy | sample | beam (top-1)."""
    methods = {"greedy": greedy, "sample": sample, "beam": beam_search}
    if method not in methods:
        raise ValueError(f"unknown decoding method {method!r}; choose one of {sorted(methods)}")
    out = []
    for i in range(0, src.shape[0], batch_size):
        ids = methods[method](model, src[i:i + batch_size], max_len=max_len, **kwargs)
        if method == "beam":
            ids = [nbest[0][0] if nbest else [EOS] for nbest in ids]
        else:
            ids = ids.cpu()                       # one copy, not a sync per row
        out.extend(" ".join(vocab.decode(row)) for row in ids)
    return out
