# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Where MNIST lives (torchvision layout); downloaded there on first use when the network allows.
export MNIST_DIR ?= data

.PHONY: demo train test space chromium device-data clean

$(VENV)/installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

demo: $(VENV)/installed
	$(PY) demo.py

train: $(VENV)/installed
	$(PY) train_all.py $(ARGS)

test: $(VENV)/installed chromium
	$(PY) -m pytest

# Publish the demo to a Hugging Face Space: make space SPACE=user/name [DRY_RUN=1]
space: $(VENV)/installed
	@test -n "$(SPACE)" || { echo "usage: make space SPACE=user/name [DRY_RUN=1]"; exit 2; }
	$(PY) -m mnist_models.space --space $(SPACE) $(if $(DRY_RUN),--dry-run)

# The browser test drives Debian's chromium (Playwright cannot download browsers here).
chromium:
	@test -x /usr/bin/chromium || { echo "installing Debian chromium for the browser test"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# What the .ci/device_*.sh scripts need on a lent GPU machine, which gets only the working tree:
# pass carry=[".mnist", ".unipen"] to its run. DRAWINGS: the UNIPEN dev set, for the repeats' drawing accuracy.
DRAWINGS ?= ../shared/unipen/dev-digits.jsonl.gz
device-data:
	mkdir -p .mnist .unipen
	for f in $(MNIST_DIR)/MNIST/raw/*-ubyte; do gzip -c $$f > .mnist/$$(basename $$f).gz; done
	cp $(DRAWINGS) .unipen/

clean:
	rm -rf $(VENV) .pytest_cache
