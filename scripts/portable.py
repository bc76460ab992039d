"""The portability matrix: strict nbval over the chapters under other CPUs' kernels, one thread, and the oldest versions.

Usage: python scripts/portable.py [--variants a,b] [--list] [chapters/X.ipynb ...]
       (make test-portable [NB=chapters/X.ipynb] [VARIANTS=aten-default,oldest])

A stored output must hold on any machine: another CPU and its kernels, any thread count, the oldest
and newest supported library versions. `make test` checks the outputs as stored on this machine;
this script re-runs strict nbval (`pytest --nbval --nbval-current-env`, never --nbval-lax) once
per variant in VARIANTS below, the one list of them (CONTRIBUTING.md points here). Before each run
it starts a Python with the variant's environment and checks that the environment took effect
(PyTorch's kernel set, NumPy's SIMD dispatch, the thread count, the versions), so a variant that
silently did nothing fails instead of passing.

With notebooks named (NB=...), the matrix runs over those only, and an "as stored" run is added
first, so one command is the whole check an author runs before committing a notebook.

The oldest versions come from requirements-oldest.txt, installed into .venv-oldest by
scripts/bootstrap.sh; the venv is reused while its stamp matches the file, rebuilt when a pin
changes. Logs: _build/portable/<variant>.log. Exit status: 0 if every variant passed (skipped
ones are named, with the reason), 1 naming the failing variants, 2 for bad input.
"""

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAIN_VENV = ROOT / ".venv"
OLDEST_VENV = ROOT / ".venv-oldest"
OLDEST_REQUIREMENTS = ROOT / "requirements-oldest.txt"
LOG_DIR = ROOT / "_build" / "portable"
LIBRARIES = ("numpy", "torch", "matplotlib")

# The variants, in the order they run. env: added to the environment; npy: which of NumPy's
# dispatched SIMD features (those this CPU has beyond NumPy's baseline, computed at run time) to
# disable ("all" or "avx512"); needs: a condition, or the variant is skipped with the reason.
VARIANTS = [
    {"name": "aten-default", "what": "PyTorch's portable (non-vectorised) kernels",
     "env": {"ATEN_CPU_CAPABILITY": "default"}, "expect_capability": "DEFAULT"},
    {"name": "avx2-only", "what": "an AVX2-only machine emulated (PyTorch, MKL, oneDNN and NumPy capped at AVX2)",
     "env": {"ATEN_CPU_CAPABILITY": "avx2", "MKL_ENABLE_INSTRUCTIONS": "AVX2", "DNNL_MAX_CPU_ISA": "AVX2"},
     "npy": "avx512", "expect_capability": "AVX2", "needs": "avx512"},
    {"name": "one-thread", "what": "one thread for OpenMP and MKL",
     "env": {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}, "expect_threads": 1},
    {"name": "numpy-baseline", "what": "NumPy's SIMD dispatch reduced to its baseline",
     "env": {}, "npy": "all"},
    {"name": "oldest", "what": "the oldest supported versions (requirements-oldest.txt)",
     "env": {}, "venv": "oldest"},
]
NAMES = [v["name"] for v in VARIANTS]

# Run in the variant's Python and environment: what it really gets.
PROBE = r"""
import json, os
import numpy, torch, matplotlib
try:
    from numpy._core._multiarray_umath import __cpu_baseline__, __cpu_dispatch__, __cpu_features__
except ImportError:  # NumPy < 2.0 layout
    from numpy.core._multiarray_umath import __cpu_baseline__, __cpu_dispatch__, __cpu_features__
print(json.dumps({
    "versions": {"numpy": numpy.__version__, "torch": torch.__version__, "matplotlib": matplotlib.__version__},
    "baseline": list(__cpu_baseline__),
    "dispatch": list(__cpu_dispatch__),
    "found": [f for f in __cpu_dispatch__ if __cpu_features__.get(f)],
    "avx512": bool(__cpu_features__.get("AVX512F")),
    "capability": torch.backends.cpu.get_cpu_capability(),
    "threads": torch.get_num_threads(),
}))
"""


def fail_input(message):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def python_of(venv):
    return venv / "bin" / "python"


