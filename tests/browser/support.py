"""Helpers for the storefront's browser tests: Chromium's launch, axe-core, pages not built yet.

The browser is Debian's Chromium (``agora test`` installs it, see ``agora_cli.browsers``), driven
by Playwright's sync API; axe-core (``tests/browser/package-lock.json``) is injected into a page
and every violation of impact "serious" or "critical" fails the test, each listed by rule, help
text and the nodes it was found on.
"""

from __future__ import annotations

import functools
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, ViewportSize

from agora_cli.browsers import AXE_SCRIPT, CHROMIUM
from agora_cli.config import repo_root
from tests.system.delivery import all_mail
from tests.system.stack import AgoraRun

PHONE = ViewportSize(width=390, height=844)
DESKTOP = ViewportSize(width=1280, height=800)
BLOCKING_IMPACTS = frozenset({"serious", "critical"})
PASSWORD = "Browser-Passw0rd!"
MAIL_DEADLINE_SECONDS = 60.0
NOT_FOUND = 404
PRODUCT_LINK = re.compile(r'href="(/products/[0-9a-f-]{36})"')


def missing_tools() -> str:
    """Why the browser tests cannot run here ("" when Chromium and axe-core are installed)."""
    missing = [
        f"{path} is missing" for path in (CHROMIUM, repo_root() / AXE_SCRIPT) if not path.exists()
    ]
    return "; ".join(missing) + " (./agora test --only browsers installs them)" if missing else ""


@functools.cache
def axe_source() -> str:
    """The pinned axe-core, read once."""
    return (repo_root() / AXE_SCRIPT).read_text(encoding="utf-8")


def axe_problems(page: Page) -> list[str]:
    """Run axe-core on ``page``; one line per serious or critical violation (rule, help, nodes)."""
    # Evaluated, not added as a <script>: the shop's Content-Security-Policy refuses inline ones.
    page.evaluate(axe_source())
    results: dict[str, Any] = page.evaluate(
        "async () => await axe.run(document, {resultTypes: ['violations']})"
    )
    return [
        f"{rule['id']} ({rule['impact']}): {rule['help']} at "
        + ", ".join(" ".join(node["target"]) for node in rule["nodes"])
        for rule in results["violations"]
        if rule["impact"] in BLOCKING_IMPACTS
    ]


def assert_accessible(page: Page, name: str) -> None:
    """Fail, listing them, when axe finds a serious or critical violation on ``page``."""
    problems = axe_problems(page)
    assert not problems, f"axe on the {name} page ({page.url}):\n" + "\n".join(problems)


def horizontal_overflow(page: Page) -> int:
    """How many CSS pixels the page is wider than the viewport (0: no horizontal scroll)."""
    width: int = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    return width


def open_or_skip(page: Page, url: str, reason: str) -> None:
    """Open ``url``; skip the test with ``reason`` when the page answers 404 (not built yet)."""
    response = page.goto(url)
    assert response is not None, f"no response for {url}"
    if response.status == NOT_FOUND:
        pytest.skip(reason)
    assert response.ok, f"{url} answered {response.status}"


def new_email(tag: str) -> str:
    """An address no other test or run uses."""
    return f"{tag}-{uuid.uuid4().hex[:10]}@example.com"


def register(page: Page, base_url: str, email: str, name: str = "Ada Lovelace") -> None:
    """Create an account through the register page; the visitor is signed in afterwards."""
    page.goto(f"{base_url}/register")
    fill_registration(page, email, name)
    page.wait_for_load_state()


def fill_registration(page: Page, email: str, name: str = "Ada Lovelace") -> None:
    """Fill and send the register form on the current page."""
    page.fill("#full_name", name)
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Create account").click()


def sign_in(page: Page, base_url: str, email: str, password: str) -> None:
    """Sign in through the login page."""
    page.goto(f"{base_url}/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def first_product_path(page: Page, base_url: str, category: str = "audio") -> str:
    """The path of the first product listed in ``category``."""
    page.goto(f"{base_url}/c/{category}")
    match = PRODUCT_LINK.search(page.content())
    assert match, f"no product link on /c/{category}"
    return match.group(1)


def poll[T](probe: Callable[[], T | None], what: str, seconds: float = MAIL_DEADLINE_SECONDS) -> T:
    """``probe()``'s first truthy answer; fails naming ``what`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"{what}: nothing after {seconds:.0f}s")


def mail_to(stack: AgoraRun, address: str, subject: str) -> dict[str, Any]:
    """The sink's mail to ``address`` with ``subject``, waiting for it to arrive."""

    def probe() -> dict[str, Any] | None:
        return next(
            (
                mail
                for mail in all_mail(stack)
                if mail["to"].lower() == address.lower() and mail["subject"] == subject
            ),
            None,
        )

    return poll(probe, f"a mail {subject!r} to {address}")
