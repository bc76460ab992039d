"""Performance of the book: time and memory of every chapter, nbval, and the site build.

Usage:
  python scripts/bench.py                       # everything; table + benchmarks/bench.csv, machine.csv
  python scripts/bench.py --check               # the same, then exit 1 naming each budget exceeded
  python scripts/bench.py chapters/08_position_wise_ffn.ipynb --notebooks-only   # a quick look

What it measures (see benchmarks/README.md for the columns):
- each chapter notebook run top to bottom in a fresh kernel (working directory chapters/, as nbval):
  wall seconds (kernel start included, and so the worker processes a chapter starts and waits for);
  CPU seconds of the kernel and of all its children (the worker processes of chapter 10 included);
  and the peak memory of the kernel together with its children: psutil sampling, every 50 ms, of
  the summed PSS (proportional set size: a page shared by several processes, such as torch's
  libraries in every worker, is counted once in all) of the kernel and every child process, or
  of the kernel's own ru_maxrss, read in a cell appended for the purpose, if larger;
- `pytest --nbval --nbval-current-env` over the same notebooks, wall seconds;
- a cold strict book build into an empty temporary folder, then a warm rebuild after one chapter
  changed (its cached doctree removed, so Sphinx re-reads it), wall seconds.
Budgets (on 2 CPU cores) are in BUDGETS below; timings on a busy machine come out high.
"""

import argparse
import contextlib
import csv
import importlib.metadata
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = ROOT / "chapters"
CHAPTER_NAME = re.compile(r"^(\d\d)_[a-z0-9_]+\.ipynb$")
ANSI = re.compile(r"\x1b\[[0-9;]*m")
OUT = ROOT / "benchmarks"

# Budgets on 2 CPU cores. A notebook may have its own time budget, by chapter number.
BUDGETS = {
    "notebook_s": 30.0,
    "notebook_s_by_chapter": {"09": 60.0, "10": 60.0, "11": 60.0},
    "notebook_mb": 1024.0,
    "notebook_mb_by_chapter": {"10": 1536.0},  # chapter 10 starts 2 and 4 worker processes
    "nbval_total_s": 300.0,
    "book_warm_s": 30.0,
}

FIELDS = ["measure", "item", "wall_s", "cpu_s", "peak_mb", "budget_s", "budget_mb", "status"]
NUMERIC = ("wall_s", "cpu_s", "peak_mb", "budget_s", "budget_mb")
MEMORY_CELL = (
    "import resource as _bench_resource\n"
    "_bench_self = _bench_resource.getrusage(_bench_resource.RUSAGE_SELF)\n"
    "_bench_children = _bench_resource.getrusage(_bench_resource.RUSAGE_CHILDREN)\n"
    "print('BENCH_MAXRSS_KB', _bench_self.ru_maxrss, _bench_children.ru_maxrss,"
    " 'BENCH_CPU_S', _bench_self.ru_utime + _bench_self.ru_stime,"
    " _bench_children.ru_utime + _bench_children.ru_stime)"
)


class BenchError(Exception):
    """Bad input: said plainly, exit status 2."""


# --- what to measure ----------------------------------------------------------------------

def chapter_notebooks():
    return sorted(p for p in CHAPTERS.glob("*.ipynb") if CHAPTER_NAME.match(p.name))


def select_notebooks(paths):
    if not paths:
        found = chapter_notebooks()
        if not found:
            raise BenchError(f"no chapter notebooks found in {CHAPTERS} (expected chapters/NN_name.ipynb)")
        return found
    chosen, bad = [], []
    for raw in paths:
        path = Path(raw)
        path = path if path.is_absolute() else Path.cwd() / path
        if path.is_dir():
            inside = sorted(p for p in path.glob("*.ipynb") if CHAPTER_NAME.match(p.name))
            if not inside:
                bad.append(f"{raw} (a folder with no NN_name.ipynb notebooks)")
            chosen.extend(inside)
        elif not path.is_file():
            bad.append(f"{raw} (no such file)")
        elif path.suffix != ".ipynb":
            bad.append(f"{raw} (not a .ipynb notebook)")
        else:
            chosen.append(path.resolve())
    if bad:
        raise BenchError("cannot benchmark: " + "; ".join(bad)
                         + " (give notebooks like chapters/08_position_wise_ffn.ipynb, or nothing for all)")
    return list(dict.fromkeys(chosen))


