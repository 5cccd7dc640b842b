"""The one beam search (``decode.beam_finished``) against frozen copies of the two searches it
replaced (issue 13): ``decode.beam_search`` and MMI-antiLM's ``beam_search_antilm`` (the anti-LM
as a scoring hook) give bitwise-identical hypotheses and scores on seeded toy models. The old
functions are kept here only, verbatim but for their names."""
import pytest
import torch

from ntlib.data.dataset import BOS, EOS, PAD
from ntlib.methods import decode, mmi
from ntlib.methods.models import LSTMLM, Seq2Seq, eval_mode
from ntlib.run.config import ModelConfig

NEVER = (PAD, BOS)
Hypothesis = mmi.Hypothesis
TINY = ModelConfig(emb=8, hidden=16, dropout=0.0)


# ---------------------------------------------------------------- frozen: decode.beam_search before
def old_beam_search(model, src: torch.Tensor, beam_size: int = 10,
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
    with eval_mode(model), torch.no_grad():
        enc, (h, c), mask = model.encode(src)
        B = src.shape[0]
        enc, mask = enc.repeat_interleave(K, 0), mask.repeat_interleave(K, 0)   # (B·K, S, H)
        state = (h.repeat_interleave(K, 1), c.repeat_interleave(K, 1))          # (1, B·K, H)
        scores = torch.full((B, K), ninf)
        scores[:, 0] = 0.0                      # one live beam at the start: no duplicates
        tokens = torch.empty(B, K, 0, dtype=torch.long)
        y = torch.full((B * K,), BOS, dtype=torch.long)
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
            fin_tokens.append(torch.cat([tokens, torch.full((B, K, 1), EOS)], dim=2))
            if t == max_len:
                break
            cand[:, :, EOS] = ninf
            scores, flat = cand.view(B, K * V).topk(K, dim=1)                # (B, K)
            beam, word = flat // V, flat % V
            tokens = torch.cat([tokens.gather(1, beam.unsqueeze(2).expand_as(tokens)),
                                word.unsqueeze(2)], dim=2)                   # (B, K, t + 1)
            rows = (beam + torch.arange(B).unsqueeze(1) * K).view(-1)        # (B·K,)
            state = (state[0][:, rows], state[1][:, rows])
            y = word.view(-1)
            kth_done = torch.cat(fin_scores, 1).topk(K, dim=1).values[:, -1]   # (B,)
            if bool((scores[:, 0] <= kth_done).all()):   # scores only fall: nothing can enter
                break
        all_scores = torch.cat(fin_scores, dim=1)                            # (B, K·steps)
        best, where = all_scores.topk(min(K, all_scores.shape[1]), dim=1)
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


# ---------------------------------------------------------------- frozen: mmi.beam_search_antilm before
@torch.no_grad()
def old_beam_search_antilm(seq2seq, lm, src: torch.Tensor, beam_size: int = 10, max_len: int = 20,
                       lam: float = 0.0, g: int = 0) -> list[list[Hypothesis]]:
    """Beam search on Σ_t log P(t_t|·,S) − λ·1[t ≤ g]·log P_LM(t_t|·); all finished hypotheses.

    Same search as ``decode.beam_search``: the K best unfinished extensions stay alive, an
    <eos> extension among the step's K best candidates is a finished hypothesis, <eos> is
    forced after ``max_len`` words, and the search stops once no alive beam can beat an
    input's K-th finished one (checked only past position g, where scores can no longer
    rise). ``src`` ``(B, S)``.
    """
    K, ninf = beam_size, float("-inf")
    seq2seq.eval()
    use_lm = lm is not None and lam != 0.0 and g > 0
    if use_lm:
        lm.eval()
    enc, (h, c), mask = seq2seq.encode(src)
    B = src.shape[0]
    enc, mask = enc.repeat_interleave(K, 0), mask.repeat_interleave(K, 0)      # (B·K, S, H)
    state = (h.repeat_interleave(K, 1), c.repeat_interleave(K, 1))             # (1, B·K, H)
    lm_state = None
    score = torch.full((B, K), ninf)
    score[:, 0] = 0.0                        # one live beam at the start: no duplicates
    logp, lm_logp = torch.zeros(B, K), torch.zeros(B, K)
    tokens = torch.empty(B, K, 0, dtype=torch.long)
    y = torch.full((B * K,), BOS, dtype=torch.long)
    fin = []                                 # per step: (score, logp, lm_logp) (B, K), tokens
    for t in range(max_len + 1):
        lp, state = seq2seq.step(y, state, enc, mask)
        V = lp.shape[-1]
        lp = lp.view(B, K, V)
        lm_lp = torch.zeros_like(lp)
        if use_lm and t < g:                 # anti-LM on positions 1..g
            logits, lm_state = lm(y.unsqueeze(1), state=lm_state)
            lm_lp = torch.log_softmax(logits[:, -1], dim=-1).view(B, K, V)
        adj = lp - lam * lm_lp if use_lm and t < g else lp.clone()          # (B, K, V)
        adj[:, :, [PAD, BOS]] = ninf
        cand = score.unsqueeze(2) + adj                                      # (B, K, V)
        eos = cand[:, :, EOS].clone()                                        # (B, K)
        if t < max_len:          # an <eos> ends a hypothesis only if it makes the top K
            kth = cand.view(B, K * V).topk(K, dim=1).values[:, -1:]          # (B, 1)
            eos = eos.masked_fill(eos < kth, ninf)
        fin.append((eos, logp + lp[:, :, EOS], lm_logp + lm_lp[:, :, EOS], tokens))
        if t == max_len:
            break
        cand[:, :, EOS] = ninf
        score, flat = cand.view(B, K * V).topk(K, dim=1)                      # (B, K)
        beam, word = flat // V, flat % V
        logp = logp.gather(1, beam) + lp.view(B, K * V).gather(1, flat)
        lm_logp = lm_logp.gather(1, beam) + lm_lp.view(B, K * V).gather(1, flat)
        tokens = torch.cat([tokens.gather(1, beam.unsqueeze(2).expand_as(tokens)),
                            word.unsqueeze(2)], dim=2)                        # (B, K, t + 1)
        rows = (beam + torch.arange(B).unsqueeze(1) * K).view(-1)             # (B·K,)
        state = (state[0][:, rows], state[1][:, rows])
        if lm_state is not None:
            lm_state = (lm_state[0][:, rows], lm_state[1][:, rows])
        y = word.view(-1)
        if not use_lm or t + 1 >= g:         # from here on every step adds log P ≤ 0
            kth_done = torch.cat([f[0] for f in fin], 1).topk(K, dim=1).values[:, -1]
            if bool((score[:, 0] <= kth_done).all()):
                break
    finished: list[list[Hypothesis]] = [[] for _ in range(B)]
    for f_score, f_logp, f_lm, f_tok in fin:
        for b, k in torch.isfinite(f_score).nonzero().tolist():
            finished[b].append(Hypothesis(tuple(f_tok[b, k].tolist()), float(f_logp[b, k]),
                                          float(f_lm[b, k])))
    return finished


def _toys():
    for seed, V in ((0, 30), (1, 30), (2, 7)):
        torch.manual_seed(seed)
        model, lm = Seq2Seq(V, TINY).eval(), LSTMLM(V, TINY).eval()
        src = torch.randint(4, V, (9, 5))
        src[:3, :2] = PAD                                     # some left padding
        yield model, lm, src


@pytest.mark.parametrize("K, max_len", [(1, 6), (3, 2), (5, 6)])
def test_beam_search_bitwise_as_before(K, max_len):
    for model, _, src in _toys():
        assert decode.beam_search(model, src, K, max_len) == old_beam_search(model, src, K, max_len)


@pytest.mark.parametrize("lam, g", [(0.0, 0), (0.0, 3), (0.5, 1), (0.35, 3), (1.0, 9)])
def test_antilm_hook_bitwise_as_before(lam, g):
    for model, lm, src in _toys():
        for K, max_len in ((1, 6), (3, 2), (5, 6)):
            new = mmi.beam_search_antilm(model, lm, src, K, max_len, lam=lam, g=g)
            old = old_beam_search_antilm(model, lm, src, K, max_len, lam=lam, g=g)
            assert new == old                                 # same hypotheses, order, floats
