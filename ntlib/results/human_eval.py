"""Table 6's human evaluation, as a protocol anyone can run: a blind A/B sheet, ratings, a tally.

He & Glass (§4.3, Table 6): "300 samples (input-output pairs) from the baseline model and the model
after negative training, are evenly distributed to 4 English-speaking human evaluators. The
evaluators are asked to pick a preferred sample, or report a tie." The paper reports tie / baseline
wins / neg-train wins (Switchboard: 45.1 % / 18.3 % / 36.4 %) and says negative training "wins by a
significant margin"; it does not name the test. We tally the same three shares and test them with
the two-sided sign test on the decisive ratings (ties left out), :func:`ntlib.results.stats.sign_test`.

- :func:`ab_sheet` draws ``n`` test inputs (fixed seed), leaving out those :func:`left_out` names (the two
  responses identical, or more than 20 % of the context ``<unk>``), and puts the two systems' responses on
  sides 1 and 2 in a random order per row; the rater sees only the sheet, the order lives in a
  separate key (:func:`write_sheet` writes both as CSV, atomically). Both carry the sheet's id, so a
  key is never read against another sheet.
- Ratings are one of ``"1"``, ``"2"`` or ``"tie"`` per row, from the CSV filled in by hand (saved by
  any spreadsheet program: :func:`read_csv` reads its dialect) or from :func:`rating_widget` in
  JupyterLab. A sheet on disk holds a person's work: :func:`write_sheet` never drops a rating there.
- :func:`tally` unblinds the ratings with the key, after checking that they belong together.
"""
from __future__ import annotations

import csv
import hashlib
import html
import io
import random
from pathlib import Path
from typing import Sequence

from ntlib.results.reports import atomic_write_text
from ntlib.results.stats import sign_test

RATINGS = ("1", "2", "tie")
SHEET_FIELDS = ("sheet", "row", "context", "response_1", "response_2", "rating")
KEY_FIELDS = ("sheet", "row", "input_index", "side_1", "side_2")


class SheetError(ValueError):
    """An A/B sheet or key that cannot be read or tallied; the message names the file and line."""


MAX_UNK_SHARE = 0.2      # a context with more than 20 % <unk> tokens is not shown to a rater


def left_out(contexts: Sequence[str], responses: dict[str, Sequence[str]],
             max_unk_share: float = MAX_UNK_SHARE) -> dict[int, str]:
    """Inputs an A/B sheet leaves out, with why: ``"identical"`` when the two responses are the same text
    (a tie by construction: there is nothing for a rater to judge, and it would only dilute the shares), or
    ``"<unk>"`` when more than ``max_unk_share`` of the context's tokens are ``<unk>`` (words outside the
    vocabulary: a rater cannot tell what was said). Identical is checked first."""
    a, b = (responses[name] for name in responses)
    out = {}
    for i, context in enumerate(contexts):
        tokens = str(context).split()
        if " ".join(str(a[i]).split()) == " ".join(str(b[i]).split()):
            out[i] = "identical"
        elif tokens and sum(t == "<unk>" for t in tokens) > max_unk_share * len(tokens):
            out[i] = "<unk>"
    return out


