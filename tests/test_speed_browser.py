"""The run page's opening time in headless Chromium (`bench speed engine --clips N`)."""

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


@pytest.mark.skipif(browser.find_chromium() is None, reason="no Chromium on PATH (Debian's package chromium)")
def test_a_page_with_a_script_opens_and_takes_longer_than_an_empty_one(tmp_path):
    """A page whose script busies the browser for 1.5 s before the load event takes at least that long, and
    longer than the empty page: the time covers the page's scripts, not only the browser's start."""
    page = tmp_path / "busy.html"
    page.write_text("<p>busy</p><script>const t = Date.now(); while (Date.now() - t < 1500) {}</script>")
    opened, empty = browser.open_seconds(page, tries=1)
    assert opened > 1.5 and opened > empty > 0
