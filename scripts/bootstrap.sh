#!/usr/bin/env bash
# Create .venv from requirements.txt (exact pins). Called by the Makefile; safe to rerun.
# Every failure ends with one line saying what to do, and a non-zero exit.
set -euo pipefail

PYTHON="${PYTHON:-python3}"
VENV="${VENV:-.venv}"
LOG="$VENV/pip-install.log"

die() { echo "error: $*" >&2; exit 1; }

command -v "$PYTHON" >/dev/null 2>&1 \
  || die "'$PYTHON' not found. Install Python 3.10 or newer (https://www.python.org/downloads/), or point to one: make PYTHON=/path/to/python3 ..."
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
  || die "$("$PYTHON" -V 2>&1) is too old; this book needs Python 3.10 or newer. Install one and run: make PYTHON=python3.11 ..."
"$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1 \
  || die "'$PYTHON' cannot create virtual environments. On Debian/Ubuntu: sudo apt-get install python3-venv"

if [ -d "$VENV" ] && ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
  echo "note: $VENV is broken (made by another Python?); recreating it" >&2
  rm -rf "$VENV"
fi
if [ ! -x "$VENV/bin/python" ]; then
  echo "creating $VENV with $("$PYTHON" -V 2>&1)"
  "$PYTHON" -m venv "$VENV" || die "could not create $VENV; delete it and rerun, or check disk space"
fi

echo "installing requirements.txt into $VENV (log: $LOG)"
if ! "$VENV/bin/python" -m pip install --disable-pip-version-check -r requirements.txt >"$LOG" 2>&1; then
  tail -n 15 "$LOG" >&2
  die "pip could not install requirements.txt (full log: $LOG). Check your network access to PyPI, then rerun the make command"
fi
touch "$VENV/.installed"
