"""Issue 19's reader-facing conventions, checked on the notebooks' sources: every figure gets a title
naming corpus, profile and n; no ``<token>`` in markdown prose is swallowed as an HTML tag; every
notebook ends with a "what we found / where we differ" section whose findings are computed."""
import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("0[1-6]_*.ipynb"))


def cells(path):
    return [(c["cell_type"], "".join(c["source"])) for c in json.loads(path.read_text(encoding="utf-8"))["cells"]]


def test_the_six_notebooks_are_found():
    assert [p.name[:2] for p in NOTEBOOKS] == ["01", "02", "03", "04", "05", "06"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_figure_has_a_title_with_corpus_profile_and_n(path):
    for kind, src in cells(path):
        if kind == "code" and "plt.subplots(" in src:
            assert "plots.title(" in src, f"{path.name}: a figure without plots.title:\n{src[:300]}"


def _prose(md: str) -> str:
    """Markdown without code spans, code blocks and math, where ``<`` is no HTML."""
    md = re.sub(r"```.*?```", "", md, flags=re.S)
    md = re.sub(r"\$\$.*?\$\$", "", md, flags=re.S)
    md = re.sub(r"\$[^$\n]*\$", "", md)
    return re.sub(r"`[^`\n]*`", "", md)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_token_in_markdown_prose_is_swallowed_as_html(path):
    for kind, src in cells(path):
        if kind == "markdown":
            tags = [t for t in re.findall(r"</?([a-zA-Z][\w-]*)", _prose(src)) if t.lower() != "br"]
            assert not tags, f"{path.name}: <{tags[0]}> in markdown prose would be read as HTML; use backticks"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_ends_with_what_we_found_computed_from_its_results(path):
    (k1, heading), (k2, code) = cells(path)[-2:]
    assert k1 == "markdown" and heading.startswith("## What we found / where we differ from the paper")
    assert k2 == "code" and "print(f\"" in code, f"{path.name}: the findings are to be printed from the results"
