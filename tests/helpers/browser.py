"""A real headless browser for page tests: Debian's chromium or chromium-headless-shell.

`run_browser` drives it from the command line (dump the DOM, take a screenshot);
`playwright_browser` drives the same binary through Playwright, for tests that
click, type and read what a person sees.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser

# Without the background-networking flags chromium keeps dialling out, which this
# offline machine refuses; the pages under test need nothing from outside.
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-quic",
]


def browser_path() -> str:
    for name in ("chromium", "chromium-headless-shell"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("no headless browser: run `apt-get install chromium-headless-shell` "
                "(tests/helpers/ensure-browser.sh does it under `make test`)")


def run_browser(url: str, *args: str, budget_ms: int = 8000) -> subprocess.CompletedProcess:
    """Load `url` in a fresh profile, let scripts run for `budget_ms` of virtual time, then do `args`."""
    with tempfile.TemporaryDirectory() as profile:
        cmd = [browser_path(), *FLAGS, f"--user-data-dir={profile}", f"--virtual-time-budget={budget_ms}", *args, url]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=90)


@contextmanager
def playwright_browser() -> Iterator[Browser]:
    """Playwright's Chromium driver on the Debian browser `browser_path()` finds.

    Playwright's own browser builds are never downloaded (`playwright install` needs a host this
    machine cannot reach); `executable_path` points it at the packaged one instead.
    """
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the test extras: "
                                   "pip install -e '.[test]'")
    executable = browser_path()
    with sync_api.sync_playwright() as playwright:
        # Playwright adds --headless itself; the rest keep chromium from dialling out.
        browser = playwright.chromium.launch(executable_path=executable, args=[f for f in FLAGS if f != "--headless"])
        try:
            yield browser
        finally:
            browser.close()
