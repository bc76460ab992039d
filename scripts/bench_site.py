"""Lighthouse on every page of the built site, served gzip-compressed on 127.0.0.1 as GitHub Pages serves it.

Usage:
  python scripts/bench_site.py                  # build the site, measure every page, table + benchmarks/site.csv
  python scripts/bench_site.py --check          # the same, then exit 1 naming each page under the goal
  python scripts/bench_site.py --no-build --pages book/intro chapters/08_position_wise_ffn   # a quick look
  python scripts/bench_site.py --check-only     # compare benchmarks/site.csv with the goal, measure nothing

Pages: the table of contents (_toc.yml), root page first, so new chapters and appendices are measured
without editing this file. Each page is measured by Lighthouse 12 (the npm package, pinned in
LIGHTHOUSE below and installed on first use into _build/lighthouse/npm/) with its default
mobile preset (simulated throttling: a slow 4G network and a 4x slower CPU) in headless Chromium,
one page at a time. The goal is in GOAL below; benchmarks/README.md explains the columns.

Lighthouse's simulated throttling scales with this machine's CPU speed: a busy machine scores lower.
The load average at the start is written next to the table (benchmarks/site-machine.csv).
"""

import argparse
import csv
import gzip
import json
import mimetypes
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "_build" / "html"
OUT = ROOT / "benchmarks"
LIGHTHOUSE = "lighthouse@12.8.2"
LIGHTHOUSE_DIR = ROOT / "_build" / "lighthouse" / "npm"  # under _build: git and Sphinx ignore it
BUILD_COMMAND = ["jupyter-book", "build", ".", "-W", "-n", "--keep-going"]

# The goal for every page: Lighthouse category scores (0-100) at least, timings (ms) below.
GOAL = {
    "performance": 90, "accessibility": 100, "best-practices": 100, "seo": 100,
    "lcp_ms": 2500, "tbt_ms": 200,
}
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
FIELDS = ["page", "performance", "accessibility", "best_practices", "seo", "lcp_ms", "tbt_ms",
          "fcp_ms", "cls", "transfer_kb", "status"]
# What GitHub Pages compresses (text formats); images and fonts go as they are.
COMPRESSIBLE = ("text/", "application/javascript", "application/json", "application/xml",
                "image/svg+xml", "application/x-javascript")


class BenchError(Exception):
    """Bad input or a missing tool: said plainly, exit status 2."""


# --- the pages ----------------------------------------------------------------------------

def toc_pages(toc=None):
    """Document names of the table of contents, root first (e.g. 'book/intro')."""
    sys.path.insert(0, str(ROOT / "tests"))
    import book_checks  # one parser of _toc.yml for the tests and this script

    return book_checks.toc_entries(Path(toc or ROOT / "_toc.yml"))


# --- serving the site as GitHub Pages does -------------------------------------------------

class GzipHandler(SimpleHTTPRequestHandler):
    """Static files; text formats gzip-compressed when the client accepts it (as GitHub Pages)."""

    cache = {}
    lock = threading.Lock()

    def log_message(self, *args):
        pass

    def send_head(self):
        path = Path(self.translate_path(self.path))
        if path.is_dir():
            path = path / "index.html"
        ctype = self.guess_type(str(path))
        accepts = "gzip" in (self.headers.get("Accept-Encoding") or "")
        if not (path.is_file() and accepts and ctype.startswith(COMPRESSIBLE)):
            return super().send_head()
        key = (str(path), path.stat().st_mtime_ns)
        with self.lock:
            body = self.cache.get(key)
            if body is None:
                body = self.cache[key] = gzip.compress(path.read_bytes(), compresslevel=6, mtime=0)
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Vary", "Accept-Encoding")
        self.send_header("Cache-Control", "max-age=600")  # what GitHub Pages sends
        self.end_headers()
        return _Bytes(body)


class _Bytes:
    def __init__(self, body):
        self.body = body

    def read(self, *args):
        body, self.body = self.body, b""
        return body

    def close(self):
        pass


