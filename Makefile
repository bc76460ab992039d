# The two commands: `make book` builds the site, `make test` runs the tests. Both create .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
BUILD  := _build/html
export PATH := $(abspath $(BIN)):$(PATH)

.DEFAULT_GOAL := help
.PHONY: help venv book test bench bench-check bench-site execute assignments grade clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 16

$(VENV)/.installed: requirements.txt scripts/bootstrap.sh
	@PYTHON="$(PYTHON)" VENV="$(VENV)" bash scripts/bootstrap.sh

venv: $(VENV)/.installed  ## create .venv from requirements.txt (exact pins)

book: $(VENV)/.installed  ## build the site strictly (warnings are errors) into _build/html
	$(BIN)/jupyter-book build . -W -n --keep-going
	@echo "site built: open $(abspath $(BUILD))/index.html"

test: $(VENV)/.installed  ## tests about the book, then strict nbval over every chapter
	$(BIN)/pytest --nbval --nbval-current-env tests chapters

bench: $(VENV)/.installed  ## time every chapter in a fresh kernel: wall seconds and peak memory
	$(BIN)/python scripts/bench.py

bench-check: $(VENV)/.installed  ## measure afresh and fail, naming the offender, if a budget is exceeded
	$(BIN)/python scripts/bench.py --check
	$(BIN)/python scripts/bench_site.py --check

bench-site: $(VENV)/.installed  ## Lighthouse (mobile) on every page, served gzipped on 127.0.0.1: table + benchmarks/site.csv
	$(BIN)/python scripts/bench_site.py

execute: $(VENV)/.installed  ## restart-and-run-all a chapter: make execute NB=chapters/08_position_wise_ffn.ipynb
	@test -n "$(NB)" || { echo "error: say which notebook(s): make execute NB=chapters/08_position_wise_ffn.ipynb (or NB='chapters/*.ipynb')" >&2; exit 2; }
	$(BIN)/python scripts/execute_notebooks.py $(NB)

assignments: $(VENV)/.installed  ## student notebooks (solutions stubbed, hidden tests removed) into release/
	$(BIN)/python scripts/assignments.py --out release

grade: $(VENV)/.installed  ## grade submissions: make grade SUBMISSIONS=dir (one folder per student)
	@test -n "$(SUBMISSIONS)" || { echo "error: say where the submissions are: make grade SUBMISSIONS=path/to/submissions (one folder per student, holding their .ipynb files)" >&2; exit 2; }
	$(BIN)/python scripts/grade.py "$(SUBMISSIONS)" --out grades

clean:  ## remove the built site (keeps .venv)
	rm -rf _build release grades
