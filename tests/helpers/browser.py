"""A real headless browser for page tests: Debian's chromium or chromium-headless-shell."""

from __future__ import annotations

import shutil
import subprocess
import tempfile

import pytest

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
