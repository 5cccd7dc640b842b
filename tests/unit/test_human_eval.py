"""Table 6's protocol: the blind A/B sheet, its key, the tally and the sign test."""
import pytest

from ntlib.results import human_eval, stats


def sheet_and_key(n=40, seed=3):
    contexts = [f"context {i}" for i in range(100)]
    responses = {"baseline": [f"base {i}" for i in range(100)], "neg-train": [f"nt {i}" for i in range(100)]}
    return human_eval.ab_sheet(contexts, responses, n, seed)


def test_sheet_is_blind_and_the_key_unblinds_it(tmp_path):
    sheet, key = sheet_and_key()
    assert len(sheet) == 40 and len({k["input_index"] for k in key}) == 40
    assert {k["side_1"] for k in key} == {"baseline", "neg-train"}          # both orders occur
    for s, k in zip(sheet, key):
        i = k["input_index"]
        assert s["context"] == f"context {i}" and "baseline" not in s and "side_1" not in s
        assert s["response_1"] == ({"baseline": "base", "neg-train": "nt"}[k["side_1"]] + f" {i}")
    assert sheet_and_key() == (sheet, key)                                  # the seed fixes it
    human_eval.write_sheet(sheet, key, tmp_path / "sheet.csv", tmp_path / "key.csv")
    assert human_eval.read_csv(tmp_path / "sheet.csv")[0]["context"] == sheet[0]["context"]
    assert "side_1" not in (tmp_path / "sheet.csv").read_text()
    with pytest.raises(ValueError, match="key"):
        human_eval.write_sheet(sheet, key, tmp_path / "s.csv", tmp_path / "s.csv")
    assert {s["sheet"] for s in sheet} == {k["sheet"] for k in key} and len(sheet[0]["sheet"]) == 8


def test_tally_and_sign_test_match_a_hand_computation():
    sheet, key = sheet_and_key(n=12)
    # rate: neg-train preferred on rows 1-7, baseline on 8-9, ties on 10-11, row 12 unrated
    for s, k in zip(sheet, key):
        r = int(s["row"])
        want = "neg-train" if r <= 7 else "baseline" if r <= 9 else None
        s["rating"] = "tie" if r in (10, 11) else "" if r == 12 else str(1 + (k["side_2"] == want))
    t = human_eval.tally(sheet, key, "baseline", "neg-train")
    assert t["counts"] == {"tie": 2, "baseline": 2, "neg-train": 7, "unrated": 1} and t["rated"] == 11
    assert t["share"]["neg-train"] == pytest.approx(7 / 11)
    # two-sided sign test, 7 wins vs 2 losses: 2 · P(X ≤ 2 | 9, ½) = 2 · (1 + 9 + 36) / 512
    assert t["sign_test_p"] == pytest.approx(2 * 46 / 512)
    assert stats.sign_test(0, 0) == 1.0 and stats.sign_test(5, 5) == 1.0


def test_bad_ratings_and_inputs_are_named():
    sheet, key = sheet_and_key(n=3)
    sheet[1]["rating"] = "maybe"
    with pytest.raises(ValueError, match="line 3 .*'maybe'"):
        human_eval.tally(sheet, key, "baseline", "neg-train")
    with pytest.raises(ValueError, match="two systems"):
        human_eval.ab_sheet(["c"], {"a": ["x"]}, 1)
    with pytest.raises(ValueError, match="n = 5"):
        human_eval.ab_sheet(["c"], {"a": ["x"], "b": ["y"]}, 5)


def test_rating_widget_writes_ratings_into_the_sheet():
    pytest.importorskip("ipywidgets")
    sheet, key = sheet_and_key(n=3)
    saved = []
    panel = human_eval.rating_widget(sheet, on_change=lambda s: saved.append([r["rating"] for r in s]))
    progress, text, choices, nav = panel.children
    one, two, tie = choices.children
    two.click()                      # row 1 → "2", moves to row 2
    tie.click()                      # row 2 → "tie"
    nav.children[0].click()          # back to row 2
    one.click()                      # row 2 → "1"
    assert [r["rating"] for r in sheet] == ["2", "1", ""] and saved[-1] == ["2", "1", ""]
    assert progress.value == 2 and "3 / 3" in text.value


def _rated(n=12):
    """A sheet of n rows rated 1 on every row, with its key (neg-train wins where it is on side 1)."""
    sheet, key = sheet_and_key(n=n)
    for s in sheet:
        s["rating"] = "1"
    return sheet, key


