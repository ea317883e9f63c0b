"""Browser journeys through the basket, checkout, order and operator pages.

They follow the storefront's DOM contract (basket count, checkout fields, ``#order-status``...).
A page that answers 404 is not built yet on this branch: the test skips, naming it.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.keyboard import choose_by_typing, tab_to_button, tab_to_field
from tests.browser.support import (
    assert_accessible,
    fill_registration,
    first_product_path,
    horizontal_overflow,
    mail_to,
    new_email,
    open_or_skip,
    poll,
    register,
    sign_in,
)
from tests.system.checkout import ADDRESS
from tests.system.delivery import WELCOME_SUBJECT
from tests.system.stack import AgoraRun

pytestmark = [pytest.mark.system, pytest.mark.browser]

STACK_ENV = {
    "AGORA_CONSUMER_RETRY_BASE_SECONDS": "1",  # dead letters within seconds
    # The admin signs in through the browser and the API more than 5 times a minute from here.
    "AGORA_LOGIN_LIMIT_PER_ACCOUNT_ADDRESS": "1000/minute",
    "AGORA_LOGIN_LIMIT_PER_IP": "1000/minute",
}
GOOD_CARD = "4242 4242 4242 4242"
DECLINED_CARD = "4000 0000 0000 0002"
CARD = {"card_expiry": "12/30", "card_cvc": "123"}
ADMIN_EMAIL, ADMIN_PASSWORD = "admin@agora.local", "Admin123!"
CONFIRMED_SUBJECT = "Your Agora order is confirmed"
SETTLE_MS = 90_000
ORDER_URL = re.compile(r"/account/orders/[0-9a-f-]{36}(\?placed=1)?$")
TEXT_FIELDS = ("name", "street", "postal_code", "city")
NO_RELOAD_MARK = "() => { window.agoraNoReload = true; }"


def require_shop_pages(page: Page) -> None:
    """Skip while the basket or checkout pages are not built (404) on this branch."""
    open_or_skip(page, "/basket", "basket page not built yet")
    open_or_skip(page, "/checkout", "checkout page not built yet")


def add_to_basket(page: Page, product_path: str) -> None:
    """Add one unit from the product page; the header count updates without a reload."""
    page.goto(product_path)
    before = int(page.locator("#basket-count").inner_text())
    page.evaluate(NO_RELOAD_MARK)
    page.get_by_role("button", name="Add to basket").click()
    expect(page.locator("#add-result")).to_contain_text("Added")
    expect(page.locator("#basket-count")).to_have_text(str(before + 1))
    assert page.evaluate("() => window.agoraNoReload === true"), "adding reloaded the page"


def fill_checkout(page: Page, card: str) -> None:
    """Fill the address and card fields and place the order."""
    for field in TEXT_FIELDS:
        page.fill(f"#{field}", ADDRESS[field])
    page.select_option("#country", ADDRESS["country"])
    page.fill("#card_number", card)
    for field, value in CARD.items():
        page.fill(f"#{field}", value)
    page.get_by_role("button", name="Place order").click()
    expect(page).to_have_url(ORDER_URL)


def settled(page: Page, status: str) -> None:
    """The order page reaches ``status`` on its own (it updates live)."""
    expect(page.locator("#order-status")).to_have_attribute(
        "data-status", status, timeout=SETTLE_MS
    )


def test_guest_finds_adds_registers_pays_and_gets_the_confirmation(
    page: Page, shop: AgoraRun
) -> None:
    require_shop_pages(page)
    email = new_email("buyer")
    page.goto("/")
    page.get_by_role("navigation", name="Categories").get_by_role("link", name="Audio").click()
    expect(page.locator(".grid .card").first).to_be_visible()
    page.locator("#q").press_sequentially("hedphones", delay=40)
    expect(page.locator("#suggestions .suggestion-list a").first).to_contain_text("Headphones")
    page.locator("#q").press("Enter")
    page.locator(".grid .card a").first.click()
    add_to_basket(page, page.url.removeprefix(shop.gateway_url))

    page.get_by_role("link", name=re.compile(r"^Basket")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Basket")
    expect(page.locator("tr[data-product-id]")).to_have_count(1)
    assert_accessible(page, "basket")
    page.get_by_role("main").get_by_role("link", name="Checkout").or_(
        page.get_by_role("main").get_by_role("button", name="Checkout")
    ).first.click()
    expect(page).to_have_url(re.compile(r"/login\?next=(/|%2F)checkout$"))
    assert_accessible(page, "login")
    page.get_by_role("link", name="Create an account").click()
    assert_accessible(page, "register")
    fill_registration(page, email)
    expect(page).to_have_url(re.compile(r"/checkout$"))
    assert_accessible(page, "checkout")
    fill_checkout(page, GOOD_CARD)
    settled(page, "paid")

    assert_accessible(page, "order")
    assert mail_to(shop, email, CONFIRMED_SUBJECT)["to"].lower() == email


def test_declined_card_ends_cancelled_with_the_reason_shown(page: Page) -> None:
    require_shop_pages(page)
    register(page, "", new_email("declined"))
    add_to_basket(page, first_product_path(page, ""))
    page.goto("/checkout")
    fill_checkout(page, DECLINED_CARD)

    settled(page, "cancelled")
    expect(page.locator("#order-reason")).to_contain_text(re.compile(r"declined", re.I))
    assert_accessible(page, "cancelled order")


def test_checkout_by_keyboard_alone_with_visible_focus(page: Page) -> None:
    require_shop_pages(page)
    register(page, "", new_email("keyboard"))
    add_to_basket(page, first_product_path(page, ""))
    page.goto("/checkout")

    for field in TEXT_FIELDS:
        tab_to_field(page, field)
        page.keyboard.type(ADDRESS[field])
    tab_to_field(page, "country")
    choose_by_typing(page, "country", ADDRESS["country"])
    for field, value in {"card_number": GOOD_CARD, **CARD}.items():
        tab_to_field(page, field)
        page.keyboard.type(value)
    tab_to_button(page, "Place order")
    page.keyboard.press("Enter")

    expect(page).to_have_url(ORDER_URL)
    settled(page, "paid")


def test_checkout_fits_a_phone(browser_phone_page: Page) -> None:
    page = browser_phone_page
    require_shop_pages(page)
    register(page, "", new_email("phone"))
    add_to_basket(page, first_product_path(page, ""))

    for path in ("/basket", "/checkout"):
        page.goto(path)
        overflow = horizontal_overflow(page)
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px at phone width"


def _pending_letters(shop: AgoraRun) -> list[dict[str, Any]]:
    with httpx.Client(base_url=shop.gateway_url, timeout=30) as api:
        login = api.post(
            "/api/v1/auth/token", data={"username": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        )
        assert login.status_code == 200, login.text
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        listed = httpx.get(
            f"{shop.operator_url}/notification/api/v1/admin/dead-letters",
            params={"state": "pending"},
            headers=headers,
            timeout=30,
        )
    assert listed.status_code == 200, listed.text
    return list(listed.json()["data"])


def _dead_letter_a_welcome_mail(shop: AgoraRun, email: str) -> dict[str, Any]:
    """Register ``email`` while the mail relay is down, so its welcome mail is dead-lettered.

    The list shows no payload, so the new letter is the pending ``user.registered`` one that was
    not there before."""
    known = {x["id"] for x in _pending_letters(shop)}
    assert shop("stop", "mail").returncode == 0
    try:
        body = {"email": email, "password": "Correct-Horse-9", "full_name": "Grace Hopper"}
        made = httpx.post(f"{shop.gateway_url}/api/v1/auth/register", json=body, timeout=30)
        assert made.status_code == 201, made.text
        return poll(
            lambda: next(
                (
                    x
                    for x in _pending_letters(shop)
                    if x["id"] not in known and x["event_type"] == "user.registered"
                ),
                None,
            ),
            f"a dead letter for {email}",
        )
    finally:
        assert shop("start", "mail").returncode == 0


def test_admin_replays_a_dead_letter(page: Page, shop: AgoraRun) -> None:
    sign_in(page, "", ADMIN_EMAIL, ADMIN_PASSWORD)
    open_or_skip(page, "/admin", "operator pages not built yet")
    assert_accessible(page, "admin")
    open_or_skip(page, "/admin/dead-letters", "dead-letters page not built yet")
    email = new_email("replay")
    letter = _dead_letter_a_welcome_mail(shop, email)

    page.reload()
    row = page.locator("tr").filter(has=page.locator(f'a[href*="{letter["id"]}"]'))
    expect(row.first).to_be_visible()
    assert_accessible(page, "dead letters")
    row.first.get_by_role("button", name="Replay").click()

    assert mail_to(shop, email, WELCOME_SUBJECT)["to"].lower() == email
    assert not any(x["id"] == letter["id"] for x in _pending_letters(shop)), "still pending"
