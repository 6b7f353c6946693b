"""The run page's opening time in headless Chromium (`bench speed engine --clips N`)."""

import os

import pytest

from benchmark.tools.speed import browser


def test_without_chromium_nothing_is_measured(monkeypatch, tmp_path):
    monkeypatch.setattr(browser, "find_chromium", lambda: None)
    assert browser.open_seconds(tmp_path / "page.html") is None


def test_a_browser_that_fails_is_one_clear_error(monkeypatch, tmp_path):
    page = tmp_path / "page.html"
    page.write_text("<p>x</p>")
    monkeypatch.setattr(browser, "find_chromium", lambda: "/bin/false")
    with pytest.raises(RuntimeError, match="headless Chromium could not open blank.html"):
        browser.open_seconds(page, tries=1)


def test_a_page_with_a_script_opens_and_takes_longer_than_an_empty_one(tmp_path):
    """A page whose script busies the browser for 1.5 s before the load event takes at least that long, and
    longer than the empty page: the time covers the page's scripts, not only the browser's start. CI
    installs Chromium and sets BENCH_REQUIRE_CHROMIUM=1 (.ci/run), so there it cannot silently skip."""
    if browser.find_chromium() is None:
        if os.environ.get("BENCH_REQUIRE_CHROMIUM"):
            pytest.fail("BENCH_REQUIRE_CHROMIUM is set but no chromium is installed")
        pytest.skip("Debian's chromium is not installed (CI installs it)")
    page = tmp_path / "busy.html"
    page.write_text("<p>busy</p><script>const t = Date.now(); while (Date.now() - t < 1500) {}</script>")
    opened, empty = browser.open_seconds(page, tries=1)
    assert opened > 1.5 and opened > empty > 0
