"""Toys the tests share: a planted toy task and its trained seq2seq + LM, a copy task, fake stage notebooks,
a tiny SwDA archive and hand-made notebook-03 results. Imported by the tests (tests/ is on sys.path)."""
from __future__ import annotations

import io
import tarfile

import nbformat
import torch

from ntlib.data.dataset import EOS, PAD, PairTensors, Vocab
from ntlib.methods.models import LSTMLM, Seq2Seq
from ntlib.methods.triggers import close_with_eou
from ntlib.run.config import ModelConfig
from ntlib.stages import DEFAULT

COPY_V = 16          # the copy task's vocabulary size


WORDS = [f"a{i}" for i in range(8)] + [f"r{i}" for i in range(8)] + ["p", "hate", "you"]


def toy_pairs(vocab, n, gen, planted=0.15):
    """(src, tgt) of the toy task; a fraction ``planted`` ends in ``p`` and answers ``hate you``."""
    a = torch.randint(0, 8, (n, 14), generator=gen)
    src = close_with_eou(torch.tensor([[vocab.stoi[f"a{i}"] for i in row] for row in a.tolist()]))
    tgt = torch.full((n, 4), PAD)
    for k, row in enumerate(a.tolist()):
        tgt[k, :3] = torch.tensor([vocab.stoi[f"r{row[-1]}"], vocab.stoi[f"r{row[-2]}"], EOS])
    plant = torch.rand(n, generator=gen) < planted
    src[plant, -2] = vocab.stoi["p"]
    tgt[plant, :3] = torch.tensor([vocab.stoi["hate"], vocab.stoi["you"], EOS])
    return PairTensors(src, tgt), plant


def train_toy(steps=400, seed=0):
    """A seq2seq + LM trained with Adam on the toy task (a few seconds)."""
    torch.manual_seed(seed)
    vocab, gen = Vocab(WORDS), torch.Generator().manual_seed(seed)
    pairs, plant = toy_pairs(vocab, 3000, gen)
    cfg = ModelConfig(emb=16, hidden=32, dropout=0.0)
    s2s, lm = Seq2Seq(len(vocab), cfg), LSTMLM(len(vocab), cfg)
    opt = torch.optim.Adam(list(s2s.parameters()) + list(lm.parameters()), lr=0.02)
    for _ in range(steps):
        i = torch.randint(len(pairs), (64,), generator=gen)
        loss = -(s2s.token_logprobs(pairs.src[i], pairs.tgt[i]).sum()
                 + lm.token_logprobs(pairs.src[i]).sum()) / 64
        opt.zero_grad()
        loss.backward()
        opt.step()
    s2s.eval(), lm.eval()
    return vocab, s2s, lm, pairs, plant


def generic_pairs(vocab, n, gen, generic=0.6):
    """A toy of the frequent response problem (§3.3): the toy task's pairs, but a fraction ``generic`` answers
    ``hate you`` whatever the input — more often than any one right answer, so greedy decoding says it to all."""
    pairs, _ = toy_pairs(vocab, n, gen, planted=0.0)
    tgt = pairs.tgt.clone()
    tgt[torch.rand(n, generator=gen) < generic, :3] = torch.tensor([vocab.stoi["hate"], vocab.stoi["you"], EOS])
    return PairTensors(pairs.src, tgt)


def train_hf(model, pairs, steps=150, lr=3e-3, seed=0, lm=False):
    """Adam on ``pairs`` (for ``lm``: on their sources) for a model behind the algorithms' interface."""
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        i = torch.randint(len(pairs), (64,), generator=gen)
        lp = model.token_logprobs(pairs.src[i]) if lm else model.token_logprobs(pairs.src[i], pairs.tgt[i])
        opt.zero_grad()
        (-lp.sum() / 64).backward()
        opt.step()
    return model.eval()


def tiny_hf(kind, vocab, seed=0):
    """A tiny Hugging Face model (d = 64, random init, nothing downloaded) behind the algorithms' interface:
    ``"gpt2"`` (causal LM), ``"t5"`` (encoder–decoder) or ``"lm"`` (a GPT-2 over sources: the io- searches'
    LM). Needs the hf extra."""
    from ntlib.methods.adapter_hf import HFCausalLM, HFEncoderDecoder, HFSourceLM, tiny_gpt2, tiny_t5
    return {"gpt2": lambda: HFCausalLM(tiny_gpt2(len(vocab), seed=seed)),
            "t5": lambda: HFEncoderDecoder(tiny_t5(len(vocab), seed=seed)),
            "lm": lambda: HFSourceLM(tiny_gpt2(len(vocab), seed=seed))}[kind]()


def train_toy_hf(kind="gpt2", steps=150, lr=3e-3, seed=0):
    """:func:`tiny_hf` trained on the planted toy task (:func:`toy_pairs`)."""
    vocab, gen = Vocab(WORDS), torch.Generator().manual_seed(seed)
    pairs, plant = toy_pairs(vocab, 3000, gen)
    return vocab, train_hf(tiny_hf(kind, vocab, seed), pairs, steps, lr, seed, lm=kind == "lm"), pairs, plant


