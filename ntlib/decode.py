"""Decoding a trained seq2seq (§2): greedy, sampling, and beam search with n-best lists.

Greedy decoding gives the stable outputs whose frequent-response problem §3.3 / §4.3
measures; sampling gives the diverse outputs behind the malicious response problem (§3.2);
beam search gives the 10-best lists compared before / after negative training (§4.2).
All work on batches of left-padded sources ``(B, S)``, never trimmed (see
``ntlib.train.seq2seq_nll``), and return at most ``max_len`` words
followed by ``<eos>`` (App. B: outputs ≤ 20 tokens). Shown in notebooks/02_baselines.ipynb.
"""
from __future__ import annotations

import contextlib

import torch

from .device import model_device, multinomial
from .models import BOS, EOS, PAD, eval_mode

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
        enc, state, mask = model.encode(src)
        B, dev = src.shape[0], src.device
        y = torch.full((B,), BOS, dtype=torch.long, device=dev)
        done = torch.zeros(B, dtype=torch.bool, device=dev)
        out = []
        for _ in range(max_len):
            logprobs, state = model.step(y, state, enc, mask)               # (B, V)
            logprobs[:, list(NEVER)] = float("-inf")
            y = pick(logprobs).masked_fill(done, PAD)                       # (B,)
            out.append(y)
            done |= y == EOS
            if bool(done.all()):
                break
        if not bool(done.all()):                # App. B: cut at max_len words, then <eos>
            out.append(torch.where(done, PAD, EOS))
        return torch.stack(out, dim=1)                                      # (B, ≤ max_len + 1)


def greedy(model, src: torch.Tensor, max_len: int = 20) -> torch.Tensor:
    """Greedy decoding (§2): argmax at every step; ids ``(B, ≤ max_len + 1)``, <eos> then PAD."""
    return _generate(model, src, max_len, lambda lp: lp.argmax(-1))


def sample(model, src: torch.Tensor, max_len: int = 20, temperature: float = 1.0,
           generator: torch.Generator | None = None) -> torch.Tensor:
    """Sampling (§2) from softmax(logits / temperature); ids ``(B, ≤ max_len + 1)``."""
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")

    def pick(lp):
        probs = torch.softmax(lp / temperature, dim=-1)                    # (B, V)
        return multinomial(probs, generator)      # a CPU generator draws the same on any device
    return _generate(model, src, max_len, pick)


def beam_search(model, src: torch.Tensor, beam_size: int = 10,
                max_len: int = 20) -> list[list[tuple[list[int], float]]]:
    """Beam search (§4.2), batched over inputs: for each input the ``beam_size`` best finished
    hypotheses as ``(ids ending in <eos>, sum of log-probs)``, best first.

    At every step the ``beam_size`` best unfinished extensions stay alive; an <eos> extension
    that ranks among the step's ``beam_size`` best candidates is a finished hypothesis (so a
    beam of 1 is greedy decoding). No length normalisation (the paper notes beam search
    favours short responses, §4.3). A beam still alive after ``max_len`` words must emit
    <eos>. Stops once no alive beam can beat an input's k-th finished hypothesis.
    """
    K, ninf = beam_size, float("-inf")
    with _eval(model):
        src = src.to(model_device(model))
        enc, (h, c), mask = model.encode(src)
        B, dev = src.shape[0], src.device
        enc, mask = enc.repeat_interleave(K, 0), mask.repeat_interleave(K, 0)   # (B·K, S, H)
        state = (h.repeat_interleave(K, 1), c.repeat_interleave(K, 1))          # (1, B·K, H)
        scores = torch.full((B, K), ninf, device=dev)
        scores[:, 0] = 0.0                      # one live beam at the start: no duplicates
        tokens = torch.empty(B, K, 0, dtype=torch.long, device=dev)
        y = torch.full((B * K,), BOS, dtype=torch.long, device=dev)
        fin_scores, fin_tokens = [], []         # per step: (B, K) and (B, K, t + 1)
        for t in range(max_len + 1):
            logprobs, state = model.step(y, state, enc, mask)                # (B·K, V)
            V = logprobs.shape[-1]
            logprobs = logprobs.view(B, K, V)
            logprobs[:, :, list(NEVER)] = ninf
            cand = scores.unsqueeze(2) + logprobs                            # (B, K, V)
            eos_scores = cand[:, :, EOS].clone()                             # (B, K)
            if t < max_len:     # an <eos> ends a hypothesis only if it makes the top K
                kth = cand.view(B, K * V).topk(K, dim=1).values[:, -1:]      # (B, 1)
                eos_scores = eos_scores.masked_fill(eos_scores < kth, ninf)
            fin_scores.append(eos_scores)
            fin_tokens.append(torch.cat([tokens, torch.full((B, K, 1), EOS, device=dev)], dim=2))
            if t == max_len:
                break
            cand[:, :, EOS] = ninf
            scores, flat = cand.view(B, K * V).topk(K, dim=1)                # (B, K)
            beam, word = flat // V, flat % V
            tokens = torch.cat([tokens.gather(1, beam.unsqueeze(2).expand_as(tokens)),
                                word.unsqueeze(2)], dim=2)                   # (B, K, t + 1)
            rows = (beam + torch.arange(B, device=dev).unsqueeze(1) * K).view(-1)   # (B·K,)
            state = (state[0][:, rows], state[1][:, rows])
            y = word.view(-1)
            kth_done = torch.cat(fin_scores, 1).topk(K, dim=1).values[:, -1]   # (B,)
            if bool((scores[:, 0] <= kth_done).all()):   # scores only fall: nothing can enter
                break
        all_scores = torch.cat(fin_scores, dim=1)                            # (B, K·steps)
        best, where = all_scores.topk(min(K, all_scores.shape[1]), dim=1)
        best, where = best.cpu(), where.cpu()                                # one copy, not B·K
        fin_tokens = [f.cpu() for f in fin_tokens]
        results = []
        for b in range(B):
            nbest = []
            for s, w in zip(best[b].tolist(), where[b].tolist()):
                if s == ninf:
                    break
                step, k = divmod(w, K)
                nbest.append((fin_tokens[step][b, k].tolist(), s))
            results.append(nbest)
        return results


def respond(model, src: torch.Tensor, vocab, method: str = "greedy", batch_size: int = 256,
            max_len: int = 20, **kwargs) -> list[str]:
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
