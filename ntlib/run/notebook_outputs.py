"""What a published notebook may hold in its outputs, and what it may not.

A committed notebook shows the committed run's results — not the machinery that produced them. A reader
who opens it untrusted sees each output's plain-text form, so progress bars (tqdm's widget views, whose
plain text is ``lm epoch 1: 0%| | 0/938``, and their saved widget state), objects' reprs
(``Text(0.5, 0.98, '…')``, ``<matplotlib.legend.Legend at 0x…>``) and ``NaN`` read as failures.
:func:`clean` removes them when the publish step copies a run's notebooks over notebooks/;
:func:`debris` names any left (``make browser-check`` and the tests fail on them).
"""
from __future__ import annotations

import re

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
PROGRESS = re.compile(r"\d+%\||it/s[\],]|s/it[\],]|TqdmWarning|from \.autonotebook")
REPR = re.compile(r"^\s*(?:\[?<[\w.]+ (?:object )?at 0x[0-9a-f]+>\]?|Text\(.*\)|\[?<matplotlib[^>]*>\]?)\s*$",
                  re.S)
# what a reader must not see in an output, with the reason debris() gives
DEBRIS = ((PROGRESS, "progress-bar debris"), (re.compile(r" at 0x[0-9a-f]+>"), "an object's repr"),
          (re.compile(r"^Text\(", re.M), "a matplotlib Text repr"), (re.compile(r"\bNaN\b"), "NaN"),
          (re.compile(r"(?:\.\.\.|…)</td>"), "a table cell cut short"))


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def _clean_stream(text: str) -> str:
    """A stream output's text without ANSI codes, carriage-return overwrites and progress-bar lines."""
    lines = [line.split("\r")[-1] for line in ANSI.sub("", text).split("\n")]
    return "\n".join(line for line in lines if line.strip() and not PROGRESS.search(line))


def clean(nb: dict) -> dict:
    """``nb`` (a notebook as JSON) without widget state, widget views (progress bars), progress-bar lines in
    streams and outputs that are only an object's repr, and with "–" for a table's ``NaN`` (as
    :mod:`ntlib.results.display` shows it); every other output kept as it is."""
    nb.get("metadata", {}).pop("widgets", None)
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        kept = []
        for o in cell.get("outputs", []):
            if o["output_type"] == "stream":
                text = _clean_stream(_text(o["text"]))
                if not text:
                    continue
                o["text"] = text + "\n"
            elif o["output_type"] in ("display_data", "execute_result"):
                data = o.get("data", {})
                if WIDGET_VIEW in data:
                    continue
                if "text/plain" in data and REPR.match(_text(data["text/plain"])):
                    if set(data) == {"text/plain"}:
                        continue
                    del data["text/plain"]     # e.g. a Styler: its HTML is the output, its repr is noise
                if "text/html" in data:        # a table shown by a kernel without ntlib.results.display
                    data["text/html"] = re.sub(r"(<t[dh][^>]*>)\s*NaN\s*(</t[dh]>)", r"\1–\2", _text(data["text/html"]))
                if "text/plain" in data:
                    data["text/plain"] = re.sub(r"\bNaN\b", "  –", _text(data["text/plain"]))
            kept.append(o)
        cell["outputs"] = kept
    return nb


def debris(nb: dict, name: str = "notebook") -> list[str]:
    """Every place in ``nb``'s outputs (and saved widget state) a reader should not see, named by cell:
    progress bars, widget state, reprs, ``NaN``, stderr. Empty for a clean notebook."""
    found = []
    if nb.get("metadata", {}).get("widgets"):
        found.append(f"{name}: saved widget state (progress bars) in the notebook's metadata")
    for i, cell in enumerate(nb["cells"]):
        for o in cell.get("outputs", []) if cell["cell_type"] == "code" else []:
            where = f"{name} cell {i}"
            if o.get("output_type") == "stream" and o.get("name") == "stderr":
                found.append(f"{where}: stderr output {_text(o.get('text', ''))[:60]!r}")
            data = o.get("data", {})
            if WIDGET_VIEW in data:
                found.append(f"{where}: a widget view (progress bar)")
            texts = [_text(o.get("text", ""))] + [_text(data[k]) for k in ("text/plain", "text/html", "text/markdown")
                                                   if k in data]
            for pattern, why in DEBRIS:
                if any(pattern.search(t) for t in texts):
                    found.append(f"{where}: {why}")
    return found


def page_debris(text: str, name: str = "page") -> list[str]:
    """The same checks on what a browser rendered (a notebook's visible output text)."""
    return [f"{name}: {why}" for pattern, why in DEBRIS if pattern.search(text)]