def notebook_time_budget(path):
    number = Path(path).name[:2]
    return BUDGETS["notebook_s_by_chapter"].get(number, BUDGETS["notebook_s"])


def notebook_memory_budget(path):
    number = Path(path).name[:2]
    return BUDGETS["notebook_mb_by_chapter"].get(number, BUDGETS["notebook_mb"])


def display_name(path):
    try:
        return Path(path).resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return str(path)


# --- the machine --------------------------------------------------------------------------

def version_of(package):
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def machine():
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        model = platform.processor() or "unknown"
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    try:
        import psutil
        memory_gb = f"{psutil.virtual_memory().total / 2**30:.1f}"
    except ImportError:
        memory_gb = "unknown"
    try:
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "unknown"
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu_model": model,
        "cores": str(usable),
        "cores_total": str(os.cpu_count()),
        "memory_gb": memory_gb,
        "load_average_1_5_15_min": load,
        "os": platform.platform(),
        "python": platform.python_version(),
        "torch": version_of("torch"),
        "numpy": version_of("numpy"),
        "matplotlib": version_of("matplotlib"),
        "jupyter_book": version_of("jupyter-book"),
    }


# --- one notebook in a fresh kernel -------------------------------------------------------

def process_memory(proc):
    """PSS of one process where the OS reports it (Linux), else its RSS (shared pages counted fully)."""
    import psutil

    try:
        return proc.memory_full_info().pss
    except (AttributeError, psutil.AccessDenied):  # no PSS on this OS (macOS, Windows), or not allowed
        return proc.memory_info().rss


class MemorySampler(threading.Thread):
    """Largest summed PSS of a process and all its children (workers too), sampled every 50 ms."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop = pid, 0, threading.Event()

    def run(self):
        import psutil

        try:
            proc = psutil.Process(self.pid)
        except psutil.Error:
            return
        while not self.stop.is_set():
            try:
                total = process_memory(proc)
                for child in proc.children(recursive=True):
                    with contextlib.suppress(psutil.Error):
                        total += process_memory(child)
                self.peak = max(self.peak, total)
            except psutil.Error:
                return
            self.stop.wait(0.05)


def kernel_pid(client):
    provisioner = getattr(client.km, "provisioner", None)
    process = getattr(provisioner, "process", None)
    return getattr(process, "pid", None) or getattr(provisioner, "pid", None)


def run_notebook(path, timeout):
    """(wall seconds, CPU seconds, peak MB, status) for one notebook run top to bottom in a fresh kernel."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(MEMORY_CELL))
    samplers = []

    def on_start(**_):
        pid = kernel_pid(client)
        if pid and not samplers:
            samplers.append(MemorySampler(pid))
            samplers[0].start()

    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", record_timing=False, allow_errors=False,
        resources={"metadata": {"path": str(Path(path).parent)}}, on_cell_start=on_start,
    )
    status = "ok"
    start = time.perf_counter()
    try:
        client.execute(stderr=subprocess.DEVNULL)  # the kernel's start-up chatter would break the table
    except Exception as err:  # a failing cell, a timeout, a dead kernel: say which, keep going
        lines = [ln for ln in ANSI.sub("", str(err)).strip().splitlines() if ln.strip()]
        status = f"failed: {type(err).__name__}: {lines[-1].strip()[:120] if lines else ''}"
    wall = time.perf_counter() - start
    for sampler in samplers:
        sampler.stop.set()
        sampler.join(timeout=5)
    peak_kb, cpu = 0, None
    for out in nb.cells[-1].get("outputs", []):
        match = re.search(r"BENCH_MAXRSS_KB (\d+) (\d+) BENCH_CPU_S ([\d.]+) ([\d.]+)", out.get("text", ""))
        if match:
            # ru_maxrss of the children is the largest single child's: a lower bound of their sum
            peak_kb = max(int(match.group(1)), int(match.group(2)))
            cpu = float(match.group(3)) + float(match.group(4))
    sampled = samplers[0].peak if samplers else 0
    peak_mb = max(peak_kb / 1024, sampled / 2**20)
    return wall, cpu, peak_mb, status


