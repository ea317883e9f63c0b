"""Renders e-mails from the Jinja2 templates shipped in ``agora_notification/templates``.

Every e-mail has a plain-text part (``<name>.txt.j2``, no escaping) and an HTML part
(``<name>.html.j2``, autoescaped, so a user-chosen name cannot inject markup).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

TEMPLATE_PACKAGE = "agora_notification"


@dataclass(frozen=True)
class RenderedMail:
    """The two bodies of one e-mail.

    Attributes:
        text: The plain-text body.
        html: The HTML body.
    """

    text: str
    html: str


class TemplateRenderer:
    """Renders a named template into its text and HTML bodies."""

    def __init__(self) -> None:
        """Load the templates from the package (undefined variables are errors)."""
        self._env = Environment(
            loader=PackageLoader(TEMPLATE_PACKAGE, "templates"),
            autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
            undefined=StrictUndefined,
            keep_trailing_newline=True,
        )

    def render(self, name: str, context: dict[str, Any]) -> RenderedMail:
        """Render ``name``'s text and HTML templates.

        Args:
            name: Template name without extension, e.g. ``welcome``.
            context: Variables the templates use.

        Returns:
            Both bodies.
        """
        text = self._env.get_template(f"{name}.txt.j2").render(context)
        html = self._env.get_template(f"{name}.html.j2").render(context)
        return RenderedMail(text=text, html=html)
