"""``agora screenshots``: the pages and viewports, the file names, the options, what is missing.

No test here boots a stack or a browser: the command itself is run by hand (README.md,
"Screenshots"); these check what it would shoot, where it would write, and that it stops with the
install command when Chromium or Playwright is missing, before booting anything.
"""

from __future__ import annotations

import builtins
from pathlib import Path
from typing import Any

import pytest

from agora_cli import screenshots
from agora_cli.main import build_parser, main
from agora_cli.screenshots import SHOTS, VIEWPORTS, Shot, Viewport


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