# --- nbval and the book -------------------------------------------------------------------

def tool(name):
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else (shutil.which(name) or name)


def timed(command, cwd=ROOT, timeout=3600):
    """(wall seconds, status, output tail) of a command."""
    start = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        return 0.0, f"failed: {command[0]} not found (run `make venv`)", ""
    except subprocess.TimeoutExpired:
        return time.perf_counter() - start, f"failed: timed out after {timeout} s", ""
    wall = time.perf_counter() - start
    log = [ANSI.sub("", line) for line in (done.stdout + "\n" + done.stderr).strip().splitlines()]
    problems = [line for line in log if re.search(r"WARNING|ERROR|FAILED|Error", line)]
    tail = "\n".join(problems[:20] or log[-15:])
    return wall, ("ok" if done.returncode == 0 else f"failed: exit {done.returncode}"), tail


def run_nbval(notebooks):
    command = [sys.executable, "-m", "pytest", "--nbval", "--nbval-current-env", "-q",
               *[str(p) for p in notebooks]]
    return timed(command)


def run_book(notebooks):
    """Cold strict build into an empty folder, then a warm rebuild with one chapter changed."""
    rows = []
    work = Path(tempfile.mkdtemp(prefix="ffn-bench-book-"))
    command = [tool("jupyter-book"), "build", str(ROOT), "--path-output", str(work), "-W", "-n", "--keep-going"]
    try:
        wall, status, tail = timed(command)
        rows.append(("book", "cold build (empty output folder)", wall, status, tail))
        # One chapter "edited": without its cached doctree Sphinx reads and writes it again.
        changed = max(notebooks, key=lambda p: p.stat().st_size).stem if notebooks else None
        if changed:
            doctree = work / "_build" / ".doctrees" / "chapters" / f"{changed}.doctree"
            doctree.unlink(missing_ok=True)
        wall, status, tail = timed(command)
        rows.append(("book", f"warm rebuild ({changed or 'nothing'} changed)", wall, status, tail))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rows


# --- the report ---------------------------------------------------------------------------

def row(measure, item, wall, peak=None, budget_s=None, budget_mb=None, status="ok", cpu=None):
    return {"measure": measure, "item": item, "wall_s": f"{wall:.1f}",
            "cpu_s": "" if cpu is None else f"{cpu:.1f}",
            "peak_mb": "" if peak is None else f"{peak:.0f}",
            "budget_s": "" if budget_s is None else f"{budget_s:g}",
            "budget_mb": "" if budget_mb is None else f"{budget_mb:g}", "status": status}


def print_table(rows, info):
    widths = {f: max(len(f), *(len(r[f]) for r in rows)) for f in FIELDS}
    line = "  ".join(f.ljust(widths[f]) for f in FIELDS)
    print(f"\nmachine: {info['cores']} cores ({info['cpu_model']}), {info['memory_gb']} GB, "
          f"Python {info['python']}, torch {info['torch']}; load {info['load_average_1_5_15_min']}")
    print(line)
    print("-" * len(line))
    for r in rows:
        print("  ".join(r[f].rjust(widths[f]) if f in NUMERIC
                        else r[f].ljust(widths[f]) for f in FIELDS))


