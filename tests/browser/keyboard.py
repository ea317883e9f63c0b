"""Keyboard-only driving: Tab to a field, checking at every stop that the focus can be seen."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from playwright.sync_api import Page

MAX_TABS = 80
FOCUSED = """() => {
  const el = document.activeElement;
  const s = getComputedStyle(el);
  const outline = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0;
  const drawn = outline || s.boxShadow !== 'none';
  return {
    id: el.id, tag: el.tagName.toLowerCase(), text: (el.textContent || '').trim().slice(0, 40),
    visible: el !== document.body && el.matches(':focus-visible') && drawn,
  };
}"""

Focus = dict[str, Any]


def focused(page: Page) -> Focus:
    """What has the focus: id, tag, text, and whether a focus indicator is drawn."""
    found: Focus = page.evaluate(FOCUSED)
    return found


def tab_until(page: Page, wanted: Callable[[Focus], bool], what: str) -> None:
    """Press Tab until ``wanted`` holds for the focused element; each stop must show its focus."""
    stops: list[str] = []
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        now = focused(page)
        stops.append(f"{now['tag']}#{now['id']}")
        assert now["visible"], f"no visible focus on {now} while tabbing to {what}"
        if wanted(now):
            return
    raise AssertionError(f"{what} not reached in {MAX_TABS} Tabs; stops: {', '.join(stops)}")


def tab_to_field(page: Page, field_id: str) -> None:
    """Tab to the input or select ``#field_id``."""
    tab_until(page, lambda now: now["id"] == field_id, f"#{field_id}")


def tab_to_button(page: Page, text: str) -> None:
    """Tab to the button reading ``text``."""
    tab_until(page, lambda now: now["tag"] == "button" and now["text"] == text, f"button {text!r}")


def choose_by_typing(page: Page, select_id: str, value: str) -> None:
    """Pick ``value`` in the focused ``<select>`` by typing its label (type-ahead), no clicks."""
    label: str = page.evaluate(
        "([id, value]) => document.querySelector(`#${id} option[value='${value}']`).textContent",
        [select_id, value],
    )
    page.keyboard.type(label.strip())
    chosen = page.eval_on_selector(f"#{select_id}", "el => el.value")
    assert chosen == value, f"typing {label.strip()!r} in #{select_id} chose {chosen!r}"
