"""A real Chromium (Debian's /usr/bin/chromium) driven by Playwright's async API, once a session.

Async, not the sync API in a thread: pyproject runs every async fixture and test on one
session-scoped event loop (asyncio_default_fixture_loop_scope and _test_loop_scope), so a
session-scoped async_playwright() stays on the loop the tests await it from. The sync API would
need a thread of its own, since it refuses to run where an asyncio loop is already running.

Playwright's own browser downloads (`playwright install`) are never used: where chromium is
missing it is installed from Debian when we are root with apt-get, as CI is; elsewhere the tests
skip and say how to install it.
"""

import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright

from tests.browser.local_sites import LocalSite, Reply

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
# No sandbox: CI runs as root, where Chromium refuses to start with one. The rest keeps a test
# run from reaching out (component and safe-browsing updates) or needing a GPU.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]


@pytest.fixture(scope="session")
def chromium(pytestconfig: pytest.Config) -> Path:
    if not CHROMIUM.exists():
        if os.geteuid() != 0 or shutil.which("apt-get") is None:
            pytest.skip(f"no {CHROMIUM}: install it (Debian/Ubuntu: apt-get install chromium)")
        _install_chromium(pytestconfig)
    return CHROMIUM


def _install_chromium(pytestconfig: pytest.Config) -> None:
    # Past pytest's capture, so a person waiting sees why the first browser test is slow.
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print("\nbrowser tests: installing chromium from Debian (apt-get)", flush=True)  # noqa: T201
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "chromium"],
    ):
        result = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            pytest.fail(f"{' '.join(argv)} failed: {result.stderr.strip()[-300:]}")


@pytest.fixture(scope="session")
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


@pytest.fixture(scope="session")
def browser_artifacts() -> Path:
    """Where browser tests leave screenshots for a person to look at (build/ is git-ignored)."""
    directory = REPO / "build" / "test-artifacts" / "browser"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    """A fresh context (no cookies or cache from other tests) at a phone-like width."""
    context = await browser.new_context(viewport={"width": 420, "height": 640})
    # Far below pytest's timeout, so a page that never comes fails with Playwright's own message.
    context.set_default_timeout(10_000)
    yield await context.new_page()
    await context.close()


@pytest.fixture
def merchant_site() -> Iterator[LocalSite]:
    """The merchant's shop on an origin of its own: every path answers a small thank-you page,
    and the site keeps the requests it saw (where the customer's browser came back to)."""
    html = {"content-type": "text/html; charset=utf-8"}
    page = "<!doctype html><title>Ada's Books</title><h1>Thank you</h1>"
    with LocalSite(lambda _: Reply(200, html, page)) as site:
        yield site
