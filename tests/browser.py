"""Headless Chromium for the browser tests: Debian's /usr/bin/chromium driven by Playwright.

No browser is ever downloaded: Playwright (the Python package) drives the system Chromium
(``make test`` installs Debian's ``chromium`` where apt-get can run). Where either is
missing, :func:`chromium_or_skip` skips the calling test and says what to install.

Also a command, to check a page by hand and take its screenshot (the README's screenshot of
the report comes from it)::

    .venv/bin/python tests/browser.py outputs/demo/report/index.html report.png
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

# Without the networking flags Chromium keeps calling out, and this machine refuses it.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")


def chromium_path() -> str | None:
    """The system Chromium, or ``None``."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def chromium_or_skip() -> str:
    """The system Chromium's path; skips the calling test when it or Playwright is missing."""
    path = chromium_path()
    if path is None:
        pytest.skip("no system Chromium: install Debian's chromium and chromium-driver "
                    "(make test does so where apt-get runs as root) to run the browser tests")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("playwright is not installed (pip install -e '.[dev]')")
    return path


@dataclass
class PageLog:
    """What a page did while it loaded and was used."""

    errors: list[str] = field(default_factory=list)
    network: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        """JavaScript errors, requests off this machine, and failed requests."""
        return [*self.errors, *(f"network request: {u}" for u in self.network),
                *(f"failed request: {u}" for u in self.failed)]


@contextmanager
def chromium_browser() -> Iterator[Any]:
    """A headless Chromium (Playwright ``Browser``), closed afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_or_skip(), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def open_page(browser: Any, url: str, allowed_hosts: tuple[str, ...] = ()) -> tuple[Any, PageLog]:
    """Open ``url`` in a new page and log its errors and requests until it has loaded.

    Requests to ``allowed_hosts`` (e.g. ``"http://127.0.0.1:8888"``) and to local schemes are
    not counted as network requests.
    """
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    log = PageLog()
    page.on("console", lambda message: log.errors.append(f"console: {message.text}") if message.type == "error" else None)
    page.on("pageerror", lambda error: log.errors.append(f"page error: {error}"))

    def local(address: str) -> bool:
        return address.startswith(LOCAL_SCHEMES) or address.startswith(allowed_hosts)

    page.on("request", lambda request: None if local(request.url) else log.network.append(request.url))
    page.on("requestfailed", lambda request: log.failed.append(request.url))
    page.goto(url, wait_until="load")
    page.wait_for_load_state("networkidle")
    return page, log


def broken_images(page: Any) -> list[str]:
    """Addresses of the page's images that did not load."""
    return page.evaluate(
        "Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)"
    )


def main(argv: list[str]) -> int:
    """``python tests/browser.py PAGE SCREENSHOT``: report problems, save a screenshot."""
    if len(argv) != 2:
        print(__doc__)
        return 2
    target, screenshot = Path(argv[0]).resolve(), Path(argv[1])
    if chromium_path() is None:
        print("no system Chromium (install Debian's chromium)")
        return 2
    with chromium_browser() as browser:
        page, log = open_page(browser, target.as_uri())
        page.wait_for_timeout(1000)
        page.screenshot(path=str(screenshot))
        problems = [*log.problems(), *(f"image not loaded: {src}" for src in broken_images(page))]
    print("\n".join(problems) or f"{target}: no errors, no network requests, every image loaded")
    print(f"screenshot: {screenshot}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