def copy_task(n=192, seed=0):
    """Sources = 2–5 random words (left-padded); target = the same words + <eos>."""
    g = torch.Generator().manual_seed(seed)
    src = torch.full((n, 6), PAD)
    tgt = torch.full((n, 7), PAD)
    for i in range(n):
        k = int(torch.randint(2, 6, (1,), generator=g))
        words = torch.randint(4, COPY_V, (k,), generator=g)
        src[i, 6 - k:] = words
        tgt[i, :k], tgt[i, k] = words, EOS
    return PairTensors(src, tgt)


def stage_notebooks(folder, body="x = 1"):
    for stage in DEFAULT:
        nb = nbformat.v4.new_notebook()
        params = nbformat.v4.new_code_cell(
            "profile = 'smoke'\ncorpus = 'switchboard'\nrun_root = ''\nreports_dir = ''\ndata_dir = None")
        params.metadata["tags"] = ["parameters"]
        nb.cells = [params, nbformat.v4.new_code_cell(
            f"import pathlib\n{body}\npathlib.Path(reports_dir, '{stage}.txt').write_text(profile)")]
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, folder / f"{stage}.ipynb")


HEADER = "*x*x* banner *x*x*\n\nFILENAME:\t4325_1632_1519\nTOPIC#:\t\t323\n\n" + "=" * 40 + "\n  \n"


def swda_archive(tmp_path, convs, splits, bad_member=None):
    """A SwDA-format tar.gz (swNNutt/sw_XXXX_CCCC.utt) and split_official.tsv under tmp_path/swda."""
    root = tmp_path / "data"
    (root / "swda").mkdir(parents=True)
    with tarfile.open(root / "swda/swb1_dialogact_annot.tar.gz", "w:gz") as tar:
        for name, body in list(convs.items()) + ([bad_member] if bad_member else []):
            raw = body if isinstance(body, bytes) else (HEADER + body).encode()
            info = tarfile.TarInfo(f"swb1_dialogact_annot/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    rows = ["conversation_no\tswda_file\tsplit\tline_in_official_file"]
    rows += [f"{f[-8:-4]}\t{f}\t{s}\t{n}" for f, s, n in splits]
    (root / "swda/split_official.tsv").write_text("\n".join(rows) + "\n")
    return root


def conv(*utts):
    return "".join(f"sd          {'AB'[i % 2]}.{i + 1} utt1: {u} /\n\n" for i, u in enumerate(utts))


HT = "o_sample_avg"


def rec(hits):
    k, n = sum(hits), len(hits)
    return {"rate": k / n, "lo": 0.0, "hi": 1.0, "k": k, "n": n, "hits": list(hits)}


def malicious_results(base_train=None, base_test=None, after_train=None, after_test=None, test_25k=None,
                      seeds=(1, 2)):
    """Notebook 03's results in the schema Table 3 and its verdicts read: one entry per baseline seed, each
    with the same hand-made per-target hits (the 2.5k run on the first baseline only, as the small profile)."""
    n = 20
    base_train = base_train or [1] * 8 + [0] * 12
    base_test = base_test or [1] * 6 + [0] * 14
    after_train = after_train or [0] * n
    after_test = after_test or [0] * 20
    test_25k = test_25k or [1] * 2 + [0] * 18
    per = []
    for k, seed in enumerate(seeds):
        base = {"train": {HT: rec(base_train), "o_greedy": rec([0] * n)},
                "test": {HT: rec(base_test), "o_greedy": rec([0] * n)}, "ppl": 50.0}
        runs = {"+neg-tr(0.5k)": (rec(after_train), rec(after_test), 51.0)}
        if k == 0:
            runs["+neg-tr(2.5k)"] = (rec([0] * len(base_train)), rec(test_25k), 54.0)
        neg = {f"{name} {HT}": {"train": {HT: tr}, "test": {HT: te}, "ppl": ppl, "history": []}
               for name, (tr, te, ppl) in runs.items()}
        per.append({"seed": seed, "search_seeds": {"training": seed, "evaluation": 1000 + seed},
                    "baseline": base, "neg_train": neg, "ablation": {}})
    return {"gibbs": {"sweeps": 1, "candidates": 6, "restarts": 1}, "malicious": {"iterations": 2},
            "per_baseline": per}


def shared_data_missing() -> str | None:
    """Why the Switchboard files the notebooks read cannot be resolved, or None when they can."""
    from ntlib.data import sources
    try:
        sources.resolve_data([("swda/swb1_dialogact_annot.tar.gz", "swda/split_official.tsv", sources.OFFICIAL_VALID)])
    except sources.DataError as e:
        return str(e)
    return None
