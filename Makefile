# The two commands: `make book` builds the site, `make test` runs the tests. Both create .venv first.
# Every target that fails ends with a line saying what to do.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
BUILD  := _build/html
export PATH := $(abspath $(BIN)):$(PATH)

.DEFAULT_GOAL := help
.PHONY: help venv lint book test test-portable bench bench-check bench-site execute assignments grade clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 16

$(VENV)/.installed: requirements.txt scripts/bootstrap.sh
	@PYTHON="$(PYTHON)" VENV="$(VENV)" bash scripts/bootstrap.sh

venv: $(VENV)/.installed  ## create .venv from requirements.txt (exact pins; PyTorch's CPU wheel when its index answers)

lint: $(VENV)/.installed  ## ruff over chapters/, scripts/ and tests/ (config: ruff.toml); part of make test
	@$(BIN)/ruff check chapters scripts tests \
	  || { echo "error: ruff found the problems above: fix them (.venv/bin/ruff check --fix for the safe ones), then rerun make lint" >&2; exit 1; }
	@echo "lint: clean"

book: $(VENV)/.installed  ## build the site strictly (warnings are errors) into _build/html
	@$(BIN)/jupyter-book build . -W -n --keep-going \
	  || { echo "error: the strict site build failed: every Sphinx warning above is an error; fix them and rerun make book" >&2; exit 1; }
	@echo "site built: open $(abspath $(BUILD))/index.html"

test: lint  ## lint, the tests about the book, then strict nbval over every chapter
	@$(BIN)/pytest --nbval --nbval-current-env tests chapters \
	  || { echo "error: make test failed: see the failures above (a chapter's cell: rerun it with make execute NB=chapters/NN_name.ipynb if the change is intended)" >&2; exit 1; }

test-portable: $(VENV)/.installed  ## strict nbval under other CPUs' kernels, one thread, oldest versions: [NB=chapters/X.ipynb] [VARIANTS=a,b]
	@$(BIN)/python scripts/portable.py $(if $(VARIANTS),--variants "$(VARIANTS)") $(NB)

bench: $(VENV)/.installed  ## time every chapter in a fresh kernel: wall seconds and peak memory
	@$(BIN)/python scripts/bench.py \
	  || { echo "error: make bench failed: see the message above" >&2; exit 1; }

bench-check: $(VENV)/.installed  ## measure afresh and fail, naming the offender, if a budget is exceeded
	@$(BIN)/python scripts/bench.py --check \
	  || { echo "error: a budget is exceeded or a chapter failed (named above): make it faster or smaller, then rerun make bench-check" >&2; exit 1; }
	@$(BIN)/python scripts/bench_site.py --check \
	  || { echo "error: a page is under the site's goal (named above): see make bench-site's table, fix the page and rerun make bench-check" >&2; exit 1; }

bench-site: $(VENV)/.installed  ## Lighthouse (mobile) on every page, served gzipped on 127.0.0.1: table + benchmarks/site.csv
	@$(BIN)/python scripts/bench_site.py \
	  || { echo "error: make bench-site failed: see the message above" >&2; exit 1; }

execute: $(VENV)/.installed  ## restart-and-run-all a chapter: make execute NB=chapters/08_position_wise_ffn.ipynb
	@test -n "$(NB)" || { echo "error: say which notebook(s): make execute NB=chapters/08_position_wise_ffn.ipynb (or NB='chapters/*.ipynb')" >&2; exit 2; }
	@$(BIN)/python scripts/execute_notebooks.py $(NB) \
	  || { echo "error: execution failed (the cell and its error are above); the notebook was not changed" >&2; exit 1; }

assignments: $(VENV)/.installed  ## student notebooks (solutions stubbed, hidden tests removed) into release/
	@$(BIN)/python scripts/assignments.py --out release \
	  || { echo "error: some chapters were not released (the problems are printed above): fix their exercise markers and rerun make assignments" >&2; exit 1; }

grade: $(VENV)/.installed  ## grade submissions, sandboxed: make grade SUBMISSIONS=dir [TESTS=private/] [GRADE_FLAGS=--fresh]
	@test -n "$(SUBMISSIONS)" || { echo "error: say where the submissions are: make grade SUBMISSIONS=path/to/submissions (one folder per student, holding their .ipynb files)" >&2; exit 2; }
	@$(BIN)/python scripts/grade.py "$(SUBMISSIONS)" --out grades $(if $(TESTS),--tests "$(TESTS)") $(GRADE_FLAGS) \
	  || { echo "error: make grade failed: the reason is above" >&2; exit 1; }

clean:  ## remove the built site, release/ and grades/ (keeps .venv and .venv-oldest)
	rm -rf _build release grades

.DEFAULT:  # an unknown target (or a missing file a target needs)
	@echo "error: no target or file '$@': make help lists the targets (a missing file: restore it with git checkout -- $@)" >&2; exit 2
