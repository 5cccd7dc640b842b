"""Table 6's human evaluation, as a protocol anyone can run: a blind A/B sheet, ratings, a tally.

He & Glass (§4.3, Table 6): "300 samples (input-output pairs) from the baseline model and the model
after negative training, are evenly distributed to 4 English-speaking human evaluators. The
evaluators are asked to pick a preferred sample, or report a tie." The paper reports tie / baseline
wins / neg-train wins (Switchboard: 45.1 % / 18.3 % / 36.4 %) and says negative training "wins by a
significant margin"; it does not name the test. We tally the same three shares and test them with
the two-sided sign test on the decisive ratings (ties left out), :func:`ntlib.stats.sign_test`.

- :func:`ab_sheet` draws ``n`` test inputs (fixed seed) and puts the two systems' responses on
  sides 1 and 2 in a random order per row; the rater sees only the sheet, the order lives in a
  separate key (:func:`write_sheet` writes both as CSV, atomically).
- Ratings are one of ``"1"``, ``"2"`` or ``"tie"`` per row, from the CSV filled in by hand or
  from :func:`rating_widget` in JupyterLab.
- :func:`tally` unblinds the ratings with the key.
"""
from __future__ import annotations

import csv
import io
import random
from pathlib import Path
from typing import Sequence

from .reports import atomic_write_text
from .stats import sign_test

RATINGS = ("1", "2", "tie")
SHEET_FIELDS = ("row", "context", "response_1", "response_2", "rating")
KEY_FIELDS = ("row", "input_index", "side_1", "side_2")


def ab_sheet(contexts: Sequence[str], responses: dict[str, Sequence[str]], n: int,
             seed: int = 1) -> tuple[list[dict], list[dict]]:
    """(sheet, key) for a blind comparison of the two systems in ``responses`` (name → one
    response per context) on ``n`` contexts drawn without replacement with ``seed``.

    Each sheet row shows the context and the two responses on sides 1 and 2, in an order drawn
    per row; the key row says which system is on which side and which input it was."""
    if len(responses) != 2:
        raise ValueError(f"ab_sheet compares two systems, got {len(responses)}: {list(responses)}")
    names = list(responses)
    for name in names:
        if len(responses[name]) != len(contexts):
            raise ValueError(f"{name}: {len(responses[name])} responses for {len(contexts)} contexts")
    if not 0 < n <= len(contexts):
        raise ValueError(f"n = {n}: must be between 1 and the {len(contexts)} contexts")
    rng = random.Random(seed)
    picked = rng.sample(range(len(contexts)), n)
    sheet, key = [], []
    for row, i in enumerate(picked, 1):
        sides = names[:] if rng.random() < 0.5 else names[::-1]
        sheet.append({"row": row, "context": contexts[i], "response_1": responses[sides[0]][i],
                      "response_2": responses[sides[1]][i], "rating": ""})
        key.append({"row": row, "input_index": i, "side_1": sides[0], "side_2": sides[1]})
    return sheet, key


def _csv(rows: list[dict], fields) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def write_sheet(sheet: list[dict], key: list[dict], sheet_path: str | Path, key_path: str | Path) -> None:
    """The sheet for the raters and the key kept apart, both as CSV (written atomically)."""
    if Path(sheet_path).resolve() == Path(key_path).resolve():
        raise ValueError("the key must not be written over the sheet the raters see")
    atomic_write_text(Path(sheet_path), _csv(sheet, SHEET_FIELDS))
    atomic_write_text(Path(key_path), _csv(key, KEY_FIELDS))


def read_csv(path: str | Path) -> list[dict]:
    """Rows of a sheet or key CSV; a malformed file is an error naming it."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if rows and "row" not in rows[0]:
        raise ValueError(f"{path}: no 'row' column (not an ntlib A/B sheet or key)")
    return rows


def tally(sheet: list[dict], key: list[dict], baseline: str, candidate: str) -> dict:
    """Unblind the ratings: shares of tie / ``baseline`` wins / ``candidate`` wins over the rated
    rows, and the two-sided sign test of candidate vs baseline on the decisive ones.

    A rating other than ``1``, ``2`` or ``tie`` is an error naming the row; unrated rows are
    counted as such and left out."""
    sides = {str(k["row"]): (k["side_1"], k["side_2"]) for k in key}
    counts = {"tie": 0, baseline: 0, candidate: 0, "unrated": 0}
    for line, r in enumerate(sheet, 2):                    # line 1 is the CSV header
        rating = str(r.get("rating", "")).strip().lower()
        if rating == "":
            counts["unrated"] += 1
            continue
        if rating not in RATINGS:
            raise ValueError(f"sheet line {line} (row {r['row']}): rating {rating!r} — use 1, 2 or tie")
        if str(r["row"]) not in sides:
            raise ValueError(f"sheet line {line}: row {r['row']} is not in the key")
        if rating == "tie":
            counts["tie"] += 1
        else:
            winner = sides[str(r["row"])][int(rating) - 1]
            if winner not in (baseline, candidate):
                raise ValueError(f"key row {r['row']}: system {winner!r} is neither {baseline!r} nor {candidate!r}")
            counts[winner] += 1
    rated = counts["tie"] + counts[baseline] + counts[candidate]
    share = {k: (counts[k] / rated if rated else float("nan")) for k in ("tie", baseline, candidate)}
    return {"counts": counts, "rated": rated, "share": share,
            "sign_test_p": sign_test(counts[candidate], counts[baseline])}


def rating_widget(sheet: list[dict], on_change=None):
    """A JupyterLab panel to rate the sheet row by row (ipywidgets): the context, the two
    responses, buttons 1 / 2 / tie, and back / next. Ratings are written into ``sheet`` in place;
    ``on_change(sheet)`` is called after each (e.g. to save the CSV)."""
    import ipywidgets as W
    from IPython.display import display

    state = {"i": 0}
    text = W.HTML()
    buttons = {r: W.Button(description={"1": "response 1", "2": "response 2", "tie": "tie"}[r]) for r in RATINGS}
    back, forward = W.Button(description="◀ back"), W.Button(description="next ▶")
    progress = W.IntProgress(min=0, max=len(sheet))

    def show():
        r = sheet[state["i"]]
        import html
        text.value = (f"<b>{state['i'] + 1} / {len(sheet)}</b> &nbsp; rating: <b>{r['rating'] or '—'}</b>"
                      f"<p><i>context</i>: {html.escape(r['context'])}</p>"
                      f"<p><b>1</b>: {html.escape(r['response_1'])}</p><p><b>2</b>: {html.escape(r['response_2'])}</p>")
        progress.value = sum(1 for s in sheet if s["rating"])

    def rate(rating):
        sheet[state["i"]]["rating"] = rating
        if on_change is not None:
            on_change(sheet)
        state["i"] = min(state["i"] + 1, len(sheet) - 1)
        show()

    for r, b in buttons.items():
        b.on_click(lambda _, r=r: rate(r))
    back.on_click(lambda _: (state.__setitem__("i", max(0, state["i"] - 1)), show()))
    forward.on_click(lambda _: (state.__setitem__("i", min(len(sheet) - 1, state["i"] + 1)), show()))
    show()
    panel = W.VBox([progress, text, W.HBox(list(buttons.values())), W.HBox([back, forward])])
    display(panel)
    return panel