def test_a_sheet_holding_ratings_is_never_replaced(tmp_path):
    """Issue 27: the same sheet made again (same seed) with no ratings used to replace 10 rated rows."""
    sheet, key = sheet_and_key(n=12)
    paths = tmp_path / "sheet.csv", tmp_path / "key.csv"
    for s in sheet[:10]:
        s["rating"] = "tie"
    human_eval.write_sheet(sheet, key, *paths)
    fresh, fresh_key = sheet_and_key(n=12)             # a kernel restart: the sheet made anew
    with pytest.raises(human_eval.SheetError, match=r"sheet.csv: 10 row\(s\) are rated there and 10 of them"):
        human_eval.write_sheet(fresh, fresh_key, *paths)
    assert sum(1 for r in human_eval.read_csv(paths[0]) if r["rating"]) == 10
    loaded = human_eval.read_csv(paths[0])                      # load it and rate on: allowed, a rating may change
    loaded[0]["rating"], loaded[11]["rating"] = "1", "2"
    human_eval.write_sheet(loaded, human_eval.read_csv(paths[1]), *paths)
    assert [r["rating"] for r in human_eval.read_csv(paths[0])][:2] == ["1", "tie"]
    other, other_key = sheet_and_key(n=12, seed=4)
    with pytest.raises(human_eval.SheetError, match="holds another A/B sheet"):
        human_eval.write_sheet(other, other_key, *paths)


def test_tally_refuses_repeated_rows_another_sheets_key_and_one_system_on_both_sides():
    """Issue 27: a row repeated 10x (wins 20 -> 30), the key of another sheet (11/9 instead of 20/0) and a
    key with side 1 = side 2 were tallied without an error."""
    sheet, key = _rated(20)
    repeated = sheet + [dict(sheet[0]) for _ in range(10)]
    with pytest.raises(human_eval.SheetError, match="sheet line 22: row 1 again .first on line 2."):
        human_eval.tally(repeated, key, "baseline", "neg-train")
    _, other_key = sheet_and_key(n=20, seed=4)
    with pytest.raises(human_eval.SheetError, match="different A/B sheets"):
        human_eval.tally(sheet, other_key, "baseline", "neg-train")
    same = [dict(k, side_2=k["side_1"]) for k in key]
    with pytest.raises(human_eval.SheetError, match=r"key line 2 \(row 1\): sides .* one on each side"):
        human_eval.tally(sheet, same, "baseline", "neg-train")
    with pytest.raises(human_eval.SheetError, match="none of its 20 rows is rated"):
        human_eval.tally(sheet_and_key(n=20)[0], key, "baseline", "neg-train")      # an empty sheet: not p = 1
    t = human_eval.tally(sheet, key, "baseline", "neg-train")
    assert t["rated"] == 20 and t["counts"]["tie"] == 0


def test_sheets_saved_by_a_spreadsheet_program_are_read(tmp_path):
    """Issue 27: BOM, ';' and Windows-1252 gave "not an ntlib A/B sheet" or a bare UnicodeDecodeError."""
    sheet, key = _rated(6)
    sheet[0]["context"] = "café — naïve"
    human_eval.write_sheet(sheet, key, tmp_path / "s.csv", tmp_path / "k.csv")
    text = (tmp_path / "s.csv").read_text(encoding="utf-8")
    want = human_eval.tally(human_eval.read_csv(tmp_path / "s.csv"), human_eval.read_csv(tmp_path / "k.csv"), "baseline", "neg-train")
    variants = {"bom.csv": b"\xef\xbb\xbf" + text.encode("utf-8"),
                "semicolon.csv": text.replace(",", ";").encode("utf-8"),
                "cp1252.csv": text.replace("—", "-").replace("\n", "\r\n").encode("cp1252")}
    for name, raw in variants.items():
        (tmp_path / name).write_bytes(raw)
        rows = human_eval.read_csv(tmp_path / name)
        assert len(rows) == 6 and rows[0]["context"].startswith("café"), name
        assert human_eval.tally(rows, human_eval.read_csv(tmp_path / "k.csv"), "baseline", "neg-train")["counts"] == want["counts"]
    (tmp_path / "bad.csv").write_bytes(b"row,rating\n1,1\n2,\x81\x8d\n")
    with pytest.raises(human_eval.SheetError, match=r"bad.csv:3: neither UTF-8 nor Windows-1252"):
        human_eval.read_csv(tmp_path / "bad.csv")
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    with pytest.raises(human_eval.SheetError, match=r"other.csv:1: no 'row' column"):
        human_eval.read_csv(tmp_path / "other.csv")
