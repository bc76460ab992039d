"""Session fixtures for the tests of the built site: the site, its server and one Chromium.

Fixture names start with `site_` or `chromium_` so they clash with nothing else. See
tests/site_helpers.py for the environment variables (FFN_SITE_DIR, FFN_TOC, FFN_CHROMIUM,
FFN_SKIP_BROWSER).
"""

import pytest

import browser as br
import site_helpers as sh

# What happened to the browser tests in this run, for the summary at the end; "path" and "error"
# are found once, at collection (tests/browser.py: Debian's Chromium, else Playwright's own).
_BROWSER = {"missing": False, "skipped": False, "path": None, "error": None, "not_run": 0}


def pytest_collection_modifyitems(session, config, items):
    """Find (or provision) Chromium once, if any browser test was collected.

    Without one, the first browser test fails with one line saying what to do and the others are
    deselected (named in the summary), instead of each erroring with the same message.
    """
    wanted = [item for item in items if "chromium_browser" in getattr(item, "fixturenames", ())]
    if not wanted:
        return
    path, error = br.find_or_provision(report=lambda line: print(f"\n{line}", flush=True))
    _BROWSER["path"], _BROWSER["error"] = path, error
    if path:
        return
    _BROWSER["missing"] = True
    if sh.skip_browser_requested():
        _BROWSER["skipped"] = True
        return
    rest = wanted[1:]
    if rest:
        _BROWSER["not_run"] = len(rest)
        config.hook.pytest_deselected(items=rest)
        dropped = {id(item) for item in rest}
        items[:] = [item for item in items if id(item) not in dropped]


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
    """One headless Chromium for the session, driven by Playwright: Debian's, else Playwright's own.

    No Chromium (and none provisioned): the test fails with one line naming the install command,
    unless FFN_SKIP_BROWSER=1 (then they skip, and the summary says so loudly).
    """
    path = _BROWSER["path"]
    if path is None and _BROWSER["error"] is None:  # collected without the hook (should not happen)
        path, _BROWSER["error"] = br.find_or_provision()
    if path is None:
        _BROWSER["missing"] = True
        if sh.skip_browser_requested():
            _BROWSER["skipped"] = True
            pytest.skip(f"BROWSER TESTS NOT RUN: Chromium is missing and FFN_SKIP_BROWSER=1; install it: {sh.INSTALL_CHROMIUM}")
        pytest.fail(_BROWSER["error"], pytrace=False)
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
    terminalreporter.write_line(f"BROWSER TESTS OF THE SITE {verdict}: no usable Chromium (reason above).", red=True, bold=True)
    if _BROWSER["not_run"]:
        terminalreporter.write_line(f"(one browser test failed with the reason; the other {_BROWSER['not_run']} were not run)",
                                    red=True, bold=True)
    terminalreporter.write_line(f"Install it with:  {sh.INSTALL_CHROMIUM}", red=True, bold=True)
    terminalreporter.write_line(bar, red=True, bold=True)
