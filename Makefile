# One command builds the book, one runs the tests (see README). Both install what they need
# into .venv first. Real data: MFH_DATA_DIR (defaults to ../shared/data when that exists).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PROFILE ?= quick
CHAPTERS ?=
OUT ?= reruns/$(PROFILE)
RECORD_PROFILE ?= record
RECORD_LOG ?= .cache/record.log
SHARED_DATA := $(abspath ../shared/data)
MFH_DATA_DIR ?= $(if $(wildcard $(SHARED_DATA)/README.md),$(SHARED_DATA),)
export MFH_DATA_DIR
export MFH_PROGRESS ?= 0
export PYTHONHASHSEED := 0

.PHONY: install book notebooks html rerun record record-status migrate-tiers test unit nbval clean mutation chromium

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

install: $(VENV)/.installed

# Two tiers (scripts/run_chapters.py): the record tier (book/chapters, book/_results) is what the
# book renders; the smoke tier (tests/smoke, quick profile) is what `make test` re-executes.

## book: render the committed record tier into book/_build/html; executes nothing (minutes)
book: html

html: install
	$(BIN)/jupyter-book build book -W -n --keep-going

## notebooks: execute CHAPTERS (default all) at PROFILE: quick -> the smoke tier (and the book's page
## while the chapter has no record run); record|full -> the record tier
notebooks: install
	$(BIN)/python scripts/run_chapters.py --profile $(PROFILE) $(CHAPTERS)

## rerun: re-run CHAPTERS at PROFILE into OUT (its own notebooks, results and ledger; no tier is
## touched) and write OUT/comparison.md: its verdicts beside the record's, per claim
rerun: install
	$(BIN)/python scripts/run_chapters.py --profile $(PROFILE) --out $(OUT) $(CHAPTERS)

## record: the record run of CHAPTERS (default all) in the background, one chapter at a time,
## resumable (finished chapters are skipped, a cut-off one resumes from the results cache), progress
## in RECORD_LOG; each finished chapter's files (and the refreshed ledger) are ready to commit, the
## log names them. RECORD_PROFILE=full for a full run (e.g. on a GPU machine).
record: install
	@mkdir -p $(dir $(RECORD_LOG))
	nohup nice -n 5 $(BIN)/python scripts/run_chapters.py --profile $(RECORD_PROFILE) --skip-done --lock \
	    --progress $(CHAPTERS) >> $(RECORD_LOG) 2>&1 &
	@echo "record run started in the background: tail -f $(RECORD_LOG)"

record-status:
	@grep -E "^\[|done in|FAILED|skipped|ready to commit" $(RECORD_LOG) 2>/dev/null | tail -n 40 || echo "no record log at $(RECORD_LOG)"

## migrate-tiers: once, when the two tiers land: copy the single-tier quick goldens into tests/smoke
migrate-tiers: install
	$(BIN)/python scripts/run_chapters.py --migrate-tiers

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

## test: unit tests, nbval against the smoke goldens (tests/smoke), golden/source consistency of both
## tiers, book build of the record tier, the built book in headless Chromium (offline)
test: install chromium
	MFH_CACHE_DIR=$$(mktemp -d) $(BIN)/python -m pytest tests --nbval \
	    --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout=1800 -p no:cacheprovider --durations=25

clean:
	rm -rf book/_build .cache

## mutation: mutation testing (mutmut) of the science modules, on demand, not part of `make test`
## or CI; hours on 2 cores. MUTATE="losses msd" picks modules. Score and survivors: tests/MUTATION.md
MUTATE ?=
mutation: install
	$(BIN)/pip install --quiet -r requirements-dev.txt
	nice -n 10 $(BIN)/python scripts/mutation_report.py $(MUTATE)
