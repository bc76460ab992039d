"""Session fixtures for the tests of the built site: the site, its server and one Chromium.

Fixture names start with `site_` or `chromium_` so they clash with nothing else. See
tests/site_helpers.py for the environment variables (FFN_SITE_DIR, FFN_TOC, FFN_CHROMIUM,
FFN_SKIP_BROWSER).
"""

import pytest

import site_helpers as sh

# What happened to the browser tests in this run, for the summary at the end.
_BROWSER = {"missing": False, "skipped": False}


@pytest.fixture(scope="session")
def site_built():
    """The built site's folder (strict build first, unless FFN_SITE_DIR names a built site)."""
    site, error = sh.build_site()
    if error:
        pytest.fail(error, pytrace=False)
    return site


@pytest.fixture(scope="session")
def site_server(site_built):
    """The built site served over HTTP on 127.0.0.1 (a free port), for the session."""
    with sh.SiteServer(site_built) as server:
        yield server


@pytest.fixture(scope="session")
def chromium_browser():
    """One headless Debian Chromium for the session, driven by Playwright (never downloaded).

    No Chromium: the tests fail, naming the install command, unless FFN_SKIP_BROWSER=1
    (then they skip, and the summary says so loudly).
    """
    path = sh.chromium_path()
    if path is None:
        _BROWSER["missing"] = True
        if sh.skip_browser_requested():
            _BROWSER["skipped"] = True
            pytest.skip(f"BROWSER TESTS NOT RUN: Chromium is missing and FFN_SKIP_BROWSER=1; install it: {sh.INSTALL_CHROMIUM}")
        pytest.fail(sh.no_chromium_message(), pytrace=False)
    from playwright.sync_api import Error, sync_playwright

    with sync_playwright() as pw:
        try:
            browser = pw.chromium.launch(executable_path=path, args=sh.CHROMIUM_ARGS, headless=True)
        except Error as err:
            pytest.fail(f"Chromium at {path} did not start under Playwright: {err}", pytrace=False)
        yield browser
        browser.close()


def pytest_terminal_summary(terminalreporter):
    if sh.BUILD_LOG:
        terminalreporter.section("the strict site build failed; problems from its log", red=True)
        for line in sh.BUILD_LOG:
            terminalreporter.write_line(line)
    if sh.SCREENSHOTS:
        terminalreporter.write_line("screenshots of the site: " + "  ".join(sh.SCREENSHOTS))
    if not _BROWSER["missing"]:
        return
    verdict = "SKIPPED (FFN_SKIP_BROWSER=1)" if _BROWSER["skipped"] else "FAILED"
    bar = "!" * 78
    terminalreporter.write_line(bar, red=True, bold=True)
    terminalreporter.write_line(f"BROWSER TESTS OF THE SITE {verdict}: Chromium is not installed.", red=True, bold=True)
    terminalreporter.write_line(f"Install it with:  {sh.INSTALL_CHROMIUM}", red=True, bold=True)
    terminalreporter.write_line(bar, red=True, bold=True)
