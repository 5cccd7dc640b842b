# ntlib — one short line per job. PROFILE=smoke|small|paper, CORPUS=switchboard|dailydialog|ubuntu|opensubtitles
PY      ?= .venv/bin/python
PROFILE ?= small
CORPUS  ?= switchboard

.PHONY: setup reproduce test lab reports clean-runs

setup: .venv/.ntlib-setup   ## create .venv: the CPU torch wheel first, then ntlib (editable), then the Jupyter kernel

.venv/.ntlib-setup: pyproject.toml
	python3 -m venv .venv
	.venv/bin/python -m pip install -q --upgrade pip
	.venv/bin/python -m pip install -q torch==2.13.0
	.venv/bin/python -m pip install -q -e .
	.venv/bin/python -m ipykernel install --user --name ntlib --display-name "Python (ntlib)"
	touch $@

reproduce: setup   ## run notebooks 01 -> 06 with papermill; cached stages are skipped
	$(PY) -m ntlib.reproduce --profile $(PROFILE) --corpus $(CORPUS)

test: setup   ## unit tests + every notebook under nbval on the smoke profile (exit 5 = no tests is not an error)
	$(PY) -m pytest || [ $$? -eq 5 ]

lab: setup
	.venv/bin/jupyter lab notebooks/

clean-runs:
	rm -rf runs/
