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

.PHONY: install book notebooks html test unit nbval clean mutation chromium

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

## chromium: Debian's headless browser for tests/test_browser.py, installed (apt-get, as root) when
## missing; where it cannot be installed the browser test skips and says so
chromium:
	@if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium (apt-get) for the browser test ..."; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 || \
	    { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1; } || \
	    echo "chromium could not be installed: tests/test_browser.py will be skipped"; \
	else echo "chromium is missing and this is not root with apt-get: tests/test_browser.py will be skipped"; fi

## test: unit tests, nbval against the committed goldens, golden/source consistency, book build,
## the built book in headless Chromium (offline)
test: install chromium
	MFH_CACHE_DIR=$$(mktemp -d) $(BIN)/python -m pytest tests book/chapters --nbval \
	    --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout=1800 -p no:cacheprovider --durations=25

clean:
	rm -rf book/_build .cache

## mutation: mutation testing (mutmut) of the science modules, on demand, not part of `make test`
## or CI; hours on 2 cores. MUTATE="losses msd" picks modules. Score and survivors: tests/MUTATION.md
MUTATE ?=
mutation: install
	$(BIN)/pip install --quiet -r requirements-dev.txt
	nice -n 10 $(BIN)/python scripts/mutation_report.py $(MUTATE)
