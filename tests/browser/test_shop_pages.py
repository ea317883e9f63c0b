"""Browser tests of the catalogue and account pages: browsing, search as you type, accounts,
phone and desktop layouts, and axe-core on every page."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect

from tests.browser.support import (
    DESKTOP,
    PHONE,
    assert_accessible,
    axe_problems,
    first_product_path,
    horizontal_overflow,
    new_email,
    register,
    sign_in,
)
from tests.system.stack import AgoraRun

pytestmark = [pytest.mark.system, pytest.mark.browser]

TYPO = "hedphones"


def test_guest_browses_a_category_and_finds_headphones_despite_a_typo(page: Page) -> None:
    page.goto("/")
    page.get_by_role("navigation", name="Categories").get_by_role("link", name="Audio").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Audio")
    expect(page.locator(".grid .card").first).to_be_visible()

    page.locator("#q").press_sequentially(TYPO, delay=40)
    suggestions = page.locator("#suggestions .suggestion-list a")
    expect(suggestions.first).to_contain_text("Headphones")
    expect(suggestions.last).to_have_text(f"All results for “{TYPO}”")
    page.locator("#q").press("Enter")

    expect(page.get_by_role("heading", level=1)).to_have_text(f"Results for “{TYPO}”")
    first = page.locator(".grid .card .name").first
    expect(first).to_contain_text("Headphones")
    name = first.inner_text()
    first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    expect(page.locator("#quantity")).to_have_value("1")
    expect(page.get_by_role("button", name="Add to basket")).to_be_visible()


def test_escape_closes_the_suggestions_and_returns_to_the_search_box(page: Page) -> None:
    page.goto("/")
    page.locator("#q").press_sequentially(TYPO, delay=40)
    first = page.locator("#suggestions .suggestion-list a").first
    expect(first).to_be_visible()
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")  # past the Search button, into the suggestions

    page.keyboard.press("Escape")

    expect(page.locator("#suggestions")).to_be_empty()
    expect(page.locator("#q")).to_be_focused()


def test_visitor_registers_signs_out_and_signs_in_again(page: Page) -> None:
    email = new_email("account")
    register(page, "", email)
    expect(page.get_by_role("link", name="My orders")).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("link", name="Sign in")).to_be_visible()
    sign_in(page, "", email, "Browser-Passw0rd!")

    expect(page.get_by_role("link", name="My orders")).to_be_visible()


def test_login_with_a_wrong_password_says_so(page: Page) -> None:
    sign_in(page, "", new_email("nobody"), "Wrong-Passw0rd!")

    expect(page.get_by_role("alert")).to_be_visible()
    expect(page.get_by_role("link", name="My orders")).to_have_count(0)


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("home", "/"),
        ("category", "/c/audio"),
        ("search results", f"/search?q={TYPO}"),
        ("empty search", "/search?q=zzzqqqxxx"),
        ("login", "/login?next=/checkout"),
        ("register", "/register"),
    ],
)
def test_page_has_no_serious_accessibility_violation(page: Page, name: str, path: str) -> None:
    page.goto(path)

    assert_accessible(page, name)


def test_product_page_has_no_serious_accessibility_violation(page: Page) -> None:
    page.goto(first_product_path(page, ""))

    assert_accessible(page, "product")


def test_register_errors_are_accessible(page: Page) -> None:
    page.goto("/register")
    page.fill("#full_name", "A")
    page.fill("#email", "not-an-address@example")
    page.fill("#password", "short")
    page.get_by_role("button", name="Create account").click()
    page.wait_for_load_state()

    assert_accessible(page, "register with errors")


def test_open_suggestions_are_accessible(page: Page) -> None:
    page.goto("/")
    page.locator("#q").press_sequentially(TYPO, delay=40)
    expect(page.locator("#suggestions .suggestion-list a").first).to_be_visible()

    assert_accessible(page, "home with suggestions")


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
@pytest.mark.parametrize("which", ["home", "product"])
def test_layout_fits_the_screen_and_stays_accessible(
    browser: Browser, shop: AgoraRun, viewport: ViewportSize, which: str
) -> None:
    context = browser.new_context(viewport=viewport, base_url=shop.gateway_url)
    try:
        page = context.new_page()
        page.goto("/" if which == "home" else first_product_path(page, ""))

        overflow = horizontal_overflow(page)
        assert overflow <= 0, f"{which} scrolls sideways by {overflow}px at {viewport}"
        expect(page.locator("#q")).to_be_in_viewport()
        assert_accessible(page, f"{which} at {viewport['width']}px")
    finally:
        context.close()


def test_the_accessibility_check_catches_a_serious_violation(page: Page) -> None:
    page.set_content('<html lang="en"><title>t</title><main><img src="x.png"></main></html>')

    problems = axe_problems(page)

    assert any(problem.startswith("image-alt (critical)") for problem in problems), problems