def probe(venv, env):
    done = subprocess.run([str(python_of(venv)), "-c", PROBE], env=env, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"{venv.name}: could not import numpy, torch and matplotlib:\n{done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def npy_features(info, which):
    """NumPy's dispatched features this CPU has (beyond the baseline); for "avx512", those past AVX2."""
    found = info["found"]
    if which == "avx512":
        found = [f for f in found if "AVX512" in f or f == "X86_V4"]
    return found


def pinned(requirements):
    pins = {}
    for line in requirements.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^\s*([A-Za-z0-9_.-]+)==([^\s;#]+)", line)
        if m:
            pins[m.group(1).lower()] = m.group(2)
    return pins


def stamp_of(requirements):
    return hashlib.sha256(requirements.read_bytes()).hexdigest()


def ensure_oldest_venv():
    """.venv-oldest from requirements-oldest.txt: reused while its stamp matches, else rebuilt."""
    if not OLDEST_REQUIREMENTS.is_file():
        raise RuntimeError(f"{OLDEST_REQUIREMENTS.name} is missing: restore it from git (git checkout {OLDEST_REQUIREMENTS.name})")
    stamp = OLDEST_VENV / ".installed"
    current = stamp.is_file() and stamp.read_text().split()[:1] == [stamp_of(OLDEST_REQUIREMENTS)]
    if current and python_of(OLDEST_VENV).exists():
        print(f"using {OLDEST_VENV.name} (its pins match {OLDEST_REQUIREMENTS.name})")
        return
    if OLDEST_VENV.exists():
        print(f"{OLDEST_VENV.name} is out of date with {OLDEST_REQUIREMENTS.name}: rebuilding it")
        shutil.rmtree(OLDEST_VENV)
    start = time.monotonic()
    env = dict(os.environ, VENV=str(OLDEST_VENV), REQUIREMENTS=str(OLDEST_REQUIREMENTS.relative_to(ROOT)))
    env.setdefault("PYTHON", sys.executable)  # venv makes a venv from the base interpreter
    done = subprocess.run(["bash", str(ROOT / "scripts" / "bootstrap.sh")], env=env, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"could not build {OLDEST_VENV.name} from {OLDEST_REQUIREMENTS.name} (see the line above)")
    print(f"built {OLDEST_VENV.name} in {time.monotonic() - start:.0f} s")


def check_effect(variant, info, npy):
    """Fail loudly if the variant's environment did not change what it is meant to change."""
    problems = []
    if "expect_capability" in variant and info["capability"] != variant["expect_capability"]:
        problems.append(f"PyTorch's CPU capability is {info['capability']}, not {variant['expect_capability']}")
    if "expect_threads" in variant and info["threads"] != variant["expect_threads"]:
        problems.append(f"torch.get_num_threads() is {info['threads']}, not {variant['expect_threads']}")
    if npy:
        left = [f for f in npy if f in info["found"]]
        if left:
            problems.append(f"NumPy still dispatches {' '.join(left)} (NPY_DISABLE_CPU_FEATURES ignored)")
    if variant.get("venv") == "oldest":
        pins = pinned(OLDEST_REQUIREMENTS)
        for lib in LIBRARIES:
            got = info["versions"][lib].split("+")[0]
            if lib in pins and got != pins[lib]:
                problems.append(f"{lib} is {info['versions'][lib]} in {OLDEST_VENV.name}, not {pins[lib]}")
    return problems


def describe(variant, info, npy):
    parts = [f"{k}={v}" for k, v in variant["env"].items()]
    if npy:
        parts.append("NPY_DISABLE_CPU_FEATURES=" + " ".join(npy))
    v = info["versions"]
    versions = f"numpy {v['numpy']}, torch {v['torch']}, matplotlib {v['matplotlib']}"
    effect = f"torch kernels {info['capability']}, {info['threads']} thread(s), numpy SIMD {' '.join(info['found']) or 'baseline only'}"
    if variant.get("venv") == "oldest":
        parts.insert(0, f"{OLDEST_VENV.name} ({OLDEST_REQUIREMENTS.name})")
    return " ".join(parts) or "(environment unchanged)", versions, effect


def run_pytest(name, venv, env, notebooks):
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log_path = LOG_DIR / f"{name}.log"
    command = [str(venv / "bin" / "pytest"), "--nbval", "--nbval-current-env", "-q", *[str(nb) for nb in notebooks]]
    start = time.monotonic()
    with open(log_path, "w", encoding="utf-8") as log:
        process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True, bufsize=1)
        for line in process.stdout:
            sys.stdout.write("  " + line)
            log.write(line)
        code = process.wait()
    seconds = time.monotonic() - start
    text = log_path.read_text(encoding="utf-8")
    failed = [ln.split(" - ")[0].removeprefix("FAILED ") for ln in text.splitlines() if ln.startswith("FAILED ")]
    summary = re.findall(r"^=*\s*(\d+ (?:passed|failed|error).*?) in [\d.]+s", text, re.M)
    return code, seconds, failed, (summary[-1] if summary else f"pytest exited {code}"), log_path


def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     epilog="variants: " + ", ".join(NAMES))
    parser.add_argument("notebooks", nargs="*", type=Path, help="notebooks to check (default: every chapters/*.ipynb)")
    parser.add_argument("--variants", default="", help="comma-separated subset of the variants (default: all)")
    parser.add_argument("--list", action="store_true", help="print the variants and exit")
    args = parser.parse_args(argv)
    chosen = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in chosen if v not in NAMES]
    if unknown:
        fail_input(f"unknown variant(s) {', '.join(unknown)}; choose from: {', '.join(NAMES)} (e.g. VARIANTS=aten-default,oldest)")
    missing = [str(p) for p in args.notebooks if not p.is_file() or p.suffix != ".ipynb"]
    if missing:
        fail_input(f"not a notebook: {', '.join(missing)}. Name chapter notebooks, e.g. make test-portable NB=chapters/03_perceptron.ipynb")
    notebooks = [p.resolve() for p in args.notebooks] or sorted((ROOT / "chapters").glob("*.ipynb"))
    if not notebooks:
        fail_input("no notebooks found in chapters/: run this from a full clone of the repository")
    outside = [str(p) for p in notebooks if ROOT not in p.parents]
    if outside:
        fail_input(f"not in this repository: {', '.join(outside)}")
    return args, chosen or NAMES, notebooks


