"""The browser the console's tests drive: Debian's chromium through Playwright (no browser download), a fresh
context per test with its timers on a fake clock, and the screenshots each step leaves (README, "Console")."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

from tests.client.helpers import Clocks

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = Path(os.environ.get("CONSOLE_SCREENSHOTS", ROOT / ".console-screenshots"))

Screenshot = Callable[[str], None]

# What the page waits for are real requests to functions run in this process: a cold start on a busy machine (a
# submit imports the provider SDKs) can take longer than Playwright's default 5 s.
expect.set_options(timeout=20_000)


@pytest.fixture(scope="module")
def clocks() -> Clocks:
    return Clocks.now()


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium (make {CHROMIUM})")
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--mute-audio"])
    yield chromium
    chromium.close()


@pytest.fixture
def page(browser: Browser, clocks: Clocks) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    opened = context.new_page()
    # The page's timers (the console's polling) run on a fake clock the test moves with the stack's.
    opened.clock.install(time=clocks.backend.now())
    yield opened
    context.close()


_owners = iter(range(1_000_000))


@pytest.fixture
def owner() -> str:
    return f"console-user-{next(_owners)}"


@pytest.fixture
def screenshot(page: Page) -> Screenshot:
    """Saves the whole page as SCREENSHOTS/<name>.png."""

    def save(name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)

    return save
