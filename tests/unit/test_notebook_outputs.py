"""What a published notebook may show (issue 30): progress bars, widget state, reprs and NaN are removed by the
publish step's ``clean`` and named by ``debris`` (which ``make browser-check`` and the notebook tests use)."""
import copy

from ntlib.run.notebook_outputs import WIDGET_VIEW, clean, debris, page_debris


def notebook_with_debris():
    progress = {"output_type": "display_data", "metadata": {},
                "data": {WIDGET_VIEW: {"model_id": "abc", "version_major": 2, "version_minor": 0},
                         "text/plain": "lm epoch 1 lr=0.002:   0%|          | 0/938 [00:00<?, ?it/s]"}}
    stream = {"output_type": "stream", "name": "stderr",
              "text": "seq2seq:  50%|#####     | 5/10 [00:01<00:01, 4.1it/s]\r100%|##########| 10/10\n"}
    printed = {"output_type": "stream", "name": "stdout", "text": "valid ppl 61.9\n"}
    text_repr = {"output_type": "execute_result", "execution_count": 3, "metadata": {},
                 "data": {"text/plain": "Text(0.5, 0.98, 'Ten most frequent responses')"}}
    legend = {"output_type": "execute_result", "execution_count": 4, "metadata": {},
              "data": {"text/plain": "<matplotlib.legend.Legend at 0x7f3a2c1d9e50>"}}
    table = {"output_type": "execute_result", "execution_count": 5, "metadata": {},
             "data": {"text/html": "<table><tr><th>NaN</th><td>55.87</td><td>NaN</td></tr></table>",
                      "text/plain": "    ppl  ablation\n0  55.87       NaN"}}
    styler = {"output_type": "execute_result", "execution_count": 6, "metadata": {},
              "data": {"text/html": "<table><tr><td>1.65%</td></tr></table>",
                       "text/plain": "<pandas.io.formats.style.Styler at 0x7fb33fc4e590>"}}
    return {"metadata": {"widgets": {"application/vnd.jupyter.widget-state+json": {"state": {}}}},
            "cells": [{"cell_type": "markdown", "metadata": {}, "source": "# title"},
                      {"cell_type": "code", "metadata": {}, "source": "fit()",
                       "outputs": [progress, stream, printed, text_repr, legend, table, styler]}]}


def test_debris_names_every_planted_problem():
    found = "\n".join(debris(notebook_with_debris(), "02_baselines"))
    for what in ("saved widget state", "a widget view", "stderr output", "progress-bar debris",
                 "a matplotlib Text repr", "an object's repr", "NaN"):
        assert what in found, what
    assert "02_baselines cell 1" in found


def test_clean_keeps_the_results_and_leaves_no_debris():
    nb = clean(notebook_with_debris())
    assert debris(nb) == []
    outputs = nb["cells"][1]["outputs"]
    texts = [o.get("text") for o in outputs if o["output_type"] == "stream"]
    assert "valid ppl 61.9\n" in texts
    assert outputs[-1]["data"] == {"text/html": "<table><tr><td>1.65%</td></tr></table>"}   # the Styler's HTML
    table = outputs[-2]["data"]
    assert table["text/html"] == "<table><tr><th>–</th><td>55.87</td><td>–</td></tr></table>"
    assert table["text/plain"].splitlines()[1] == "0  55.87         –"       # the column stays aligned
    assert "widgets" not in nb["metadata"]
    assert not any(WIDGET_VIEW in o.get("data", {}) for o in outputs)


def test_a_clean_notebook_is_left_as_it_is():
    nb = {"metadata": {}, "cells": [{"cell_type": "code", "metadata": {}, "source": "x",
                                     "outputs": [{"output_type": "stream", "name": "stdout", "text": "ok 3\n"}]}]}
    assert clean(copy.deepcopy(nb)) == nb and debris(nb) == []


def test_page_debris_reads_rendered_text():
    assert page_debris("lm epoch 1: 0%| | 0/938 [00:00<?, ?it/s]", "02") == ["02: progress-bar debris"]
    assert page_debris("Table 4 · max-ratio 45.2 %", "02") == []


def test_a_table_cell_cut_short_is_debris():
    cut = {"output_type": "execute_result", "execution_count": 1, "metadata": {},
           "data": {"text/html": "<table><tr><td>i don't know what you mean by that but i think it...</td></tr></table>"}}
    nb = {"metadata": {}, "cells": [{"cell_type": "code", "metadata": {}, "source": "t", "outputs": [cut]}]}
    assert debris(nb, "04") == ["04 cell 0: a table cell cut short"]
