"""The notebooks' map: an index notebook (``notebooks/00_index.ipynb``) with the paper's map, and a line at
the top of every notebook linking the index, the previous and the next notebook.

``python -m ntlib.run.navigation`` writes both (idempotent: a notebook's navigation line is replaced, its
outputs and other cells kept); the publish step runs it after copying a run's notebooks, and
tests/notebooks/test_notebook_style.py checks that every notebook carries the line the map gives it.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from ntlib.results.reports import atomic_write_text
from ntlib.run.params import ROOT

INDEX = "00_index"
NAV_MARK = "<!-- nav -->"
# the reading order: (notebook, title, the paper's part, what a reader gets)
MAP = (
    ("01_data", "Data", "§4, App. B, Table 7",
     "Switchboard preprocessed as the authors did; split statistics beside Appendix B's; our valid/test "
     "checked against the authors' released files; vocabulary, OOV, lengths"),
    ("02_baselines", "Baselines", "§2, §4.1, App. C, Tables 8, 9, 5",
     "the LSTM LM and the attention seq2seq (three independently trained seq2seq baselines); test PPL, "
     "greedy responses, BLEU-4, samples"),
    ("03_malicious", "Malicious responses", "§3.2, §4.2, App. A, Tables 1, 3, Figure 1",
     "gibbs-enum finds trigger inputs for malicious targets; Algorithm 1 trains them away; hit rates "
     "before and after on the training and test lists"),
    ("04_frequent", "Frequent responses", "§3.3, §4.3, Tables 4, 5, 9",
     "Algorithm 2 pushes down responses above a share r_thres; max-ratio, entropy, PPL, BLEU before and after"),
    ("05_gan_mmi", "GAN and MMI-antiLM", "§4.3, App. E, Table 4",
     "the two comparison methods, tuned and scored as negative training is"),
    ("06_tables", "Tables", "Tables 3, 4, 8, 9",
     "every table beside the paper's numbers, with the verdicts and their tests; writes reports/tables.md"),
    ("07_negative_losses", "Negative losses compared", "beyond the paper",
     "nll (the paper's), unlikelihood, CRINGE, NPO and SimNPO on both problems, and what each costs benign outputs"),
    ("08_own_model", "Your own model", "beyond the paper",
     "a Hugging Face transformer built offline, trained on Switchboard, attacked, then Algorithms 1 and 2 on it"),
    ("panel", "Interactive panel", "—",
     "type a context or a malicious target and watch the models respond, before and after negative training"),
)


def _source(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _label(entry: tuple) -> str:
    name, title = entry[0], entry[1]
    return f"{name[:2]} {title}" if name[:2].isdigit() else title


def nav_line(name: str) -> str:
    """The navigation line of notebook ``name``: index · ← previous · next →."""
    names = [n for n, *_ in MAP]
    i = names.index(name)
    parts = [f"[index]({INDEX}.ipynb)"]
    if i > 0:
        parts.append(f"← [{_label(MAP[i - 1])}]({names[i - 1]}.ipynb)")
    if i + 1 < len(names):
        parts.append(f"[{_label(MAP[i + 1])}]({names[i + 1]}.ipynb) →")
    return " · ".join(parts) + f" {NAV_MARK}"   # the mark ends the line: at its start it would make an HTML block


def with_nav(nb: dict, name: str) -> dict:
    """``nb`` with its navigation line at the top of its first (markdown) cell, replacing an older one."""
    if not nb["cells"] or nb["cells"][0]["cell_type"] != "markdown":      # no title cell: the line gets its own
        nb["cells"].insert(0, {"cell_type": "markdown", "id": "nav", "metadata": {}, "source": []})
    first = nb["cells"][0]
    lines = [line for line in _source(first).split("\n") if NAV_MARK not in line]
    while lines and not lines[0].strip():
        lines.pop(0)
    first["source"] = (nav_line(name) + "\n\n" + "\n".join(lines)).splitlines(keepends=True)
    return nb


def index_notebook(metadata: dict | None = None) -> dict:
    """The index notebook: the paper's map, one row per notebook, and how to run them. ``metadata``: the
    notebooks' (kernel and language), so that JupyterLab does not mark the index modified on opening it."""
    rows = "\n".join(f"| [{n}]({n}.ipynb) | {title} | {part} | {gets} |" for n, title, part, gets in MAP)
    text = f"""[{_label(MAP[0])}]({MAP[0][0]}.ipynb) → {NAV_MARK}

# ntlib · Negative Training for Neural Dialogue Response Generation (He & Glass, ACL 2020)

The runnable companion to the paper: each notebook reproduces one part of it, from the data to the
tables, with the paper's words and equations beside one call into a driver in `ntlib/stages/`. Read
them in order; each starts with a line linking the previous and the next one.

| notebook | what | the paper | what you get |
| --- | --- | --- | --- |
{rows}

**Run them all**: `make reproduce` (the `small` profile on Switchboard, three baselines; the committed
outputs come from it, and the README gives its time). **One notebook**: open it in JupyterLab (`make lab`;
kernel "ntlib") and run all cells, or `papermill notebooks/04_frequent.ipynb out.ipynb -p profile teach`.
Profiles: `smoke` (seconds, for tests), `teach` (minutes per notebook, for a class), `small` (the
committed run), `paper` (the paper's sizes, for a GPU). The tables with the paper's numbers beside ours
are in [reports/tables.md](../reports/tables.md); the README explains the verdict symbols.
"""
    return {"cells": [{"cell_type": "markdown", "id": "index", "metadata": {}, "source": text.splitlines(keepends=True)}],
            "metadata": metadata or {"kernelspec": {"display_name": "ntlib (Python 3)", "language": "python",
                                                    "name": "ntlib"}, "language_info": {"name": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


def write(notebooks_dir: str | Path = ROOT / "notebooks") -> list[Path]:
    """Write the index notebook and the navigation line of every notebook of the map found in ``notebooks_dir``."""
    notebooks_dir, written = Path(notebooks_dir), []
    first = notebooks_dir / f"{MAP[0][0]}.ipynb"
    metadata = json.loads(first.read_text(encoding="utf-8")).get("metadata") if first.is_file() else None
    path = notebooks_dir / f"{INDEX}.ipynb"
    atomic_write_text(path, json.dumps(index_notebook(metadata), indent=1, ensure_ascii=False) + "\n")
    written.append(path)
    for name, *_ in MAP:
        path = notebooks_dir / f"{name}.ipynb"
        if not path.is_file():
            continue
        nb = with_nav(json.loads(path.read_text(encoding="utf-8")), name)
        atomic_write_text(path, json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
        written.append(path)
    return written


if __name__ == "__main__":
    for p in write(sys.argv[1] if len(sys.argv) > 1 else ROOT / "notebooks"):
        print(f"wrote {p}")
