"""The browser side of ``agora screenshots``: Playwright driving the system's Chromium.

One browser, one context per viewport (its own cookies: each viewport signs in on its own). In a
context the pages are shot in the order of :data:`agora_cli.screenshots.SHOTS`; what a page needs
is found on the way and kept (:class:`Visit`): the first product the home page links to, the admin
signed in through the login form, that product put in the basket, the first order the account's
order list links to.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from agora_cli.bench.servers import progress
from agora_cli.browsers import CHROMIUM_ARGS
from agora_cli.env import DEV_ADMIN_EMAIL, DEV_ADMIN_PASSWORD
from agora_cli.screenshots import VIEWPORTS, ScreenshotError, Shot, Viewport

if TYPE_CHECKING:
    from playwright.sync_api import Page, ViewportSize

TIMEOUT_MS = 30_000
HTTP_OK = 200
HTTP_NOT_FOUND = 404
LOGIN_PATH = "/login"
PRODUCT_LINK = 'a[href^="/products/"]'
ORDER_LINK = 'a[href^="/account/orders/"]'
ORDERS_PATH = "/account/orders"
ADD_TO_BASKET = 'form.add button[type="submit"]'
FILLS_BASKET = ("basket", "checkout")


def shoot(gateway_url: str, shots: list[Shot], out: Path, chromium: str) -> list[Path]:
    """Shoot ``shots`` at every viewport through ``gateway_url`` into ``out``.

    Returns:
        The files written.

    Raises:
        ScreenshotError: When a page every stack has (home, search, product) does not answer 200,
            or the admin cannot sign in.
    """
    from playwright.sync_api import sync_playwright

    written: list[Path] = []
    with sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=chromium, args=list(CHROMIUM_ARGS), headless=True
        )
        try:
            for viewport in VIEWPORTS:
                size: ViewportSize = {"width": viewport.width, "height": viewport.height}
                context = browser.new_context(base_url=gateway_url, viewport=size)
                context.set_default_timeout(TIMEOUT_MS)
                try:
                    visit = Visit(context.new_page())
                    written += [
                        path
                        for shot in shots
                        if (path := visit.take(shot, viewport, out)) is not None
                    ]
                finally:
                    context.close()
        finally:
            browser.close()
    return written


@dataclass
class Visit:
    """One viewport's browsing: the page, and what was found or done so far."""

    page: Page
    product: str | None = None
    order: str | None = None
    signed_in: bool = False
    done: set[str] = field(default_factory=set)

    def take(self, shot: Shot, viewport: Viewport, out: Path) -> Path | None:
        """Shoot ``shot`` into ``out``; None (with a note) when it is skipped."""
        if shot.signed_in:
            self.sign_in()
        if shot.name in FILLS_BASKET:
            self.fill_basket()
        path = self.resolve(shot)
        where = f"{viewport.name} {shot.name}"
        if path is None:
            progress(f"{where}: skipped, no order to show (place one first)")
            return None
        response = self.page.goto(path, wait_until="networkidle")
        why = self._refusal(response.status if response is not None else None, shot)
        if why is not None:
            if not shot.optional:
                raise ScreenshotError(f"GET {path} {why}: is the storefront up?")
            progress(f"{where}: skipped, GET {path} {why}")
            return None
        target = out / shot.file_name(viewport)
        self.page.screenshot(path=str(target), full_page=False)
        progress(f"{where}: {target} ({target.stat().st_size // 1024} KiB)")
        return target

    def resolve(self, shot: Shot) -> str | None:
        """``shot``'s path with its product or order filled in; None: no order to show."""
        if "{product}" in shot.path:
            return shot.path.format(product=self.first_product())
        if "{order}" in shot.path:
            order = self.first_order()
            return None if order is None else shot.path.format(order=order)
        return shot.path

    def first_product(self) -> str:
        """The id of the first product the home page links to.

        Raises:
            ScreenshotError: When it links none (no catalogue).
        """
        if self.product is None:
            self.page.goto("/", wait_until="load")
            link = self.page.locator(PRODUCT_LINK).first
            if not link.count():
                raise ScreenshotError("the home page links no product: is the catalogue seeded?")
            self.product = str(link.get_attribute("href")).rsplit("/", 1)[-1]
        return self.product

    def first_order(self) -> str | None:
        """The id of the first order the account's order list links to, if there is one."""
        if self.order is None:
            response = self.page.goto(ORDERS_PATH, wait_until="load")
            link = self.page.locator(ORDER_LINK).first
            if response is None or response.status != HTTP_OK or not link.count():
                return None
            self.order = str(link.get_attribute("href")).rsplit("/", 1)[-1]
        return self.order

    def sign_in(self) -> None:
        """Sign in as the stack's admin through the login form, once.

        Raises:
            ScreenshotError: When the login form sends the browser back to it.
        """
        if self.signed_in:
            return
        email = os.environ.get("AGORA_ADMIN_EMAIL") or DEV_ADMIN_EMAIL
        password = os.environ.get("AGORA_ADMIN_PASSWORD") or DEV_ADMIN_PASSWORD
        self.page.goto(LOGIN_PATH, wait_until="load")
        self.page.fill("#email", email)
        self.page.fill("#password", password)
        with self.page.expect_navigation():
            self.page.press("#password", "Enter")
        if self._at(LOGIN_PATH):
            raise ScreenshotError(f"signing in as {email} failed: set AGORA_ADMIN_EMAIL/PASSWORD")
        self.signed_in = True
        progress(f"signed in as {email}")

    def fill_basket(self) -> None:
        """Put the first product in the basket once, when its page has the form."""
        if "basket" in self.done:
            return
        self.done.add("basket")
        self.page.goto(f"/products/{self.first_product()}", wait_until="load")
        button = self.page.locator(ADD_TO_BASKET).first
        if button.count():  # a form post, or an HTMX one: either way, wait till it is done
            button.click()
            self.page.wait_for_load_state("networkidle")

    def _refusal(self, status: int | None, shot: Shot) -> str | None:
        """Why the page just loaded cannot be shot, or None."""
        if status == HTTP_NOT_FOUND:
            return "not built yet"
        if status != HTTP_OK:
            return f"answered {status}"
        if shot.signed_in and self._at(LOGIN_PATH):
            return "sent to sign in"
        return None

    def _at(self, path: str) -> bool:
        from urllib.parse import urlsplit

        return urlsplit(self.page.url).path == path
