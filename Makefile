# One command builds the book, one runs the tests (see README). Both install what they need
# into .venv first. Real data: MFH_DATA_DIR (defaults to ../shared/data when that exists).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PROFILE ?= quick
CHAPTERS ?=
SHARED_DATA := $(abspath ../shared/data)
MFH_DATA_DIR ?= $(if $(wildcard $(SHARED_DATA)/README.md),$(SHARED_DATA),)
export MFH_DATA_DIR
export MFH_PROGRESS ?= 0
export PYTHONHASHSEED := 0

.PHONY: install book notebooks html test unit nbval clean

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

install: $(VENV)/.installed

## book: execute every chapter with papermill (PROFILE=quick|full), then render the HTML book
book: notebooks html

notebooks: install
	$(BIN)/python scripts/run_chapters.py --profile $(PROFILE) $(CHAPTERS)

html: install
	$(BIN)/jupyter-book build book -W -n --keep-going

## test: unit tests, nbval against the committed goldens, golden/source consistency, book build
test: install
	MFH_CACHE_DIR=$$(mktemp -d) $(BIN)/python -m pytest tests book/chapters --nbval \
	    --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout=1800 -p no:cacheprovider --durations=25

clean:
	rm -rf book/_build .cache
