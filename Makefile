# ntlib — one short line per job. PROFILE=smoke|teach|small|paper, CORPUS=switchboard|dailydialog|ubuntu|opensubtitles
PY      ?= .venv/bin/python
PROFILE ?= small
CORPUS  ?= switchboard

.PHONY: setup setup-hf own-model reproduce compare-losses compare test test-fast test-refs lab reports clean-runs browser-check

setup: .venv/.ntlib-setup   ## create .venv: the CPU torch wheel first, then ntlib (editable), then the `ntlib` Jupyter kernel

.venv/.ntlib-setup: pyproject.toml
	python3 -m venv .venv
	.venv/bin/python -m pip install -q --upgrade pip
	.venv/bin/python -m pip install -q torch==2.13.0
	.venv/bin/python -m pip install -q -e .
	.venv/bin/python -m ntlib.machine.kernel --install
	touch $@

setup-hf: .venv/.ntlib-hf   ## the hf extra (transformers, ~150 MB) into .venv: notebook 08 and the Hugging Face adapter's tests

.venv/.ntlib-hf: .venv/.ntlib-setup pyproject.toml
	.venv/bin/python -m pip install -q -e ".[hf]"
	touch $@

reproduce: setup   ## run notebooks 01 -> 06 with papermill on every core (NTLIB_THREADS=1 for one); cached stages are skipped; prints per-stage timings
	$(PY) -m ntlib.run.reproduce --profile $(PROFILE) --corpus $(CORPUS)

compare-losses: setup   ## opt-in stage, beyond the paper: notebook 07 (nll, unlikelihood, CRINGE, NPO, SimNPO on both problems); not part of `make reproduce`
	$(PY) -m ntlib.run.reproduce --profile $(PROFILE) --corpus $(CORPUS) --stages 07_negative_losses

own-model: setup-hf   ## opt-in stage, beyond the paper: notebook 08 (a tiny Hugging Face GPT-2 attacked and negatively trained); not part of `make reproduce`
	$(PY) -m ntlib.run.reproduce --profile $(PROFILE) --corpus $(CORPUS) --stages 08_own_model

compare: setup   ## diff this profile's reports/results with the committed ones (exact on the same machine + threads, else within 5 %); exit 1 when outside
	$(PY) -m ntlib.run.reproduce --compare --profile $(PROFILE) --corpus $(CORPUS)

test: setup-hf   ## every layer: tests/notebooks (nbval re-executes the smoke references), tests/system (what they wrote, reproduce, make), tests/unit
	@$(PY) -m pytest; s=$$?; [ $$s -ne 5 ] || echo "pytest collected no tests (exit 5): the collection is broken" >&2; exit $$s

test-fast: setup   ## the unit layer only (tests/unit): about a minute
	@$(PY) -m pytest tests/unit; s=$$?; [ $$s -ne 5 ] || echo "pytest collected no tests (exit 5): the collection is broken" >&2; exit $$s

test-refs: setup-hf   ## re-execute notebooks 01 -> 08 on smoke into tests/notebooks (nbval's references); review the diff
	$(PY) tests/nbrefs.py

PLAYWRIGHT ?= playwright==1.65.2
PANEL_PROFILE ?= smoke   # teach: the panel on the models of `make reproduce PROFILE=teach`
browser-check: setup   ## open every notebook in JupyterLab in headless Chromium (Debian's), run the panel; screenshots in runs/browser/
	@test -x /usr/bin/chromium || { echo "browser-check needs Debian's Chromium: apt-get install -y chromium" >&2; exit 1; }
	@$(PY) -c "import playwright" 2>/dev/null || $(PY) -m pip install -q $(PLAYWRIGHT)   # the library only: never 'playwright install'
	$(PY) tests/browser/check.py --panel-profile $(PANEL_PROFILE)

lab: setup   ## JupyterLab on notebooks/; they open in the `ntlib` kernel (pinned float path: the committed numbers)
	.venv/bin/jupyter lab notebooks/

clean-runs:
	rm -rf runs/