def write_csv(rows, info, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    machine_path = path.with_name("machine.csv") if path.name == "bench.csv" else path.with_suffix(".machine.csv")
    with open(machine_path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["key", "value"])
        writer.writerows(info.items())
    return machine_path


def offenders(rows):
    """One sentence per budget exceeded (or measurement that failed)."""
    found = []
    for r in rows:
        if r["status"] != "ok" and r["measure"] != "notebooks":  # the total repeats its notebooks' failures
            found.append(f"{r['item']}: {r['status']}")
        if r["budget_s"] and float(r["wall_s"]) > float(r["budget_s"]):
            found.append(f"{r['item']}: {r['wall_s']} s, over its budget of {r['budget_s']} s")
        if r["budget_mb"] and r["peak_mb"] and float(r["peak_mb"]) > float(r["budget_mb"]):
            found.append(f"{r['item']}: {r['peak_mb']} MB peak, over its budget of {r['budget_mb']} MB")
    return found


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.splitlines()[2:]))
    parser.add_argument("notebooks", nargs="*", help="notebooks to run (default: every chapters/NN_name.ipynb)")
    parser.add_argument("--check", action="store_true", help="exit 1, naming each offender, if a budget is exceeded")
    parser.add_argument("--notebooks-only", action="store_true", help="skip the slow nbval and book parts")
    parser.add_argument("--no-nbval", action="store_true", help="skip the nbval timing")
    parser.add_argument("--no-book", action="store_true", help="skip the cold and warm book builds")
    parser.add_argument("--csv", type=Path, help="where to write the CSV (default: benchmarks/bench.csv for a "
                        "full run, a temporary file for a partial one)")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell (default 600)")
    args = parser.parse_args(argv)

    try:
        notebooks = select_notebooks(args.notebooks)
    except BenchError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    do_nbval = not (args.notebooks_only or args.no_nbval)
    do_book = not (args.notebooks_only or args.no_book)
    full = not args.notebooks and do_nbval and do_book
    csv_path = args.csv or (OUT / "bench.csv" if full else Path(tempfile.gettempdir()) / "ffn-bench.csv")

    info = machine()
    rows = []
    print(f"benchmarking {len(notebooks)} notebook(s) on {info['cores']} core(s) ({info['cpu_model']})", flush=True)
    total_wall, max_peak, total_cpu = 0.0, 0.0, 0.0
    for path in notebooks:
        print(f"  running {display_name(path)} ...", end=" ", flush=True)
        wall, cpu, peak, status = run_notebook(path, args.timeout)
        print(f"{wall:.1f} s, {peak:.0f} MB{'' if status == 'ok' else ', ' + status}", flush=True)
        rows.append(row("notebook", display_name(path), wall, peak, notebook_time_budget(path),
                        notebook_memory_budget(path), status, cpu=cpu))
        total_wall, max_peak = total_wall + wall, max(max_peak, peak)
        total_cpu = None if cpu is None or total_cpu is None else total_cpu + cpu
    rows.append(row("notebooks", f"total ({len(notebooks)} notebooks; peak = largest)", total_wall, max_peak,
                    status="ok" if all(r["status"] == "ok" for r in rows) else "failed: see above",
                    cpu=total_cpu))
    if do_nbval:
        print("  timing pytest --nbval over them ...", end=" ", flush=True)
        wall, status, tail = run_nbval(notebooks)
        print(f"{wall:.1f} s ({status})", flush=True)
        if status != "ok":
            print(tail, file=sys.stderr)
        rows.append(row("nbval", f"pytest --nbval, {len(notebooks)} notebooks", wall,
                        budget_s=BUDGETS["nbval_total_s"], status=status))
    if do_book:
        print("  building the book cold, then warm ...", flush=True)
        for measure, item, wall, status, tail in run_book(notebooks):
            print(f"    {item}: {wall:.1f} s ({status})", flush=True)
            if status != "ok":
                print(tail, file=sys.stderr)
            budget = BUDGETS["book_warm_s"] if item.startswith("warm") else None
            rows.append(row(measure, item, wall, budget_s=budget, status=status))

    print_table(rows, info)
    machine_path = write_csv(rows, info, csv_path)
    print(f"\nwritten: {display_name(csv_path)} and {display_name(machine_path)}"
          + ("" if full else " (a partial run: benchmarks/bench.csv is kept for full runs)"))

    if args.check:
        skipped = [name for name, done in (("nbval", do_nbval), ("book builds", do_book)) if not done]
        found = offenders(rows)
        if skipped:
            print(f"note: not measured, so not checked: {', '.join(skipped)}")
        if found:
            print(f"\nBUDGET EXCEEDED ({len(found)}):", file=sys.stderr)
            for sentence in found:
                print(f"  - {sentence}", file=sys.stderr)
            return 1
        print("\nall budgets met")
    elif any(r["status"] != "ok" for r in rows):
        print("\nsome measurements failed: see the status column", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
