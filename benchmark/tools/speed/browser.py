"""How long a page of the site takes to open in headless Chromium, from the outside.

One Chromium process per try loads the file and writes a screenshot: it waits for the load event and a
painted frame, so the time covers parsing, the page's scripts, layout and paint, and the browser's own
start. An empty page timed the same way says how much of that is the browser starting. Median of
`tries`. Chromium is looked for on PATH (Debian's package `chromium`); without one nothing is measured.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "chrome")
WINDOW = "1280,1024"


def find_chromium() -> str | None:
    return next((path for name in CANDIDATES if (path := shutil.which(name))), None)


def open_seconds(page: Path, tries: int = 3, timeout_s: float = 120.0) -> tuple[float, float] | None:
    """(median seconds to open and paint `page`, median for an empty page) in headless Chromium, or None
    where there is no Chromium. A try that fails or passes `timeout_s` raises RuntimeError."""
    chromium = find_chromium()
    if chromium is None:
        return None
    with tempfile.TemporaryDirectory(prefix="bench-browser-") as tmp:
        blank = Path(tmp) / "blank.html"
        blank.write_text("<!doctype html><title>empty</title><p>empty</p>\n")
        times = {}
        for name, path in (("blank", blank), ("page", Path(page).resolve())):
            times[name] = statistics.median(_one_try(chromium, path, Path(tmp), timeout_s) for _ in range(tries))
    return times["page"], times["blank"]


def _one_try(chromium: str, page: Path, tmp: Path, timeout_s: float) -> float:
    shot = tmp / "shot.png"
    shot.unlink(missing_ok=True)
    command = [
        chromium,
        "--headless",
        "--no-sandbox",  # containers and CI run as root, where Chromium refuses to start sandboxed
        "--disable-gpu",
        "--hide-scrollbars",
        f"--user-data-dir={tmp / 'profile'}",
        f"--window-size={WINDOW}",
        f"--screenshot={shot}",
        page.as_uri(),
    ]
    start = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, timeout=timeout_s)
    except subprocess.TimeoutExpired as err:
        raise RuntimeError(f"{page.name} did not open in headless Chromium within {timeout_s:.0f} s") from err
    seconds = time.perf_counter() - start
    if done.returncode != 0 or not shot.is_file():
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"headless Chromium could not open {page.name}: {tail[0]}")
    return seconds
