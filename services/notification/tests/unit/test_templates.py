"""The welcome templates render the user's name, escaping it in HTML only."""

from __future__ import annotations

from agora_notification.services.templates import TemplateRenderer

CONTEXT = {"full_name": "Ada Lovelace", "email": "ada@example.com"}


def test_render_welcome_contains_name_and_email() -> None:
    mail = TemplateRenderer().render("welcome", CONTEXT)

    assert "Hello Ada Lovelace," in mail.text
    assert "ada@example.com" in mail.text
    assert "Hello Ada Lovelace," in mail.html
    assert "<strong>ada@example.com</strong>" in mail.html


def test_render_welcome_html_name_is_escaped() -> None:
    context = CONTEXT | {"full_name": "<script>alert(1)</script> & Co"}

    mail = TemplateRenderer().render("welcome", context)

    assert "<script>" not in mail.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in mail.html
    assert "<script>alert(1)</script> & Co" in mail.text
