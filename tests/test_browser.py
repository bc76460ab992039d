"""Chromium discovery and provisioning (tests/browser.py), with the installer faked: no download."""

import subprocess

import pytest

import browser as br
import site_helpers as sh


@pytest.fixture
def no_debian_chromium(monkeypatch, tmp_path):
    """No Debian Chromium; Playwright's would live at tmp_path/chrome; record installer calls."""
    monkeypatch.delenv("FFN_CHROMIUM", raising=False)
    monkeypatch.delenv("FFN_NO_BROWSER_INSTALL", raising=False)
    monkeypatch.setattr(sh, "chromium_path", lambda: None)
    managed = tmp_path / "chrome"
    monkeypatch.setattr(br, "playwright_chromium", lambda: managed)
    calls = []

    def fake_installer(outcome):
        def run(command, **kwargs):
            calls.append(command)
            if outcome == "ok":
                managed.write_text("#!/bin/sh\n")
                return subprocess.CompletedProcess(command, 0, "", "")
            return subprocess.CompletedProcess(command, 1, "Downloading Chrome for Testing from https://x\n",
                                               "Error: getaddrinfo ENOTFOUND cdn.example\n    at stack\n")
        monkeypatch.setattr(br.subprocess, "run", run)

    return managed, calls, fake_installer


def test_debian_chromium_is_used_as_found(monkeypatch):
    monkeypatch.setattr(sh, "chromium_path", lambda: "/usr/bin/chromium")
    monkeypatch.setattr(br.subprocess, "run", lambda *a, **k: pytest.fail("nothing should be installed"))
    assert br.find_or_provision(report=lambda line: None) == ("/usr/bin/chromium", None)


def test_playwright_installs_one_when_none_is_found(no_debian_chromium):
    managed, calls, fake_installer = no_debian_chromium
    fake_installer("ok")
    path, error = br.find_or_provision(report=lambda line: None)
    assert (path, error) == (str(managed), None)
    assert calls and calls[0][-3:] == ["playwright", "install", "chromium"]


def test_a_browser_playwright_installed_before_is_reused(no_debian_chromium):
    managed, calls, fake_installer = no_debian_chromium
    managed.write_text("#!/bin/sh\n")
    fake_installer("fail")
    assert br.find_or_provision(report=lambda line: None) == (str(managed), None)
    assert calls == []


def test_a_failed_download_ends_in_one_line_with_the_apt_hint(no_debian_chromium):
    _, calls, fake_installer = no_debian_chromium
    fake_installer("fail")
    path, error = br.find_or_provision(report=lambda line: None)
    assert path is None and len(calls) == 1
    assert "\n" not in error, error
    assert sh.INSTALL_CHROMIUM in error and "ENOTFOUND" in error, error


def test_no_download_when_forbidden(no_debian_chromium, monkeypatch):
    _, calls, fake_installer = no_debian_chromium
    fake_installer("ok")
    monkeypatch.setenv("FFN_NO_BROWSER_INSTALL", "1")
    path, error = br.find_or_provision(report=lambda line: None)
    assert path is None and calls == [] and sh.INSTALL_CHROMIUM in error


def test_a_wrong_ffn_chromium_is_named_not_replaced(monkeypatch, tmp_path):
    monkeypatch.setenv("FFN_CHROMIUM", str(tmp_path / "nonexistent"))
    monkeypatch.setattr(br.subprocess, "run", lambda *a, **k: pytest.fail("nothing should be installed"))
    path, error = br.find_or_provision(report=lambda line: None)
    assert path is None and "FFN_CHROMIUM=" in error and "\n" not in error
