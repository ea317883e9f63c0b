"""Fixtures of the browser tests: one private stack and one Chromium per test module.

A module may set ``STACK_ENV`` (a dict) for its stack's services. Each test gets a new browser
context (its own cookies, so its own visitor) at desktop width; tests that need the phone width
open a context of their own from ``browser``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from agora_cli.browsers import CHROMIUM, CHROMIUM_ARGS
from tests.browser.support import DESKTOP, PHONE, missing_tools
from tests.system.stack import AgoraRun, private_stack

EXPECT_TIMEOUT_MS = 20_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless; the tests skip, saying why, where it is not installed."""
    missing = missing_tools()
    if missing:
        pytest.skip(missing)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=list(CHROMIUM_ARGS),
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def shop(request: pytest.FixtureRequest, browser: Browser) -> Iterator[AgoraRun]:
    """A private stack, up and seeded, for the whole module (after the browser, so a machine
    without Chromium skips before booting anything)."""
    env = {"AGORA_RATE_LIMIT": "1000000/minute", **getattr(request.module, "STACK_ENV", {})}
    with private_stack(env) as run:
        up = run("up", "--detach")
        assert up.returncode == 0, f"agora up failed:\n{up.stdout}\n{up.stderr}"
        seed = run("seed")
        assert seed.returncode == 0, f"agora seed failed:\n{seed.stdout}\n{seed.stderr}"
        yield run


@pytest.fixture
def context(browser: Browser, shop: AgoraRun) -> Iterator[BrowserContext]:
    """A fresh visitor at desktop width."""
    made = browser.new_context(viewport=DESKTOP, base_url=shop.gateway_url)
    made.set_default_timeout(EXPECT_TIMEOUT_MS)
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    """The fresh visitor's tab."""
    return context.new_page()


@pytest.fixture
def browser_phone_page(browser: Browser, shop: AgoraRun) -> Iterator[Page]:
    """A fresh visitor's tab at phone width (390 x 844)."""
    made = browser.new_context(viewport=PHONE, base_url=shop.gateway_url)
    made.set_default_timeout(EXPECT_TIMEOUT_MS)
    try:
        yield made.new_page()
    finally:
        made.close()
