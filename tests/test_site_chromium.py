"""The leaderboard site in a real browser (headless Chromium): loads without console errors,
sorting a column reorders the rows, the filter hides rows, and a run page links back.

CI installs Debian's chromium (.ci/run) and sets BENCH_REQUIRE_CHROMIUM=1, so there this test
cannot silently skip.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from benchmark.reports.site import build_site
from benchmark.tools.speed.browser import find_chromium
from tests.conftest import run_bench

CHROMIUM = find_chromium()
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--allow-file-access-from-files",
    "--enable-logging=stderr",
    "--v=0",
    "--virtual-time-budget=5000",
    "--dump-dom",
]

# Loaded next to the page under test: drives it through the DOM (a second page, so the site carries no test code).
HARNESS = """<!doctype html><html><body><pre id="out">pending</pre><iframe id="f" src="%s"></iframe><script>
document.getElementById("f").addEventListener("load", function () {
  var d = this.contentDocument, out = {};
  function column(i) { return [].map.call(d.querySelectorAll("table.sortable tbody tr"), function (r) { return r.cells[i].textContent.trim(); }); }
  var th = d.querySelectorAll("table.sortable th");
  var psnr = [].findIndex.call(th, function (h) { return h.textContent.indexOf("psnr") === 0; });
  out.before = column(0);
  th[psnr].click(); out.ascending = column(0);
  out.ascending_psnr = [].map.call(d.querySelectorAll("table.sortable tbody tr"), function (r) { return parseFloat(r.cells[psnr].dataset.value); });
  th[psnr].click(); out.descending = column(0);
  var filter = d.querySelector("input[data-filter]");
  if (filter) { filter.value = "still"; filter.dispatchEvent(new Event("input"));
    out.visible = [].filter.call(d.querySelectorAll("table.sortable tbody tr"), function (r) { return !r.hidden; }).length; }
  out.links = [].map.call(d.querySelectorAll("a"), function (a) { return a.getAttribute("href"); });
  out.images = [].map.call(d.querySelectorAll("img"), function (i) { return i.complete && i.naturalWidth > 0; });
  document.getElementById("out").textContent = JSON.stringify(out);
});
</script></body></html>"""


def drive(page: Path, tmp: Path) -> tuple[dict, list[str]]:
    harness = page.parent / f"harness-{page.stem}.html"
    harness.write_text(HARNESS % page.name)
    proc = subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={tmp / 'chromium-profile'}", harness.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    match = re.search(r'<pre id="out">(.*?)</pre>', proc.stdout, re.S)
    assert match, f"no harness output; stderr:\n{proc.stderr[-2000:]}"
    console = [line for line in proc.stderr.splitlines() if "CONSOLE" in line]
    return json.loads(match.group(1).replace("&quot;", '"').replace("&amp;", "&")), console


@pytest.fixture(scope="module")
def site(mini_data_root, tmp_path_factory):
    if CHROMIUM is None:
        if os.environ.get("BENCH_REQUIRE_CHROMIUM"):
            pytest.fail("BENCH_REQUIRE_CHROMIUM is set but no chromium is installed")
        pytest.skip("Debian's chromium is not installed (CI installs it)")
    tmp = tmp_path_factory.mktemp("site")
    for model in ("still", "ground-truth"):
        run_bench(
            "run",
            "--model",
            model,
            "--dataset",
            "mini",
            "--limit",
            "3",
            "--metrics",
            "psnr,ssim,blink,bilabial",
            "--out",
            str(tmp / "runs"),
            "--no-progress",
            data_root=mini_data_root,
            cwd=tmp,
        )
    index, skipped = build_site([tmp / "runs"], tmp / "site")
    assert not skipped
    return tmp, index


def test_index_sorts_filters_and_links_without_console_errors(site):
    tmp, index = site
    out, console = drive(index, tmp)
    assert console == []

    def model(cell: str) -> str:
        return re.sub(r"\s+incomplete, not ranked: .*", "", cell.replace("(reference, not ranked)", "")).strip()

    assert sorted(map(model, out["before"])) == ["ground-truth", "still"]
    assert list(map(model, out["ascending"])) == ["still", "ground-truth"]
    assert list(map(model, out["descending"])) == ["ground-truth", "still"]
    assert out["ascending_psnr"][0] < out["ascending_psnr"][1] == 100.0
    assert out["visible"] == 1
    pages = [link for link in out["links"] if link.startswith("runs/")]
    assert len(pages) == 2 and all((index.parent / p).is_file() for p in pages)


def test_run_page_links_back_and_shows_plots_and_strips(site):
    tmp, index = site
    page = next(
        p for p in (index.parent / "runs").glob("*.html") if "still" in p.name and not p.name.startswith("harness")
    )
    out, console = drive(page, tmp)
    assert console == []
    assert "../index.html" in out["links"]
    assert out["images"] and all(out["images"])  # frame strips at bilabial events load
    html = page.read_text()
    assert html.count("<svg") >= 4 and "mouth aperture" in html and "eye aspect ratio" in html
    assert "Paired comparisons" in html and "ground-truth better" in html
