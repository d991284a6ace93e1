"""Debian's Chromium driven by playwright, shared by the browser tests (apps, lab, site)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
#: Headless, no sandbox (containers), and none of Chromium's own background requests, so a test that
#: records every request sees only the page's.
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def launch_chromium(artifacts: Path) -> Iterator:
    """Yield a launched browser (for a module-scoped fixture); skip only where Chromium cannot be installed."""
    if CHROMIUM is None:
        if shutil.which("apt-get") is None:
            pytest.skip("!!! BROWSER TESTS SKIPPED: Chromium is missing and apt-get is unavailable to install it !!!")
        pytest.fail("Chromium is missing although apt-get is available: `make test` installs it (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    artifacts.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()
