# Go Keyless — the two commands a learner needs are `make lab` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install lab test lint bench lock clean

install: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10) and "Python 3.10 or newer is needed (found %s)" % sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3" >/dev/null
	@touch $@

# checkov (security policies for infra/) pins versions that clash with the notebook stack,
# so it gets a virtual environment of its own; tests/test_checkov.py runs it from there.
CHECKOV_VENV  := $(VENV)-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed

$(CHECKOV_STAMP): requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet -r requirements-checkov.txt
	@touch $@

# JupyterLab on the notebooks, with the local lab as the default target.
# Containers and CI run as root, where Jupyter refuses to start without --allow-root.
lab: install
	cd notebooks && KEYLESS_TARGET=$${KEYLESS_TARGET:-lab} ../$(BIN)/jupyter lab \
		--ServerApp.ip=127.0.0.1 $$( [ "$$(id -u)" = 0 ] && echo --allow-root )

test: install $(CHECKOV_STAMP)
	$(BIN)/python -m pytest -n 2 --nbmake --nbmake-timeout=120

lint: install
	$(BIN)/ruff check keyless_lab tests bench app
	$(BIN)/ruff format --check keyless_lab tests bench app

bench: install
	$(BIN)/python -m bench

# Recompile the pins after editing requirements.in.
lock: install
	$(BIN)/pip-compile --quiet --strip-extras --no-emit-index-url -o requirements.txt requirements.in
	sed -i 's#^-e file://.*#-e .#' requirements.txt

clean:
	rm -rf $(VENV) $(VENV)-checkov .pytest_cache
