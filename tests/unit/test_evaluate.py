"""ntlib.methods.evaluate: Tables 4 / 9's evaluation set spread over every test dialogue (issue 29: the first
1,000 test pairs came from 7 of the 25 dialogues), and its provenance."""
from types import SimpleNamespace

import torch

from ntlib.data.dataset import PairTensors
from ntlib.methods import evaluate


def _data(sizes):
    dialogues = [d for d, n in enumerate(sizes) for _ in range(n)]
    n = len(dialogues)
    src = torch.arange(n).unsqueeze(1).repeat(1, 3)            # row i holds i: the subset is checkable
    return SimpleNamespace(test_dialogues=dialogues, test=PairTensors(src, src.clone()))


def test_eval_set_spreads_over_every_dialogue_in_proportion():
    data = _data([10, 5, 5])
    # one per dialogue, then 1 more in proportion to 9, 4, 4 remaining pairs: quotas 1.53, 1.24, 1.24 → the
    # largest remainder (dialogue 0) takes it: the ends of dialogue 0, the middles of 1 and 2
    ev = evaluate.eval_set(data, 4)
    assert ev.idx == [0, 9, 12, 17] and ev.dialogues == [0, 0, 1, 2]
    assert ev.pairs.src[:, 0].tolist() == ev.idx
    ev = evaluate.eval_set(data, 5)               # quotas 1 + 2 × (9, 4, 4) / 17 = 2.06, 1.47, 1.47 → 2, 2, 1
    assert ev.idx == [0, 9, 10, 14, 17] and ev.dialogues == [0, 0, 1, 1, 2]
    assert evaluate.eval_set(data, 2).dialogues == [0, 1]      # fewer inputs than dialogues: in proportion
    assert evaluate.eval_set(data, None).idx == list(range(20)) == evaluate.eval_set(data, 50).idx


def test_every_dialogue_is_scored_and_the_provenance_names_them():
    data = _data([40, 3, 30, 2, 25])
    ev = evaluate.eval_set(data, 10)
    assert len(ev) == 10 and set(ev.dialogues) == {0, 1, 2, 3, 4}    # the 2- and 3-pair dialogues too
    meta = evaluate.provenance("smoke", "switchboard", 1, ev)
    assert meta["n_inputs"] == 10 and meta["dialogues"] == ev.dialogues and len(meta["inputs_sha"]) == 16
    assert meta["inputs_sha"] == evaluate.inputs_sha(ev.pairs.src)
