#!/usr/bin/env bash
# Create a virtual environment from a requirements file (exact pins). Called by the Makefile
# (.venv from requirements.txt) and by scripts/portable.py (.venv-oldest from
# requirements-oldest.txt); safe to rerun.
#
# PyTorch: nothing in this book uses a GPU, so when PyTorch's CPU-only index (the URL that
# binder/requirements.txt names) answers within FFN_TORCH_PROBE_S seconds (default 4), torch comes
# from there (about 190 MB, no CUDA libraries); otherwise from the normal index (on Linux the CUDA
# build, gigabytes). FFN_TORCH_INDEX=pypi skips the probe and uses the normal index;
# FFN_TORCH_CPU_INDEX=URL names another CPU index (a mirror).
#
# Every failure ends with one line saying what to do, and a non-zero exit.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
VENV="${VENV:-.venv}"
REQUIREMENTS="${REQUIREMENTS:-requirements.txt}"
LOG="$VENV/pip-install.log"
PROBE_S="${FFN_TORCH_PROBE_S:-4}"

die() { echo "error: $*" >&2; exit 1; }

[ -f "$REQUIREMENTS" ] || die "no requirements file '$REQUIREMENTS': run this from a full clone of the repository"
command -v "$PYTHON" >/dev/null 2>&1 \
  || die "'$PYTHON' not found. Install Python 3.10 or newer (https://www.python.org/downloads/), or point to one: make PYTHON=/path/to/python3 ..."
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
  || die "$("$PYTHON" -V 2>&1) is too old; this book needs Python 3.10 or newer. Install one and run: make PYTHON=python3.11 ..."
"$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1 \
  || die "'$PYTHON' cannot create virtual environments. On Debian/Ubuntu: sudo apt-get install python3-venv"
[[ "$PROBE_S" =~ ^[0-9]+([.][0-9]+)?$ ]] || die "FFN_TORCH_PROBE_S='$PROBE_S' is not a number of seconds (e.g. FFN_TORCH_PROBE_S=4)"

if [ -d "$VENV" ] && ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
  echo "note: $VENV is broken (made by another Python?); recreating it" >&2
  rm -rf "$VENV"
fi
if [ ! -x "$VENV/bin/python" ]; then
  echo "creating $VENV with $("$PYTHON" -V 2>&1)"
  "$PYTHON" -m venv "$VENV" || die "could not create $VENV; delete it and rerun, or check disk space"
fi

# PyTorch's CPU-only index: the one URL binder/requirements.txt names (kept in one place).
extra=()
if grep -qE '^torch==' "$REQUIREMENTS"; then
  cpu_index="${FFN_TORCH_CPU_INDEX:-$(sed -nE 's/^--extra-index-url[= ]+(https:[^ ]+).*/\1/p' binder/requirements.txt | head -n 1)}"
  case "${FFN_TORCH_INDEX:-auto}" in
    pypi) echo "torch: from the normal index (FFN_TORCH_INDEX=pypi)" ;;
    auto)
      [ -n "$cpu_index" ] || die "binder/requirements.txt names no --extra-index-url for PyTorch's CPU wheels; restore that line"
      # A hard deadline on the whole probe (DNS included), so a sealed network costs seconds.
      if "$PYTHON" - "$cpu_index/torch/" "$PROBE_S" <<'EOF'
import sys, threading, urllib.request
url, limit = sys.argv[1], float(sys.argv[2])
ok = []
def probe():
    try:
        with urllib.request.urlopen(url, timeout=limit) as r:
            ok.append(r.status == 200)
    except Exception:
        pass
t = threading.Thread(target=probe, daemon=True)
t.start()
t.join(limit)
sys.exit(0 if ok and ok[0] else 1)
EOF
      then
        echo "torch: PyTorch's CPU-only index answered; installing the CPU build from $cpu_index (no CUDA libraries)"
        extra=(--extra-index-url "$cpu_index")
      else
        echo "torch: PyTorch's CPU-only index ($cpu_index) did not answer within ${PROBE_S}s; using the normal index"
        echo "       (on Linux that is the CUDA build, several GB; see README 'The two commands')"
      fi ;;
    *) die "FFN_TORCH_INDEX='${FFN_TORCH_INDEX}' is not understood: use FFN_TORCH_INDEX=auto (probe PyTorch's CPU index) or FFN_TORCH_INDEX=pypi" ;;
  esac
fi

echo "installing $REQUIREMENTS into $VENV (log: $LOG)"
if ! "$VENV/bin/python" -m pip install --disable-pip-version-check ${extra[@]+"${extra[@]}"} -r "$REQUIREMENTS" >"$LOG" 2>&1; then
  tail -n 15 "$LOG" >&2
  die "pip could not install $REQUIREMENTS (full log: $LOG). Check your network access to PyPI, then rerun the make command"
fi
# The stamp records which requirements it was made from, so a changed pin reinstalls.
"$VENV/bin/python" -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest(), sys.argv[1])' \
  "$REQUIREMENTS" >"$VENV/.installed"