def serve(site):
    """A gzip-serving http.server on 127.0.0.1 and a free port, in a background thread."""
    mimetypes.add_type("application/javascript", ".js")
    mimetypes.add_type("image/svg+xml", ".svg")
    handler = partial(GzipHandler, directory=str(site))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


# --- tools --------------------------------------------------------------------------------

def chromium():
    path = os.environ.get("CHROME_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).is_file():
        raise BenchError("Chromium is not installed (Lighthouse drives it): install it with "
                         "`sudo apt-get install -y chromium` (Debian/Ubuntu), or set CHROME_PATH=/path/to/chrome")
    return path


def lighthouse_cli():
    """Path of Lighthouse's CLI script, installing the pinned version into .lighthouse/ if needed."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        missing = " and ".join(n for n, p in (("node", node), ("npm", npm)) if not p)
        raise BenchError(f"{missing} not found: Lighthouse is an npm package and needs Node.js 18+ and npm "
                         "(`sudo apt-get install -y nodejs npm`, or from nodejs.org)")
    major = subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip().lstrip("v")
    if not major.split(".")[0].isdigit() or int(major.split(".")[0]) < 18:
        raise BenchError(f"Node.js {major or '?'} is too old for Lighthouse 12: install Node.js 18 or newer")
    cli = LIGHTHOUSE_DIR / "node_modules" / "lighthouse" / "cli" / "index.js"
    wanted = LIGHTHOUSE.split("@")[1]
    installed = LIGHTHOUSE_DIR / "node_modules" / "lighthouse" / "package.json"
    if not cli.is_file() or json.loads(installed.read_text())["version"] != wanted:
        print(f"installing {LIGHTHOUSE} into {LIGHTHOUSE_DIR.relative_to(ROOT)}/ (once) ...", flush=True)
        LIGHTHOUSE_DIR.mkdir(parents=True, exist_ok=True)
        done = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--prefix", str(LIGHTHOUSE_DIR),
                               LIGHTHOUSE], capture_output=True, text=True)
        if done.returncode != 0 or not cli.is_file():
            raise BenchError(f"`npm install {LIGHTHOUSE}` failed (is the npm registry reachable?):\n"
                             + (done.stderr or done.stdout)[-2000:])
    return node, cli


def build_site():
    binary = Path(sys.executable).parent / "jupyter-book"
    command = [str(binary) if binary.exists() else BUILD_COMMAND[0]] + BUILD_COMMAND[1:]
    print("building the site:", " ".join(BUILD_COMMAND), flush=True)
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise BenchError(f"the strict site build failed (exit {done.returncode}); fix it first:\n"
                         + (done.stdout + done.stderr)[-3000:])


# --- measuring ----------------------------------------------------------------------------

def run_lighthouse(node, cli, url, report_path):
    """One Lighthouse run of one URL (mobile preset); the parsed JSON report."""
    profile = tempfile.mkdtemp(prefix="lighthouse-profile-")
    flags = f"--headless=new --no-sandbox --disable-gpu --user-data-dir={profile}"
    command = [node, str(cli), url, "--output=json", f"--output-path={report_path}", "--quiet",
               f"--chrome-flags={flags}", "--only-categories=" + ",".join(CATEGORIES)]
    env = dict(os.environ, CHROME_PATH=chromium())
    try:
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    except subprocess.TimeoutExpired:
        return None, "Lighthouse timed out after 300 s"
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    if done.returncode != 0 or not Path(report_path).is_file():
        return None, f"Lighthouse failed (exit {done.returncode}): {(done.stderr or done.stdout).strip()[-500:]}"
    return json.loads(Path(report_path).read_text(encoding="utf-8")), ""


def summarize(page, report):
    audits = report["audits"]

    def number(audit):
        value = audits.get(audit, {}).get("numericValue")
        if value is None:
            return None
        return round(value, 3) if audit == "cumulative-layout-shift" else int(round(value))

    row = {"page": page}
    for cat in CATEGORIES:
        score = report["categories"][cat]["score"]
        row[cat.replace("-", "_")] = None if score is None else round(score * 100)
    row.update(lcp_ms=number("largest-contentful-paint"), tbt_ms=number("total-blocking-time"),
               fcp_ms=number("first-contentful-paint"), cls=number("cumulative-layout-shift"),
               transfer_kb=round(audits["total-byte-weight"]["numericValue"] / 1024))
    errors = report.get("runtimeError")
    row["status"] = f"error: {errors.get('message', errors)}" if errors else "ok"
    return row


def failing_audits(report):
    """Audits that cost points outside performance (what to fix), as 'category: audit'."""
    out = []
    for cat in ("accessibility", "best-practices", "seo"):
        for ref in report["categories"][cat]["auditRefs"]:
            audit = report["audits"][ref["id"]]
            if ref.get("weight", 0) > 0 and audit.get("score") is not None and audit["score"] < 1:
                out.append(f"{cat}: {audit['title']}")
    return out


def shortfalls(row):
    """How a row misses the goal (empty when it meets it)."""
    if row["status"] != "ok":
        return [row["status"]]
    missed = []
    for cat in CATEGORIES:
        value = row[cat.replace("-", "_")]
        if value is None or int(value) < GOAL[cat]:
            missed.append(f"{cat} {value} < {GOAL[cat]}")
    for key, label in (("lcp_ms", "LCP"), ("tbt_ms", "TBT")):
        value = row[key]
        if value is None or float(value) >= GOAL[key]:
            missed.append(f"{label} {value} ms >= {GOAL[key]} ms")
    return missed


def measure(pages, site, runs, reports_dir):
    node, cli = lighthouse_cli()
    chromium()
    httpd = serve(site)
    base = f"http://127.0.0.1:{httpd.server_address[1]}/"
    rows = []
    try:
        for page in pages:
            if not (site / f"{page}.html").is_file():
                rows.append({"page": page, "status": f"missing: no {page}.html in {site}"})
                print(f"{page}: not in the built site", flush=True)
                continue
            results = []
            for i in range(runs):
                report_path = reports_dir / f"{page.replace('/', '__')}.{i}.json"
                report, error = run_lighthouse(node, cli, base + f"{page}.html", report_path)
                if report is None:
                    results.append(({"page": page, "status": error}, None))
                    break
                results.append((summarize(page, report), report))
            ok = [r for r in results if r[1] is not None]
            if ok:  # the median run by performance score, as Lighthouse's docs advise for variance
                ok.sort(key=lambda r: r[0]["performance"] or 0)
                row, report = ok[len(ok) // 2]
                row["runs"] = len(ok)
                row["why"] = failing_audits(report)
            else:
                row = results[-1][0]
            rows.append(row)
            print(format_row(row), flush=True)
    finally:
        httpd.shutdown()
        httpd.server_close()
    return rows


# --- reporting ----------------------------------------------------------------------------

HEADER = f"{'page':<40} {'perf':>4} {'a11y':>4} {'bp':>4} {'seo':>4} {'LCP ms':>7} {'TBT ms':>7} {'KB':>6}"


def format_row(row):
    if row.get("status", "ok") != "ok" and row.get("performance") is None:
        return f"{row['page']:<40} {row['status']}"

    def cell(key, width):
        value = row.get(key)
        return f"{'' if value is None else value:>{width}}"

    return (f"{row['page']:<40} {cell('performance', 4)} {cell('accessibility', 4)} {cell('best_practices', 4)} "
            f"{cell('seo', 4)} {cell('lcp_ms', 7)} {cell('tbt_ms', 7)} {cell('transfer_kb', 6)}")


def load_average():
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def write_csv(rows, path, machine_path, load, runs):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in FIELDS})
    chrome = subprocess.run([chromium(), "--version"], capture_output=True, text=True).stdout.strip()
    machine = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "lighthouse": LIGHTHOUSE, "chromium": chrome, "preset": "mobile (Lighthouse default, simulated throttling)",
        "served": "gzip, http.server on 127.0.0.1", "runs_per_page": runs,
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "load_average_1_5_15_min": load,
    }
    with open(machine_path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["key", "value"])
        writer.writerows(machine.items())


def read_csv(path):
    if not path.is_file():
        raise BenchError(f"no {path}: run `make bench-site` first")
    with open(path, encoding="utf-8") as f:
        return list(csv.DictReader(f))


def check(rows):
    offenders = [(r["page"], shortfalls(r)) for r in rows]
    offenders = [(p, s) for p, s in offenders if s]
    if offenders:
        print(f"\nFAILED: {len(offenders)} page(s) under the goal "
              f"(performance >= {GOAL['performance']}, accessibility, best practices and SEO 100, "
              f"LCP < {GOAL['lcp_ms']} ms, TBT < {GOAL['tbt_ms']} ms):", file=sys.stderr)
        for page, missed in offenders:
            print(f"  {page}: " + "; ".join(missed), file=sys.stderr)
        print("A busy machine scores lower on performance: see the load average; re-run on a quiet one "
              "(or with --runs 3) before chasing a small shortfall.", file=sys.stderr)
        return 1
    print(f"\nall {len(rows)} pages meet the goal")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="exit 1 when a page is under the goal")
    parser.add_argument("--check-only", action="store_true", help="compare the CSV with the goal; measure nothing")
    parser.add_argument("--no-build", action="store_true", help="measure the site as built in --site")
    parser.add_argument("--site", type=Path, default=SITE, help="the built site (default _build/html)")
    parser.add_argument("--pages", nargs="+", help="document names (default: every page of _toc.yml)")
    parser.add_argument("--runs", type=int, default=1, help="Lighthouse runs per page; the median is kept")
    parser.add_argument("--csv", type=Path, help="where to write the table (default benchmarks/site.csv for a "
                                                 "full run, a temporary file for --pages)")
    parser.add_argument("--reports", type=Path, default=ROOT / "_build" / "lighthouse" / "reports",
                        help="folder for Lighthouse's JSON reports (default _build/lighthouse/reports)")
    args = parser.parse_args(argv)
    try:
        if args.runs < 1:
            raise BenchError("--runs must be at least 1")
        if args.check_only:
            return check(read_csv(args.csv or OUT / "site.csv"))
        pages = toc_pages()
        if args.pages:
            unknown = [p for p in args.pages if p.removesuffix(".html") not in pages]
            if unknown:
                raise BenchError(f"not pages of _toc.yml: {unknown} (they are: {' '.join(pages)})")
            pages = [p.removesuffix(".html") for p in args.pages]
        if not args.no_build:
            build_site()
        site = args.site.resolve()
        if not (site / "index.html").is_file():
            raise BenchError(f"{site} holds no built site: run `make book` (or drop --no-build)")
        args.reports.mkdir(parents=True, exist_ok=True)
        load = load_average()
        print(f"Lighthouse ({LIGHTHOUSE}, mobile preset) on {len(pages)} page(s), one at a time; "
              f"load average {load}\n{HEADER}", flush=True)
        started = time.monotonic()
        rows = measure(pages, site, args.runs, args.reports)
        if args.csv:
            csv_path = args.csv
        elif args.pages:
            csv_path = Path(tempfile.gettempdir()) / "bench-site.csv"
        else:
            csv_path = OUT / "site.csv"
        machine_path = csv_path.with_name(csv_path.stem + "-machine.csv")
        write_csv(rows, csv_path, machine_path, load, args.runs)
        print(f"\n{HEADER}\n" + "\n".join(format_row(r) for r in rows))
        why = [(r["page"], r.get("why")) for r in rows if r.get("why")]
        if why:
            print("\naudits that cost points (accessibility, best practices, SEO):")
            for page, items in why:
                print(f"  {page}: " + "; ".join(items))
        print(f"\n{time.monotonic() - started:.0f} s; load average at the start {load}, at the end {load_average()}; "
              f"wrote {csv_path} and {machine_path}; Lighthouse reports in {args.reports}")
        return check(rows) if args.check else 0
    except BenchError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
