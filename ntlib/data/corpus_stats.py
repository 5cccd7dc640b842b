"""Our corpus beside the paper's: split statistics against App. B, OOV rates, and our Switchboard
valid/test utterance by utterance against the authors' released files.

Shown in notebooks/01_data.ipynb; ``python -m ntlib.data.corpus_stats verify-switchboard`` runs the
check from the command line.
"""
from __future__ import annotations

import argparse
import difflib

import pandas as pd

from ntlib.data.corpora import DataError
from ntlib.data.dataset import EOU, Corpus, Dialogue, Vocab
from ntlib.data.sources import OFFICIAL_TEST, OFFICIAL_VALID, SOURCES, check_sha256sums, resolve_data
from ntlib.results.paper import APPENDIX_B


def oov_rate(dialogues: list[Dialogue], vocab: Vocab) -> float:
    """Fraction of the tokens of ``dialogues`` that map to ``<unk>``."""
    toks = [t for d in dialogues for u in d for t in u]
    return sum(t not in vocab.stoi for t in toks) / max(1, len(toks))


def split_stats(corpus: Corpus):
    """Dialogues, sentences (= utterances), pairs (one per utterance but a dialogue's first), words."""
    rows = {name: {"dialogues": len(ds), "sentences": sum(map(len, ds)),
                   "pairs": sum(max(0, len(d) - 1) for d in ds),
                   "words": sum(len(u) for d in ds for u in d)}
            for name, ds in (("train", corpus.train), ("valid", corpus.valid), ("test", corpus.test))}
    return pd.DataFrame.from_dict(rows, orient="index")


def stats_beside_paper(corpus: Corpus, vocab_size: int):
    """Our split statistics beside App. B's (``ntlib.results.paper.APPENDIX_B``; '–' where it has none)."""
    st, paper = split_stats(corpus), APPENDIX_B.get(corpus.name, {})
    ours = {f"{split}_{col}": int(st.loc[split, col]) for split in st.index for col in st.columns}
    ours["vocab"] = vocab_size
    return pd.DataFrame({"ours": ours, "paper": {k: paper.get(k, "–") for k in ours}}, dtype=object)


def oov_table(corpus: Corpus, vocabs: dict[str, Vocab]):
    """OOV rate (fraction of tokens → ``<unk>``) per split (rows) for each named vocabulary (columns)."""
    return pd.DataFrame({name: {split: oov_rate(getattr(corpus, split), v)
                                for split in ("train", "valid", "test")} for name, v in vocabs.items()})


def verify_switchboard(data_dir=None) -> dict:
    """Our valid/test Switchboard utterances against the authors' processed files (swda/README.md).

    Utterances are aligned per dialogue with ``difflib`` (so one split or merged utterance
    costs only itself); a dialogue is identical when its oneline string is byte-identical.
    """
    root, _ = resolve_data(SOURCES["switchboard"][0][:1], data_dir, what="Switchboard data")
    oroot, _ = resolve_data([(OFFICIAL_VALID, OFFICIAL_TEST)], data_dir,
                            what="the authors' valid/test files")
    check_sha256sums(oroot, (OFFICIAL_VALID, OFFICIAL_TEST))
    _, valid, test = SOURCES["switchboard"][0][1](root, (0, None))
    out = {"mismatches": []}
    for split, ours, rel in (("valid", valid, OFFICIAL_VALID), ("test", test, OFFICIAL_TEST)):
        lines = (oroot / rel).read_text(encoding="utf-8").splitlines()
        if len(lines) != len(ours):
            raise DataError(f"{oroot / rel}: {len(lines)} dialogues, but the split file has {len(ours)}")
        same_u = total_u = same_d = 0
        for n, (dialogue, line) in enumerate(zip(ours, lines), start=1):
            a = [" ".join(u) for u in dialogue]
            b = [u.strip() for u in line.split(EOU) if u.strip()]
            sm = difflib.SequenceMatcher(None, a, b, autojunk=False)
            same_u += sum(blk.size for blk in sm.get_matching_blocks())
            total_u += len(b)
            same_d += " ".join(u + " <eou>" for u in a) == line
            out["mismatches"] += [{"split": split, "line": n, "ours": a[i1:i2], "official": b[j1:j2]}
                                  for tag, i1, i2, j1, j2 in sm.get_opcodes() if tag != "equal"]
        out[split] = {"utterances_identical": same_u, "utterances": total_u,
                      "dialogues_identical": same_d, "dialogues": len(lines)}
    tot = {k: out["valid"][k] + out["test"][k] for k in out["valid"]}
    out["utterance_pct"] = 100 * tot["utterances_identical"] / tot["utterances"]
    out["dialogue_pct"] = 100 * tot["dialogues_identical"] / tot["dialogues"]
    return out | {"total": tot}


def main(argv: list[str] | None = None) -> int:
    """``python -m ntlib.data.corpus_stats verify-switchboard [--data-dir D]``."""
    ap = argparse.ArgumentParser(prog="python -m ntlib.data.corpus_stats")
    ap.add_argument("command", choices=["verify-switchboard"])
    ap.add_argument("--data-dir", default=None)
    args = ap.parse_args(argv)
    r = verify_switchboard(args.data_dir)
    for m in r["mismatches"]:
        print(f"{m['split']} dialogue {m['line']}: ours {m['ours']} | official {m['official']}")
    for split in ("valid", "test", "total"):
        s = r[split]
        print(f"{split}: {s['utterances_identical']}/{s['utterances']} utterances, "
              f"{s['dialogues_identical']}/{s['dialogues']} dialogues identical")
    print(f"identical utterances {r['utterance_pct']:.2f} %, identical dialogues {r['dialogue_pct']:.2f} %")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
