"""The notebooks read like the paper and hold no logic (issues 19, 28): each is prose, equations and one
call into its stage driver (ntlib.stages) per cell — no def, lambda or loop, at most 80 code lines —;
its parameters are typed (papermill lists them); it ends with "what we found", printed by the driver; no
``<token>`` in markdown prose is swallowed as HTML; every figure a driver draws is titled with corpus,
profile and n."""
import ast
import inspect
import json
import pkgutil
import re
from importlib import import_module
from pathlib import Path

import pytest

from ntlib.run.navigation import INDEX, MAP, nav_line
from ntlib.run.notebook_outputs import debris
from ntlib.stages import STAGES

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = [ROOT / "notebooks" / f"{s.name}.ipynb" for s in STAGES]
MAX_CODE_LINES = 80


def cells(path):
    return [(c["cell_type"], "".join(c["source"]), c.get("metadata", {}).get("tags", []))
            for c in json.loads(path.read_text(encoding="utf-8"))["cells"]]


def code(path):
    return [src for kind, src, tags in cells(path) if kind == "code" and "parameters" not in tags]


def test_every_stage_of_the_registry_has_its_notebook():
    assert all(p.is_file() for p in NOTEBOOKS), [p.name for p in NOTEBOOKS if not p.is_file()]
    numbered = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert numbered == [INDEX] + [s.name for s in STAGES]


PUBLISHED = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_the_index_maps_every_notebook_and_each_links_the_previous_and_the_next():
    """Issue 30: an index notebook with the paper's map; a navigation line on top of every notebook."""
    assert [n for n, *_ in MAP] == [s.name for s in STAGES] + ["panel"]
    index = "".join(cells(ROOT / "notebooks" / f"{INDEX}.ipynb")[0][1])
    assert all(f"({n}.ipynb)" in index for n, *_ in MAP)
    for name, *_ in MAP:
        first = cells(ROOT / "notebooks" / f"{name}.ipynb")[0][1]
        assert first.splitlines()[0] == nav_line(name), f"{name}.ipynb: run python -m ntlib.run.navigation"
        heading = first.splitlines()[2]
        assert heading.startswith("# "), f"{name}.ipynb: the title follows the navigation line"


CUT = "a table cell cut short"
# executed by the committed run (issue 29; 06 re-ran on the current code) before ntlib.results.display lifted pandas' 50-character limit: the next
# published run clears them, and strict xfail then fails until this list is emptied
CUT_BY_THE_COMMITTED_RUN: set[str] = set()


@pytest.mark.parametrize("path", PUBLISHED, ids=lambda p: p.stem)
def test_a_published_notebook_shows_no_debris(path):
    """Issue 30: no progress bar, widget state, repr, NaN or stderr in what a reader opens."""
    found = debris(json.loads(path.read_text(encoding="utf-8")), path.name)
    assert [d for d in found if not d.endswith(CUT)] == []


@pytest.mark.parametrize("path", [pytest.param(p, marks=pytest.mark.xfail(
    p.stem in CUT_BY_THE_COMMITTED_RUN, reason="executed before responses were shown uncut", strict=True))
    for p in PUBLISHED], ids=lambda p: p.stem)
def test_a_published_notebook_cuts_no_response(path):
    """Issue 30: Table 5 and the top-10 tables cut responses with "…" — the very text they exist to show."""
    assert [d for d in debris(json.loads(path.read_text(encoding="utf-8")), path.name) if d.endswith(CUT)] == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_headings_make_a_table_of_contents(path):
    heads = [line for kind, src, _ in cells(path) if kind == "markdown" for line in src.splitlines()
             if line.startswith("## ")]
    assert len(heads) >= 4, f"{path.name}: {len(heads)} section headings"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_a_notebook_holds_no_logic(path):
    lines = sum(len(src.splitlines()) for src in code(path))
    assert lines <= MAX_CODE_LINES, f"{path.name}: {lines} code lines"
    for src in code(path):
        tree = ast.parse(src)
        kinds = {type(n).__name__ for n in ast.walk(tree)}
        banned = kinds & {"FunctionDef", "Lambda", "For", "While", "ListComp", "DictComp", "SetComp", "GeneratorExp",
                          "ClassDef"}
        assert not banned, f"{path.name}: {sorted(banned)} in a cell — it belongs in its stage driver:\n{src}"


@pytest.mark.parametrize("path", NOTEBOOKS + [ROOT / "notebooks" / "panel.ipynb"], ids=lambda p: p.stem)
def test_the_parameters_are_typed_and_papermill_parses_them(path):
    from papermill.translators import PythonTranslator
    params = next(src for kind, src, tags in cells(path) if "parameters" in tags)
    tree = ast.parse(params)
    assigned = [n for n in tree.body if isinstance(n, (ast.Assign, ast.AnnAssign))]
    assert assigned and all(isinstance(n, ast.AnnAssign) for n in assigned), f"{path.name}: an untyped parameter"
    assert all(line.count("=") <= 1 for line in params.splitlines()), f"{path.name}: papermill cannot parse a line"
    inferred = PythonTranslator.inspect({"source": params})
    assert {p.name for p in inferred} == {n.target.id for n in assigned}
    assert all(p.inferred_type_name != "None" for p in inferred)


def _prose(md: str) -> str:
    """Markdown without code spans, code blocks and math, where ``<`` is no HTML."""
    md = re.sub(r"```.*?```", "", md, flags=re.S)
    md = re.sub(r"\$\$.*?\$\$", "", md, flags=re.S)
    md = re.sub(r"\$[^$\n]*\$", "", md)
    return re.sub(r"`[^`\n]*`", "", md)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_token_in_markdown_prose_is_swallowed_as_html(path):
    for kind, src, _ in cells(path):
        if kind == "markdown":
            tags = [t for t in re.findall(r"</?([a-zA-Z][\w-]*)", _prose(src)) if t.lower() != "br"]
            assert not tags, f"{path.name}: <{tags[0]}> in markdown prose would be read as HTML; use backticks"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_ends_with_what_we_found_printed_by_its_driver(path):
    (k1, heading, _), (k2, last, _) = cells(path)[-2:]
    assert k1 == "markdown" and heading.startswith("## What we found")
    assert k2 == "code" and re.fullmatch(r"print\(stage\.findings\(.*\)\)", last.strip()), last


DRIVER_MODULES = sorted(m.name for m in pkgutil.iter_modules(import_module("ntlib.stages").__path__))


@pytest.mark.parametrize("driver", DRIVER_MODULES)
def test_every_figure_a_driver_draws_has_a_title_with_corpus_profile_and_n(driver):
    assert {s.driver for s in STAGES} <= set(DRIVER_MODULES)
    module = import_module(f"ntlib.stages.{driver}")
    for name, fn in inspect.getmembers(module, inspect.isfunction):
        if fn.__module__ == module.__name__ and "plt.subplots(" in inspect.getsource(fn):
            assert "plots.title(" in inspect.getsource(fn), f"{module.__name__}.{name}: a figure without plots.title"
