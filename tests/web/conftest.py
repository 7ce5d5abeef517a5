"""The dashboard under test: in process with FastAPI's TestClient, or as the real `orchestra web`
server in a subprocess for the browser."""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from web_support import TOKEN

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def client(repo):
    """A TestClient on the dashboard of `repo`, carrying the token as a Bearer header."""
    from fastapi.testclient import TestClient

    from orchestra.context import Context
    from orchestra.web.app import create_app

    app = create_app(lambda: Context.open(repo), TOKEN)
    with TestClient(app, headers={"Authorization": f"Bearer {TOKEN}"}) as test_client:
        yield test_client


@dataclass
class Dashboard:
    url: str  # with the token
    base: str  # without it
    process: subprocess.Popen


@pytest.fixture
def dashboard(repo):
    """The real `orchestra web --no-open --port 0` in `repo`, stopped afterwards."""
    process = subprocess.Popen(
        [sys.executable, "-m", "orchestra", "web", "--no-open", "--port", "0"],
        cwd=repo,
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = _read_line(process, timeout=30)
        found = re.search(r"(http://\S+?)/\?token=(\S+)", line)
        assert found, f"orchestra web printed {line!r}"
        yield Dashboard(url=found.group(0), base=found.group(1), process=process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _read_line(process: subprocess.Popen, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 0.1)
        if ready:
            return process.stdout.readline()
        if process.poll() is not None:
            raise AssertionError(f"orchestra web exited {process.returncode}: {process.stderr.read()}")
    raise AssertionError(f"orchestra web printed no URL within {timeout}s")


@pytest.fixture
def browser():
    """A real headless Chromium (Debian's), driven by Playwright."""
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium: run `bash shell/setup.sh --test`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()
