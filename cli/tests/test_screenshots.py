"""``agora screenshots``: the pages and viewports, the file names, the options, what is missing.

No test here boots a stack or a browser: the command itself is run by hand (README.md,
"Screenshots"); these check what it would shoot, where it would write, and that it stops with the
install command when Chromium or Playwright is missing, before booting anything.
"""

from __future__ import annotations

import builtins
import contextlib
from pathlib import Path
from typing import Any

import pytest

from agora_cli import screenshots
from agora_cli.main import build_parser, main
from agora_cli.screenshots import SHOTS, VIEWPORTS, Shot, Viewport, browser


def test_the_main_pages_are_shot_at_a_phones_and_a_desktops_width() -> None:
    assert [(v.name, v.width, v.height) for v in VIEWPORTS] == [
        ("phone", 390, 844),
        ("desktop", 1280, 800),
    ]
    assert [shot.name for shot in SHOTS] == [
        "home",
        "search",
        "product",
        "basket",
        "checkout",
        "order",
        "admin",
        "admin-orders",
        "admin-dead-letters",
    ]
    always = [shot for shot in SHOTS if not shot.optional]
    assert [(s.path, s.signed_in) for s in always] == [
        ("/", False),
        ("/search?q=hedphones", False),
        ("/products/{product}", False),
    ], "the catalogue pages every stack has, as a guest; the search with a typo"
    assert all(shot.signed_in for shot in SHOTS if shot.optional)


def test_each_shot_is_a_png_named_after_the_page_and_the_viewport() -> None:
    names = [shot.file_name(viewport) for shot in SHOTS for viewport in VIEWPORTS]
    assert names[:4] == [
        "home-phone.png",
        "home-desktop.png",
        "search-phone.png",
        "search-desktop.png",
    ]
    assert "admin-dead-letters-desktop.png" in names
    assert len(set(names)) == len(SHOTS) * len(VIEWPORTS), "no file written twice"
    assert Shot("x", "/x").file_name(Viewport("tv", 1, 1)) == "x-tv.png"


def test_the_options_choose_pages_directory_browser_and_stack(tmp_path: Path) -> None:
    args = build_parser().parse_args(["screenshots"])
    assert (args.pages, args.out, args.chromium, args.gateway_url) == (
        None,
        None,
        "/usr/bin/chromium",
        None,
    )
    assert screenshots.chosen(args.pages) == list(SHOTS)
    argv = ["screenshots", "--page", "product", "--page", "home", "--out", str(tmp_path)]
    args = build_parser().parse_args([*argv, "--gateway-url", "http://g", "--products", "24"])
    assert [shot.name for shot in screenshots.chosen(args.pages)] == ["home", "product"]
    assert (args.out, args.gateway_url, args.products) == (tmp_path, "http://g", 24)
    assert screenshots.default_out().parts[-2:] == ("docs", "screenshots")


def test_an_unknown_page_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["screenshots", "--page", "cart"])
    assert "invalid choice: 'cart'" in capsys.readouterr().err


def test_without_chromium_the_command_says_how_to_install_it_and_boots_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def no_stack(*args: object) -> None:
        raise AssertionError("booted a stack")

    monkeypatch.setattr(screenshots, "_on_private_stack", no_stack)
    missing = str(tmp_path / "chromium")
    assert main(["screenshots", "--chromium", missing, "--out", str(tmp_path)]) == 1
    assert capsys.readouterr().err == (
        f"agora: no Chromium at {missing}: install it with `apt-get install -y chromium`\n"
    )