def main(argv=None):
    args, chosen, notebooks = parse(argv)
    if args.list:
        for v in VARIANTS:
            print(f"{v['name']:15} {v['what']}")
        return 0
    if not python_of(MAIN_VENV).exists():
        fail_input(f"{MAIN_VENV.name} does not exist: run `make venv` first (make test-portable does it for you)")
    base_env = {k: v for k, v in os.environ.items() if k not in ("NPY_DISABLE_CPU_FEATURES", "ATEN_CPU_CAPABILITY")}
    base_env.pop("MPLBACKEND", None)  # with it nbval's figure outputs vanish (see toolchain notes)
    host = probe(MAIN_VENV, base_env)
    print(f"this machine: NumPy baseline {' '.join(host['baseline'])}; dispatched features found "
          f"{' '.join(host['found']) or 'none'}; AVX-512 {'yes' if host['avx512'] else 'no'}; "
          f"PyTorch kernels {host['capability']}, {host['threads']} threads")
    print(f"notebooks: {len(notebooks)} ({', '.join(p.name for p in notebooks[:3])}{', ...' if len(notebooks) > 3 else ''})")

    plan = [dict(v) for v in VARIANTS if v["name"] in chosen]
    if args.notebooks and not args.variants:
        plan.insert(0, {"name": "as-stored", "what": "this machine, as make test runs it", "env": {}})
    rows = []
    for variant in plan:
        name = variant["name"]
        print(f"\n=== {name}: {variant['what']}")
        if variant.get("needs") == "avx512" and not host["avx512"]:
            reason = "this CPU has no AVX-512, so it already is an AVX2-or-lower machine: make test and the other variants run there"
            print(f"skipped: {reason}")
            rows.append((name, "-", "-", f"skipped ({reason})", 0.0))
            continue
        try:
            if variant.get("venv") == "oldest":
                ensure_oldest_venv()
                venv = OLDEST_VENV
            else:
                venv = MAIN_VENV
            env = dict(base_env, **variant["env"])
            npy = []
            if variant.get("npy"):
                own = probe(venv, base_env)  # each NumPy version names its features differently
                npy = npy_features(own, variant["npy"])
                if npy:
                    env["NPY_DISABLE_CPU_FEATURES"] = " ".join(npy)
            info = probe(venv, env)
        except RuntimeError as err:
            print(f"error: {err}", file=sys.stderr)
            rows.append((name, "-", "-", "FAILED: could not set up (see above)", 0.0))
            continue
        setting, versions, effect = describe(variant, info, npy)
        print(f"environment: {setting}\nversions: {versions}\nin effect: {effect}")
        problems = check_effect(variant, info, npy)
        if variant.get("npy") and not npy:
            print("note: NumPy dispatches no SIMD features beyond its baseline on this CPU; this run equals the as-stored one")
        if problems:
            for p in problems:
                print(f"error: {name}: {p}", file=sys.stderr)
            rows.append((name, setting, versions, "FAILED: environment did not take effect", 0.0))
            continue
        code, seconds, failed, summary, log_path = run_pytest(name, venv, env, notebooks)
        result = "pass" if code == 0 else "FAILED"
        result += f" ({summary})"
        if failed:
            result += "; failing: " + ", ".join(Path(f).name for f in failed)
        rows.append((name, setting, versions, result, seconds))

    print_table(rows)
    bad = [r[0] for r in rows if r[3].startswith("FAILED")]
    total = sum(r[4] for r in rows)
    print(f"total nbval time {total:.0f} s; logs in {LOG_DIR.relative_to(ROOT)}/")
    if bad:
        print(f"error: the portability matrix failed in: {', '.join(bad)}. A stored output that changes with the CPU's "
              f"kernels, the thread count or the versions is a bug (CONTRIBUTING.md, 'Before committing'); "
              f"rerun one with: make test-portable VARIANTS={bad[0]} NB=chapters/NN_name.ipynb", file=sys.stderr)
        return 1
    print("portability matrix: every variant passed" + (" (skipped ones named above)" if any("skipped" in r[3] for r in rows) else ""))
    return 0


def print_table(rows):
    header = ("variant", "environment", "versions", "result", "wall")
    cells = [header] + [(n, s, v, r, f"{t:.0f} s" if t else "-") for n, s, v, r, t in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(header))]
    print("\nportability matrix")
    for i, row in enumerate(cells):
        print(" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if i == 0:
            print("-+-".join("-" * w for w in widths))


if __name__ == "__main__":
    sys.exit(main())
