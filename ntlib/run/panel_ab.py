"""The panel's Table 6 tab (:mod:`ntlib.run.panel`): a blind A/B sheet of the baseline's and the frequent-NT
model's greedy test responses (§4.3's protocol, :mod:`ntlib.results.human_eval`), rated in the tab or in a
spreadsheet, kept on disk (a sheet with a person's ratings is never replaced), and tallied with a sign test.
A sheet leaves out test inputs whose two responses are identical and contexts more than 20 % ``<unk>``
(:func:`ntlib.results.human_eval.left_out`) and says how many.
"""
from __future__ import annotations

import html
from pathlib import Path

from ntlib.results.human_eval import (
    MAX_UNK_SHARE,
    SheetError,
    ab_sheet,
    left_out,
    rating_widget,
    read_csv,
    tally,
    write_sheet,
)
from ntlib.run.panel_tabs import ab_responses


class ABTab:
    """The A/B tab's widgets and actions; mixed into :class:`ntlib.run.panel.Panel`, which provides ``self.m``
    (the models), ``self.seed``, ``self.args``, ``self.ab_dir`` and ``_require``."""

    def _ab_widgets(self, W, ab_inputs: int):
        self.ab_n = W.BoundedIntText(value=ab_inputs, min=1, max=10_000, description="inputs")
        self.ab_button = W.Button(description="make blind A/B sheet", layout=W.Layout(width="auto")).add_class("ntlib-ab")
        self.ab_button.on_click(lambda _: self._ab_sheet())
        self.ab_pick = W.Dropdown(options=[], description="sheets", layout=W.Layout(width="auto"))
        self.load_button = W.Button(description="load sheet", layout=W.Layout(width="auto")).add_class("ntlib-ab-load")
        self.load_button.on_click(lambda _: self._ab_load())
        self.tally_button = W.Button(description="tally (unblind)", layout=W.Layout(width="auto"))
        self.tally_button.on_click(lambda _: self._tally())
        self.ab_out, self.tally_out = W.Output(), W.HTML()
        self.sheet = self.key = self.ab_files = None
        return W.VBox([W.HTML("Table 6's protocol (§4.3): rate which response is better, or tie, without "
                              "knowing which model wrote it; the key is kept apart and read by the tally. Test "
                              "inputs the two models answer identically, and contexts more than "
                              f"{MAX_UNK_SHARE:.0%} &lt;unk&gt;, are left out: there is nothing to judge."),
                       W.HBox([self.ab_n, self.ab_button, self.tally_button]),
                       W.HBox([self.ab_pick, self.load_button]), self.ab_out, self.tally_out])

    def _ab_paths(self, number: int = 1):
        """The sheet and key files of A/B sheet ``number`` of this profile (1: no suffix)."""
        folder = Path(self.ab_dir or Path(self.args["run_root"]) / "human_eval")
        stem = f"{self.m.profile.data.corpus}-{self.m.profile.name}-seed{self.seed}"
        stem += "" if number == 1 else f"-{number}"
        return folder / f"ab_sheet_{stem}.csv", folder / f"ab_key_{stem}.csv"

    def _ab_existing(self) -> list[int]:
        """Numbers of the A/B sheets of this profile on disk (sheet and key both present)."""
        found, n = [], 1
        while n <= 1000:
            sheet, key = self._ab_paths(n)
            if not sheet.exists() and not key.exists():
                break
            if sheet.exists() and key.exists():
                found.append(n)
            n += 1
        return found

    def _rate(self, sheet_path, key_path):
        self.ab_files = (sheet_path, key_path)
        with self.ab_out:
            rating_widget(self.sheet, on_change=lambda s: write_sheet(s, self.key, sheet_path, key_path))

    def _ab_sheet(self):
        """A new blind sheet, in a file of its own: a sheet on disk (a person's ratings) is never replaced."""
        self.ab_out.clear_output()
        if not self._require("frequent", self.tally_out):
            return
        b, P = self.m.baselines, self.m.profile
        n_in = min(len(b.data.test), P.decode.max_eval_inputs or len(b.data.test))
        try:
            contexts, resp = ab_responses({"baseline": b.seq2seq, "neg-train": self.m.frequent},
                                          b.data.test.src[:n_in], b.data.vocab, P.decode.max_len)
            skip = left_out(contexts, resp)
            n = min(self.ab_n.value, n_in - len(skip))
            self.sheet, self.key = ab_sheet(contexts, resp, n, seed=self.seed)
        except ValueError as e:
            self.tally_out.value = f"<p><b>{html.escape(str(e))}</b></p>"
            return
        number = max(self._ab_existing(), default=0) + 1
        while any(p.exists() for p in self._ab_paths(number)):      # a half-written pair: skip its name
            number += 1
        sheet_path, key_path = self._ab_paths(number)
        sheet_path.parent.mkdir(parents=True, exist_ok=True)
        write_sheet(self.sheet, self.key, sheet_path, key_path)
        self._ab_refresh()
        earlier = (f" The {len(self._ab_existing()) - 1} earlier sheet(s) are kept: pick one and <b>load sheet</b> "
                   "to rate on." if number > 1 else "")
        left = (f" Of the {n_in} test inputs, {sum(v == 'identical' for v in skip.values())} were left out because "
                f"the two models answer them identically (a tie by construction) and "
                f"{sum(v == '<unk>' for v in skip.values())} because more than {MAX_UNK_SHARE:.0%} of the context "
                f"is &lt;unk&gt;; {n} rows drawn from the other {n_in - len(skip)}.")
        self.tally_out.value = (f"<p>new sheet: <code>{html.escape(str(sheet_path))}</code> (give this to raters, or "
                                f"rate here); key: <code>{html.escape(str(key_path))}</code>.{left}{earlier}</p>")
        self._rate(sheet_path, key_path)

    def _ab_refresh(self):
        """The sheets on disk in the picker, each with how many of its rows are rated."""
        options = []
        for n in self._ab_existing():
            sheet_path = self._ab_paths(n)[0]
            try:
                rows = read_csv(sheet_path)
                label = f"{sheet_path.name} ({sum(1 for r in rows if r.get('rating'))} of {len(rows)} rated)"
            except (SheetError, OSError) as e:
                label = f"{sheet_path.name} (unreadable: {e})"
            options.append((label, n))
        keep = self.ab_pick.value
        self.ab_pick.options = options
        numbers = [n for _, n in options]
        if numbers:                                 # the sheet chosen before, else the newest
            self.ab_pick.value = keep if keep in numbers else numbers[-1]

    def _ab_load(self):
        """Reopen the A/B sheet chosen in the picker with its ratings, to rate on or tally."""
        self.ab_out.clear_output()
        self._ab_refresh()
        if self.ab_pick.value is None:
            self.tally_out.value = "<p>no A/B sheet of this profile on disk yet: make one first</p>"
            return
        sheet_path, key_path = self._ab_paths(self.ab_pick.value)
        try:
            self.sheet, self.key = read_csv(sheet_path), read_csv(key_path)
        except (SheetError, OSError) as e:
            self.tally_out.value = f"<p><b>{html.escape(str(e))}</b></p>"
            return
        rated = sum(1 for r in self.sheet if str(r.get("rating", "")).strip())
        self.tally_out.value = (f"<p>loaded <code>{html.escape(str(sheet_path))}</code>: {rated} of {len(self.sheet)} "
                                "rows rated; rate on below, or tally.</p>")
        self._rate(sheet_path, key_path)

    def _tally(self):
        if self.sheet is None:
            self.tally_out.value = "<p>make a sheet (or load the last one) first</p>"
            return
        try:
            t = tally(self.sheet, self.key, "baseline", "neg-train", *map(str, self.ab_files))
        except SheetError as e:
            self.tally_out.value = f"<p><b>{html.escape(str(e))}</b></p>"
            return
        s, c = t["share"], t["counts"]
        pct = lambda v: "–" if v != v else f"{100 * v:.1f}%"
        self.tally_out.value = (
            f"<table class='ntlib-tally'><tr><th>tie</th><th>baseline wins</th><th>neg-train wins</th>"
            f"<th>rated</th><th>sign test p (two-sided)</th></tr><tr><td>{pct(s['tie'])} ({c['tie']})</td>"
            f"<td>{pct(s['baseline'])} ({c['baseline']})</td><td>{pct(s['neg-train'])} ({c['neg-train']})</td>"
            f"<td>{t['rated']} of {len(self.sheet)}</td><td>{t['sign_test_p']:.3g}</td></tr></table>"
            "<p>Paper, Switchboard (Table 6): tie 45.1 %, baseline 18.3 %, neg-train 36.4 %.</p>")