def ab_sheet(contexts: Sequence[str], responses: dict[str, Sequence[str]], n: int,
             seed: int = 1, exclude: bool = True,
             max_unk_share: float = MAX_UNK_SHARE) -> tuple[list[dict], list[dict]]:
    """(sheet, key) for a blind comparison of the two systems in ``responses`` (name → one
    response per context) on ``n`` contexts drawn without replacement with ``seed``; with ``exclude``
    (the default) only from the contexts :func:`left_out` keeps (no identical pair, no ``<unk>``-heavy
    context). The paper rated 300 samples without saying it left any out: its tie share counts
    identical pairs, this sheet's does not.

    Each sheet row shows the context and the two responses on sides 1 and 2, in an order drawn
    per row; the key row says which system is on which side and which input it was."""
    if len(responses) != 2:
        raise ValueError(f"ab_sheet compares two systems, got {len(responses)}: {list(responses)}")
    names = list(responses)
    for name in names:
        if len(responses[name]) != len(contexts):
            raise ValueError(f"{name}: {len(responses[name])} responses for {len(contexts)} contexts")
    skip = left_out(contexts, responses, max_unk_share) if exclude else {}
    eligible = [i for i in range(len(contexts)) if i not in skip]
    if not 0 < n <= len(eligible):
        why = (f" ({sum(v == 'identical' for v in skip.values())} left out with identical responses, "
               f"{sum(v == '<unk>' for v in skip.values())} with > {max_unk_share:.0%} <unk> in the context)"
               if skip else "")
        raise ValueError(f"n = {n}: must be between 1 and the {len(eligible)} contexts a rater can judge{why}")
    rng = random.Random(seed)
    picked = rng.sample(eligible, n)
    orders = [names[:] if rng.random() < 0.5 else names[::-1] for _ in picked]
    sid = hashlib.sha256(repr((seed, picked, orders)).encode()).hexdigest()[:8]   # the sheet's id
    sheet, key = [], []
    for row, (i, sides) in enumerate(zip(picked, orders), 1):
        sheet.append({"sheet": sid, "row": row, "context": contexts[i], "response_1": responses[sides[0]][i],
                      "response_2": responses[sides[1]][i], "rating": ""})
        key.append({"sheet": sid, "row": row, "input_index": i, "side_1": sides[0], "side_2": sides[1]})
    return sheet, key


def _csv(rows: list[dict], fields) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def _rated(rows: list[dict]) -> dict[str, str]:
    return {str(r["row"]): str(r.get("rating", "")).strip() for r in rows if str(r.get("rating", "")).strip()}


def write_sheet(sheet: list[dict], key: list[dict], sheet_path: str | Path, key_path: str | Path) -> None:
    """The sheet for the raters and the key kept apart, both as CSV (written atomically).

    A sheet already on disk holds a person's work: it is replaced only by the same sheet (same id)
    keeping every rating it has (a rating may change, none may be dropped), and a key only by the
    same sheet's key; anything else is a :class:`SheetError` naming the file — write a new sheet
    under another name, or load this one (:func:`read_csv`) and rate on."""
    sheet_path, key_path = Path(sheet_path), Path(key_path)
    if sheet_path.resolve() == key_path.resolve():
        raise SheetError("the key must not be written over the sheet the raters see")
    sid = {str(r.get("sheet")) for r in sheet + key}
    for path, what in ((sheet_path, "sheet"), (key_path, "key")):
        if not path.exists():
            continue
        old = read_csv(path)
        old_sid = {str(r.get("sheet")) for r in old}
        if old and old_sid != sid:
            raise SheetError(f"{path}: holds another A/B {what} (id {', '.join(sorted(old_sid))}, not "
                             f"{', '.join(sorted(sid))}); not replaced — choose another file name")
        if what == "sheet":
            new = _rated(sheet)
            lost = [row for row in _rated(old) if row not in new]
            if lost:
                raise SheetError(f"{path}: {len(_rated(old))} row(s) are rated there and {len(lost)} of them "
                                 f"(rows {', '.join(lost[:10])}) are not in the sheet being written; not replaced "
                                 "— load the sheet (human_eval.read_csv) to rate on, or write a new one")
    atomic_write_text(sheet_path, _csv(sheet, SHEET_FIELDS))
    atomic_write_text(key_path, _csv(key, KEY_FIELDS))


