"""Table 6's protocol: the blind A/B sheet, its key, the tally and the sign test."""
import pytest

from ntlib import human_eval as H
from ntlib import stats


def sheet_and_key(n=40, seed=3):
    contexts = [f"context {i}" for i in range(100)]
    responses = {"baseline": [f"base {i}" for i in range(100)], "neg-train": [f"nt {i}" for i in range(100)]}
    return H.ab_sheet(contexts, responses, n, seed)


def test_sheet_is_blind_and_the_key_unblinds_it(tmp_path):
    sheet, key = sheet_and_key()
    assert len(sheet) == 40 and len({k["input_index"] for k in key}) == 40
    assert {k["side_1"] for k in key} == {"baseline", "neg-train"}          # both orders occur
    for s, k in zip(sheet, key):
        i = k["input_index"]
        assert s["context"] == f"context {i}" and "baseline" not in s and "side_1" not in s
        assert s["response_1"] == ({"baseline": "base", "neg-train": "nt"}[k["side_1"]] + f" {i}")
    assert sheet_and_key() == (sheet, key)                                  # the seed fixes it
    H.write_sheet(sheet, key, tmp_path / "sheet.csv", tmp_path / "key.csv")
    assert H.read_csv(tmp_path / "sheet.csv")[0]["context"] == sheet[0]["context"]
    assert "side_1" not in (tmp_path / "sheet.csv").read_text()
    with pytest.raises(ValueError, match="key"):
        H.write_sheet(sheet, key, tmp_path / "s.csv", tmp_path / "s.csv")


def test_tally_and_sign_test_match_a_hand_computation():
    sheet, key = sheet_and_key(n=12)
    # rate: neg-train preferred on rows 1-7, baseline on 8-9, ties on 10-11, row 12 unrated
    for s, k in zip(sheet, key):
        r = int(s["row"])
        want = "neg-train" if r <= 7 else "baseline" if r <= 9 else None
        s["rating"] = "tie" if r in (10, 11) else "" if r == 12 else str(1 + (k["side_2"] == want))
    t = H.tally(sheet, key, "baseline", "neg-train")
    assert t["counts"] == {"tie": 2, "baseline": 2, "neg-train": 7, "unrated": 1} and t["rated"] == 11
    assert t["share"]["neg-train"] == pytest.approx(7 / 11)
    # two-sided sign test, 7 wins vs 2 losses: 2 · P(X ≤ 2 | 9, ½) = 2 · (1 + 9 + 36) / 512
    assert t["sign_test_p"] == pytest.approx(2 * 46 / 512)
    assert stats.sign_test(0, 0) == 1.0 and stats.sign_test(5, 5) == 1.0


def test_bad_ratings_and_inputs_are_named():
    sheet, key = sheet_and_key(n=3)
    sheet[1]["rating"] = "maybe"
    with pytest.raises(ValueError, match="line 3 .*'maybe'"):
        H.tally(sheet, key, "baseline", "neg-train")
    with pytest.raises(ValueError, match="two systems"):
        H.ab_sheet(["c"], {"a": ["x"]}, 1)
    with pytest.raises(ValueError, match="n = 5"):
        H.ab_sheet(["c"], {"a": ["x"], "b": ["y"]}, 5)


def test_rating_widget_writes_ratings_into_the_sheet():
    pytest.importorskip("ipywidgets")
    sheet, key = sheet_and_key(n=3)
    saved = []
    panel = H.rating_widget(sheet, on_change=lambda s: saved.append([r["rating"] for r in s]))
    progress, text, choices, nav = panel.children
    one, two, tie = choices.children
    two.click()                      # row 1 → "2", moves to row 2
    tie.click()                      # row 2 → "tie"
    nav.children[0].click()          # back to row 2
    one.click()                      # row 2 → "1"
    assert [r["rating"] for r in sheet] == ["2", "1", ""] and saved[-1] == ["2", "1", ""]
    assert progress.value == 2 and "3 / 3" in text.value
