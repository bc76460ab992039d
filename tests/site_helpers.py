"""Shared helpers for the tests of the built site (tests/test_site.py, tests/test_links.py).

Where the site is:
- by default the tests build it with the strict command `make book` uses
  (`jupyter-book build . -W -n --keep-going`, incremental, so quick when current) into _build/html;
- with FFN_SITE_DIR=path/to/_build/html they use that already built site and build nothing
  (FFN_TOC=path/to/_toc.yml then says which pages it should hold; default: the repository's _toc.yml).

Where Chromium is: /usr/bin/chromium, or FFN_CHROMIUM=path. Without it the browser tests fail,
naming the install command, unless FFN_SKIP_BROWSER=1 asks to skip them (loudly).
"""

import os
import re
import shutil
import subprocess
import sys
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

import yaml

import book_checks

ROOT = Path(__file__).resolve().parents[1]
BUILD_COMMAND = ["jupyter-book", "build", ".", "-W", "-n", "--keep-going"]
INSTALL_CHROMIUM = "sudo apt-get install -y chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
# Pages Sphinx writes besides the ones in the table of contents.
EXTRA_PAGES = ("index.html", "genindex.html", "search.html")
# Screenshots the browser tests took, and the failed build's problems: listed at the end of the run.
SCREENSHOTS = []
BUILD_LOG = []
ANSI = re.compile(r"\x1b\[[0-9;]*m")


# --- configuration ------------------------------------------------------------------------

def config(root=ROOT):
    with open(Path(root) / "_config.yml", encoding="utf-8") as f:
        return yaml.safe_load(f)


def toc_path():
    return Path(os.environ.get("FFN_TOC") or ROOT / "_toc.yml")


def source_root():
    """Folder the toc's entries are relative to: the repository, or FFN_TOC's folder."""
    return toc_path().resolve().parent


def toc_entries(path=None):
    """Document names in the table of contents, root first (e.g. 'book/intro', 'chapters/08_x')."""
    return book_checks.toc_entries(path or toc_path())


def expected_pages(path=None):
    """Every HTML page the built site should hold, relative to the site root."""
    return [e + ".html" for e in toc_entries(path)] + list(EXTRA_PAGES)


def chapter_pages(path=None):
    return [e + ".html" for e in toc_entries(path) if e.startswith("chapters/")]


def launch_urls(chapter_page, cfg=None):
    """The Colab and Binder URLs a chapter page must link to, from _config.yml's repository."""
    cfg = cfg or config()
    repo = cfg["repository"]
    org_repo = urlparse(repo["url"]).path.strip("/").removesuffix(".git")
    branch = repo.get("branch", "main")
    prefix = (repo.get("path_to_book") or "").strip("/")
    notebook = "/".join(p for p in (prefix, chapter_page.removesuffix(".html") + ".ipynb") if p)
    colab = cfg["launch_buttons"]["colab_url"].rstrip("/")
    binder = cfg["launch_buttons"]["binderhub_url"].rstrip("/")
    return {
        "Colab": f"{colab}/github/{org_repo}/blob/{branch}/{notebook}",
        "Binder": f"{binder}/v2/gh/{org_repo}/{branch}?urlpath=tree/{notebook}",
    }


# --- the built site -----------------------------------------------------------------------

def site_dir():
    return Path(os.environ.get("FFN_SITE_DIR") or ROOT / "_build" / "html").resolve()


def build_site():
    """Return the site folder, building it strictly first unless FFN_SITE_DIR names a built one.

    Returns (path, None) on success, (None, message) on failure: the caller fails the tests with it.
    """
    if os.environ.get("FFN_SITE_DIR"):
        site = site_dir()
        if not (site / "index.html").is_file():
            return None, f"FFN_SITE_DIR={site} holds no index.html: build the site there first"
        return site, None
    binary = Path(sys.executable).parent / "jupyter-book"
    command = [str(binary) if binary.exists() else BUILD_COMMAND[0]] + BUILD_COMMAND[1:]
    # After a failed strict build Sphinx would not re-read the unchanged pages that warned, and the
    # next incremental build would pass: so the build after a failure rebuilds everything.
    failed_before = ROOT / "_build" / ".strict-build-failed"
    if failed_before.exists():
        command.append("--all")
    try:
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=1800)
    except FileNotFoundError:
        return None, "jupyter-book is not installed: run `make venv` (or use .venv/bin/pytest)"
    if done.returncode == 0:
        failed_before.unlink(missing_ok=True)
    else:
        failed_before.parent.mkdir(parents=True, exist_ok=True)
        failed_before.write_text("the last strict build from the tests failed; the next one rebuilds all pages\n")
        log = [ANSI.sub("", line) for line in (done.stdout + "\n" + done.stderr).splitlines()]
        problems = [ln.strip() for ln in log if re.search(r"WARNING|ERROR|Error|Exception", ln)]
        BUILD_LOG.extend(problems[:60] or [ln for ln in log if ln.strip()][-40:])
        return None, (f"the strict site build failed (`{' '.join(BUILD_COMMAND)}` exited {done.returncode}; "
                      f"its problems are listed at the end of this run); the first: {BUILD_LOG[0]}")
    return site_dir(), None


# --- serving it ---------------------------------------------------------------------------

class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def end_headers(self):
        self.send_header("Cache-Control", "no-store")
        super().end_headers()


class SiteServer:
    """http.server on 127.0.0.1 and a free port, in a background thread."""

    def __init__(self, directory):
        self.directory = Path(directory)
        handler = partial(QuietHandler, directory=str(directory))
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)

    def url(self, page):
        return self.base + page


def is_local(url, port=None):
    """Is the request for the served site (or an inline resource)?"""
    parsed = urlparse(url)
    if parsed.scheme in ("data", "blob", "about", "chrome-error", "chrome"):
        return True
    return parsed.hostname == "127.0.0.1" and (port is None or parsed.port == port)


# --- the browser --------------------------------------------------------------------------

def chromium_path():
    """Path of Debian's Chromium (or FFN_CHROMIUM), or None if it is not installed."""
    wanted = os.environ.get("FFN_CHROMIUM")
    if wanted:
        return wanted if Path(wanted).is_file() else None
    for candidate in ("/usr/bin/chromium", shutil.which("chromium") or ""):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def skip_browser_requested():
    return os.environ.get("FFN_SKIP_BROWSER", "").strip() not in ("", "0", "false", "no")


def no_chromium_message():
    return (f"Chromium is not installed, so the browser tests of the site cannot run. "
            f"Install it with `{INSTALL_CHROMIUM}` (Debian/Ubuntu; or set FFN_CHROMIUM=/path/to/chromium), "
            f"or set FFN_SKIP_BROWSER=1 to skip them knowingly.")