def test_without_playwright_the_command_says_it_is_a_dev_dependency(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_import = builtins.__import__

    def without_playwright(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("playwright"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    browser = tmp_path / "chromium"
    browser.touch()
    monkeypatch.setattr(builtins, "__import__", without_playwright)
    with pytest.raises(screenshots.ScreenshotError, match=r"Playwright .* development dependency"):
        screenshots.check_browser(str(browser))


def test_a_running_stack_is_shot_without_booting_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: list[tuple[str, list[str], Path]] = []

    def shoot(url: str, shots: list[Shot], out: Path, chromium: str) -> list[Path]:
        seen.append((url, [shot.name for shot in shots], out))
        return [out / "home-phone.png"]

    def no_stack(*args: object) -> None:
        raise AssertionError("booted a stack")

    browser = tmp_path / "chromium"
    browser.touch()
    out = tmp_path / "shots"
    monkeypatch.setattr(screenshots, "_on_private_stack", no_stack)
    monkeypatch.setattr("agora_cli.screenshots.browser.shoot", shoot)
    argv = ["screenshots", "--gateway-url", "http://g", "--page", "home", "--out", str(out)]
    assert main([*argv, "--chromium", str(browser)]) == 0
    assert seen == [("http://g", ["home"], out)]
    assert out.is_dir(), "the directory is made"
    assert capsys.readouterr().err.endswith(f"1 screenshots in {out}\n")


class FakeLink:
    def __init__(self, href: str | None) -> None:
        self.href = href
        self.first = self
        self.clicks = 0

    def count(self) -> int:
        return int(self.href is not None)

    def get_attribute(self, name: str) -> str | None:
        assert name == "href"
        return self.href

    def click(self) -> None:
        self.clicks += 1


class FakeResponse:
    def __init__(self, status: int) -> None:
        self.status = status


class FakePage:
    """A stand-in for Playwright's page: the storefront's answers by path, the visits made."""

    def __init__(self, statuses: dict[str, int], orders: bool = False) -> None:
        self.statuses = statuses
        self.url = "http://g/"
        self.visited: list[str] = []
        self.filled: dict[str, str] = {}
        self.add = FakeLink("#")
        self.links = {
            'a[href^="/products/"]': FakeLink("/products/p-1"),
            'a[href^="/account/orders/"]': FakeLink("/account/orders/o-9" if orders else None),
            'form.add button[type="submit"]': self.add,
        }
        self.refuse_login = False

    def goto(self, path: str, wait_until: str = "load") -> FakeResponse:
        assert wait_until in {"load", "networkidle"}
        self.visited.append(path)
        self.url = f"http://g{path.partition('?')[0]}"
        return FakeResponse(self.statuses.get(path.partition("?")[0], 200))

    def locator(self, selector: str) -> FakeLink:
        return self.links[selector]

    def fill(self, selector: str, value: str) -> None:
        self.filled[selector] = value

    def press(self, selector: str, key: str) -> None:
        assert (selector, key) == ("#password", "Enter")
        self.url = "http://g/login" if self.refuse_login else "http://g/"

    def expect_navigation(self) -> Any:
        return contextlib.nullcontext()

    def wait_for_load_state(self, state: str) -> None:
        assert state == "networkidle"

    def screenshot(self, path: str, full_page: bool) -> None:
        assert not full_page, "a viewport, not the whole catalogue"
        Path(path).write_bytes(b"\x89PNG")


PHONE = VIEWPORTS[0]


def test_a_visit_shoots_the_catalogue_pages_as_a_guest(tmp_path: Path) -> None:
    page = FakePage({})
    visit = browser.Visit(page)  # type: ignore[arg-type]
    written = [visit.take(shot, PHONE, tmp_path) for shot in SHOTS[:3]]
    assert written == [tmp_path / f"{name}-phone.png" for name in ("home", "search", "product")]
    assert page.visited == ["/", "/search?q=hedphones", "/", "/products/p-1"]
    assert not visit.signed_in
    assert (tmp_path / "product-phone.png").read_bytes() == b"\x89PNG"


def test_pages_not_built_yet_are_skipped_with_a_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = FakePage({"/basket": 404, "/checkout": 404, "/admin": 503})
    visit = browser.Visit(page)  # type: ignore[arg-type]
    written = {shot.name: visit.take(shot, PHONE, tmp_path) for shot in SHOTS[3:]}
    assert written["basket"] is None
    assert written["checkout"] is None
    assert written["order"] is None, "no order placed"
    assert written["admin"] is None
    assert written["admin-orders"] == tmp_path / "admin-orders-phone.png"
    err = capsys.readouterr().err
    assert "phone basket: skipped, GET /basket not built yet" in err
    assert "phone order: skipped, no order to show (place one first)" in err
    assert "phone admin: skipped, GET /admin answered 503" in err
    assert page.filled == {"#email": "admin@agora.local", "#password": "Admin123!"}
    assert page.visited.count("/login") == 1, "signed in once"
    assert page.add.clicks == 1, "the product put in the basket once"


def test_an_order_is_shot_when_the_account_lists_one(tmp_path: Path) -> None:
    page = FakePage({}, orders=True)
    visit = browser.Visit(page)  # type: ignore[arg-type]
    order = next(shot for shot in SHOTS if shot.name == "order")
    assert visit.take(order, PHONE, tmp_path) == tmp_path / "order-phone.png"
    assert page.visited[-2:] == ["/account/orders", "/account/orders/o-9"]


def test_a_catalogue_page_that_fails_or_a_refused_login_stops_the_command(tmp_path: Path) -> None:
    visit = browser.Visit(FakePage({"/search": 404}))  # type: ignore[arg-type]
    with pytest.raises(screenshots.ScreenshotError, match=r"GET /search\?q=hedphones not built"):
        visit.take(SHOTS[1], PHONE, tmp_path)
    page = FakePage({})
    page.refuse_login = True
    with pytest.raises(screenshots.ScreenshotError, match=r"signing in as admin@agora\.local"):
        browser.Visit(page).take(SHOTS[6], PHONE, tmp_path)  # type: ignore[arg-type]
    page = FakePage({})
    page.links['a[href^="/products/"]'] = FakeLink(None)
    with pytest.raises(screenshots.ScreenshotError, match="links no product"):
        browser.Visit(page).take(SHOTS[2], PHONE, tmp_path)  # type: ignore[arg-type]
