"""ntlib.methods.decode: greedy / sampling / beam search against hand loops and exhaustive search."""
import itertools

import pytest
import torch

from ntlib.data.dataset import BOS, EOS, PAD, Vocab
from ntlib.methods import decode
from ntlib.methods.models import build_model
from ntlib.run.config import ModelConfig

torch.set_num_threads(1)


def toy(V=12, seed=0):
    torch.manual_seed(seed)
    return build_model("seq2seq", V, ModelConfig(emb=8, hidden=12, dropout=0.0)).eval()


SRC = torch.tensor([[PAD, PAD, 5, 6, 7], [4, 8, 9, 10, 11], [PAD, PAD, PAD, 4, 4]])


def score(model, src, ids):
    """Sum of log-probs of ``ids`` (ending in <eos>) given one source, by teacher forcing."""
    with torch.no_grad():
        return float(model.token_logprobs(src.unsqueeze(0), torch.tensor([ids])).sum())


def test_greedy_equals_a_hand_argmax_loop():
    m = toy()
    out = decode.greedy(m, SRC, max_len=6)
    for b in range(len(SRC)):
        with torch.no_grad():
            enc, state, mask = m.encode(SRC[b:b + 1])
            y, ids = torch.tensor([BOS]), []
            for _ in range(6):
                lp, state = m.step(y, state, enc, mask)
                lp[:, [PAD, BOS]] = float("-inf")
                y = lp.argmax(-1)
                ids.append(int(y))
                if ids[-1] == EOS:
                    break
        if ids[-1] != EOS:
            ids.append(EOS)
        row = out[b].tolist()
        assert row[:len(ids)] == ids and set(row[len(ids):]) <= {PAD}


def test_greedy_stops_at_max_len_with_eos_and_is_batch_invariant():
    m = toy()
    with torch.no_grad():
        m.out.bias[EOS] = -1e4                                  # the model never ends by itself
    out = decode.greedy(m, SRC, max_len=4)
    assert out.shape == (3, 5) and (out[:, -1] == EOS).all() and (out[:, :4] > EOS).all()
    one = decode.greedy(m, SRC[1:2], max_len=4)
    assert torch.equal(one[0], out[1])


def test_sampling_is_reproducible_and_low_temperature_is_greedy():
    m = toy()
    a = decode.sample(m, SRC, 20, generator=torch.Generator().manual_seed(1))
    b = decode.sample(m, SRC, 20, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    cold = decode.sample(m, SRC, 20, temperature=1e-4, generator=torch.Generator().manual_seed(1))
    assert torch.equal(cold, decode.greedy(m, SRC, 20))
    with pytest.raises(ValueError, match="temperature"):
        decode.sample(m, SRC, 20, temperature=0)


def test_beam_size_one_is_greedy_and_scores_are_log_likelihoods():
    m = toy()
    g = decode.greedy(m, SRC, max_len=6)
    for b, nbest in enumerate(decode.beam_search(m, SRC, beam_size=1, max_len=6)):
        ids, s = nbest[0]
        assert ids == [t for t in g[b].tolist() if t != PAD]
    for b, nbest in enumerate(decode.beam_search(m, SRC, beam_size=4, max_len=6)):
        assert len(nbest) == 4 and len({tuple(i) for i, _ in nbest}) == 4
        assert [s for _, s in nbest] == sorted((s for _, s in nbest), reverse=True)
        for ids, s in nbest:
            assert ids[-1] == EOS and EOS not in ids[:-1] and len(ids) <= 7
            assert s == pytest.approx(score(m, SRC[b], ids), abs=1e-4)


def test_wide_beam_equals_exhaustive_search_on_a_tiny_vocabulary():
    # words <unk>, 4, 5 and ≤ 2 of them: 13 sequences. A beam of 12 keeps every candidate
    # at every step, so its 12-best list must be the exact 12 most likely sequences.
    m, words, max_len, K = toy(V=6, seed=3), [1, 4, 5], 2, 12
    seqs = [list(p) + [EOS] for n in range(max_len + 1) for p in itertools.product(words, repeat=n)]
    src = SRC[:, -3:] % 6
    for b, nbest in enumerate(decode.beam_search(m, src, beam_size=K, max_len=max_len)):
        exact = sorted(seqs, key=lambda ids: -score(m, src[b], ids))[:K]
        assert [ids for ids, _ in nbest] == exact


def test_beam_search_is_batch_invariant():
    m = toy()
    together = decode.beam_search(m, SRC, beam_size=5, max_len=20)
    for b in range(len(SRC)):
        alone = decode.beam_search(m, SRC[b:b + 1], beam_size=5, max_len=20)[0]
        assert [i for i, _ in alone] == [i for i, _ in together[b]]


def test_respond_gives_strings():
    m, vocab = toy(), Vocab([f"w{i}" for i in range(7)])            # 5 specials + 7 words = 12
    out = decode.respond(m, SRC, vocab, method="greedy", batch_size=2, max_len=20)
    assert len(out) == 3 and all(isinstance(r, str) for r in out)
    assert out[0] == " ".join(vocab.decode(decode.greedy(m, SRC[:1], 20)[0]))
    assert len(decode.respond(m, SRC, vocab, method="beam", beam_size=3, max_len=20)) == 3
    with pytest.raises(ValueError, match="unknown decoding method"):
        decode.respond(m, SRC, vocab, method="nucleus", max_len=20)