def _decode(raw: bytes, path) -> str:
    """A CSV's text: UTF-8 (with or without the BOM a spreadsheet writes), else Windows-1252."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        try:
            return raw.decode("cp1252")
        except UnicodeDecodeError:
            line = raw[:e.start].count(b"\n") + 1
            raise SheetError(f"{path}:{line}: neither UTF-8 nor Windows-1252 text ({e.reason})") from None


def read_csv(path: str | Path) -> list[dict]:
    """Rows of a sheet or key CSV, as ntlib or a spreadsheet program saved it (comma, semicolon or
    tab; UTF-8 with or without a BOM, or Windows-1252); each row's file line is in ``"_line"``. A file
    that is no A/B sheet or key is a :class:`SheetError` naming it."""
    text = _decode(Path(path).read_bytes(), path)
    header = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=header.count)
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    if reader.fieldnames is None or "row" not in [f.strip() for f in reader.fieldnames]:
        raise SheetError(f"{path}:1: no 'row' column in the header {header[:80]!r} (not an ntlib A/B sheet or key)")
    rows = []
    for r in reader:
        row = {(k or "").strip(): (v.strip() if isinstance(v, str) else v) for k, v in r.items()}
        if not any(v for k, v in row.items() if k):            # a blank line a spreadsheet left
            continue
        rows.append({**row, "_line": reader.line_num})
    return rows


def _line(r: dict, i: int) -> int:
    return r.get("_line", i + 2)                               # line 1 is the CSV header


def check_sheet_and_key(sheet: list[dict], key: list[dict], baseline: str, candidate: str,
                        sheet_name: str = "sheet", key_name: str = "key") -> dict[str, tuple[str, str]]:
    """{row: (side 1, side 2)} after checking that ``key`` unblinds ``sheet``: one id for both, one
    line per row in each, every sheet row in the key, and each key row putting ``baseline`` and
    ``candidate`` on two different sides. A :class:`SheetError` names the file and line otherwise."""
    ids = {str(r.get("sheet")) for r in sheet} | {str(k.get("sheet")) for k in key}
    if len(ids) > 1:
        raise SheetError(f"{sheet_name} and {key_name} are of different A/B sheets (ids {', '.join(sorted(ids))}): "
                         "the key would unblind another sheet's rows")
    for rows, name in ((sheet, sheet_name), (key, key_name)):
        seen = {}
        for i, r in enumerate(rows):
            row = str(r.get("row"))
            if row in seen:
                raise SheetError(f"{name} line {_line(r, i)}: row {row} again (first on line {seen[row]}): one "
                                 "rating per item")
            seen[row] = _line(r, i)
    sides = {}
    for i, k in enumerate(key):
        pair = (str(k.get("side_1")), str(k.get("side_2")))
        if sorted(pair) != sorted((baseline, candidate)):
            raise SheetError(f"{key_name} line {_line(k, i)} (row {k.get('row')}): sides {pair} must be {baseline!r} "
                             f"and {candidate!r}, one on each side")
        sides[str(k["row"])] = pair
    for i, r in enumerate(sheet):
        if str(r.get("row")) not in sides:
            raise SheetError(f"{sheet_name} line {_line(r, i)}: row {r.get('row')} is not in the {key_name}")
    return sides


def tally(sheet: list[dict], key: list[dict], baseline: str, candidate: str,
          sheet_name: str = "sheet", key_name: str = "key") -> dict:
    """Unblind the ratings: shares of tie / ``baseline`` wins / ``candidate`` wins over the rated
    rows, and the two-sided sign test of candidate vs baseline on the decisive ones.

    Sheet and key are checked first (:func:`check_sheet_and_key`); a rating other than ``1``, ``2``
    or ``tie`` is an error naming the line; unrated rows are counted as such and left out; a sheet
    with no rating at all has nothing to tally (an error, not p = 1)."""
    sides = check_sheet_and_key(sheet, key, baseline, candidate, sheet_name, key_name)
    counts = {"tie": 0, baseline: 0, candidate: 0, "unrated": 0}
    for i, r in enumerate(sheet):
        rating = str(r.get("rating", "")).strip().lower()
        if rating == "":
            counts["unrated"] += 1
            continue
        if rating not in RATINGS:
            raise SheetError(f"{sheet_name} line {_line(r, i)} (row {r['row']}): rating {rating!r} — use 1, 2 or tie")
        if rating == "tie":
            counts["tie"] += 1
        else:
            counts[sides[str(r["row"])][int(rating) - 1]] += 1
    rated = counts["tie"] + counts[baseline] + counts[candidate]
    if not rated:
        raise SheetError(f"{sheet_name}: none of its {len(sheet)} rows is rated yet: nothing to tally")
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
