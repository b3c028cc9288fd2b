# Two commands do all set-up on a fresh machine: `make demo` and `make test`. `make check`: the quick loop.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Where MNIST lives (torchvision layout); downloaded there on first use when the network allows.
export MNIST_DIR ?= data

.PHONY: demo train check test browser docs space device-data clean

# The demo needs requirements.txt only; the test tools come with `make check` / `make test`.
$(VENV)/installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/dev-installed: $(VENV)/installed requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

demo: $(VENV)/installed
	$(PY) demo.py

train: $(VENV)/installed
	$(PY) train_all.py $(ARGS)

# Every test that is neither slow nor in a browser: for every edit (about a minute and a half on 2 cores).
check: $(VENV)/dev-installed
	$(PY) -m pytest -m "not slow and not browser" -q

# The full gate (what CI runs). Browser tests use Debian's chromium, else Playwright's own; without
# either they are reported as not run, with the reason and the fix, in the summary.
test: $(VENV)/dev-installed browser
	$(PY) -m pytest

# Debian's chromium where present; else Playwright's own build, fetched once where the network allows.
# Never fails: without a browser the browser tests say so themselves (and fail in CI, which installs one).
browser:
	@test -x /usr/bin/chromium || $(PY) -c "from playwright.sync_api import sync_playwright as s; \
	  import os, sys; p = s().start(); sys.exit(not os.path.exists(p.chromium.executable_path))" 2>/dev/null || \
	  $(PY) -m playwright install chromium >/dev/null 2>&1 || \
	  echo "no chromium here (no /usr/bin/chromium, Playwright's download failed): the browser tests will be reported as not run"

# Regenerate every table and log block of the README and docs/ from the stored results.
docs: $(VENV)/dev-installed
	$(PY) -m mnist_models table --update README.md docs/*.md

# Publish the demo to a Hugging Face Space: make space SPACE=user/name [DRY_RUN=1]
space: $(VENV)/dev-installed
	@test -n "$(SPACE)" || { echo "usage: make space SPACE=user/name [DRY_RUN=1]"; exit 2; }
	$(PY) -m mnist_models.space --space $(SPACE) $(if $(DRY_RUN),--dry-run)

# What the .ci/device_*.sh scripts need on a lent GPU machine, which gets only the working tree:
# pass carry=[".mnist", ".unipen"] to its run. DRAWINGS: the UNIPEN dev set, for the repeats' drawing accuracy.
DRAWINGS ?= ../shared/unipen/dev-digits.jsonl.gz
device-data:
	mkdir -p .mnist .unipen
	for f in $(MNIST_DIR)/MNIST/raw/*-ubyte; do gzip -c $$f > .mnist/$$(basename $$f).gz; done
	cp $(DRAWINGS) .unipen/

clean:
	rm -rf $(VENV) .pytest_cache
