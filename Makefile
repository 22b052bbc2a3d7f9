# Two commands on a fresh machine:  `make demo`  and  `make test`.
# Both create .venv on first use. torch is pinned to 2.13.0 and installed
# first: that version is the local CPU wheel; any other pulls CUDA wheels.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/dealgraph demo $(ARGS)

# Lint and types first: seconds, so a finding fails the run before the long pytest suite starts.
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	@tests/helpers/ensure-browser.sh
	$(BIN)/python -m pytest $(ARGS)

clean:
	rm -rf $(VENV) .dealgraph dealgraph.db dealgraph.db-wal dealgraph.db-shm
