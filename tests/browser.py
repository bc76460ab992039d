"""Find a Chromium for the browser tests, or provision one with Playwright's own installer.

Order: FFN_CHROMIUM=path (used as given, never replaced), Debian's /usr/bin/chromium or `chromium`
on PATH (tests/site_helpers.chromium_path), then a browser Playwright installed before, then
`python -m playwright install chromium` (a download into Playwright's cache, once;
FFN_NO_BROWSER_INSTALL=1 forbids it). If all fail, `find_or_provision` returns (None, one line
saying what to do); tests/conftest.py then fails the browser tests with that one line.
"""

import os
import subprocess
import sys
from pathlib import Path

import site_helpers as sh

INSTALL_TIMEOUT_S = 600


def playwright_chromium():
    """Path of the Chromium Playwright manages (installed or not), or None if Playwright is missing."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    with sync_playwright() as pw:
        return Path(pw.chromium.executable_path)


def _no_install_requested():
    return os.environ.get("FFN_NO_BROWSER_INSTALL", "").strip() not in ("", "0", "false", "no")


def find_or_provision(report=print):
    """(path, None) for a usable Chromium, else (None, the one-line reason and fix)."""
    path = sh.chromium_path()
    if path:
        return path, None
    if os.environ.get("FFN_CHROMIUM"):
        return None, (f"FFN_CHROMIUM={os.environ['FFN_CHROMIUM']} is not a file: point it at a Chromium binary, "
                      f"or unset it to use {sh.INSTALL_CHROMIUM.split()[-1]} from PATH")
    managed = playwright_chromium()
    if managed is None:
        return None, f"no Chromium and no Playwright: run `make venv`, or install Chromium: {sh.INSTALL_CHROMIUM}"
    if managed.is_file():
        return str(managed), None
    if _no_install_requested():
        return None, f"no Chromium (and FFN_NO_BROWSER_INSTALL=1 forbids Playwright's download): {sh.INSTALL_CHROMIUM}"
    report("no Chromium found: installing one with Playwright's installer (python -m playwright install chromium)")
    try:
        done = subprocess.run([sys.executable, "-m", "playwright", "install", "chromium"],
                              capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S)
        ok = done.returncode == 0
        lines = (done.stderr + "\n" + done.stdout).strip().splitlines()
        why = [ln.strip() for ln in lines if ln.strip().startswith("Error")][:1] or lines[-1:]
    except (OSError, subprocess.TimeoutExpired) as err:
        ok, why = False, [str(err)]
    if ok and managed.is_file():
        report(f"installed Playwright's Chromium at {managed}")
        return str(managed), None
    reason = f" ({why[0][:120]})" if why else ""
    return None, (f"Chromium is not installed and Playwright could not download one{reason}: "
                  f"install it with `{sh.INSTALL_CHROMIUM}` (or set FFN_CHROMIUM=/path/to/chromium, "
                  f"or FFN_SKIP_BROWSER=1 to skip the browser tests knowingly), then rerun")
