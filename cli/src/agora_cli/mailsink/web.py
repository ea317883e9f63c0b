"""The web view of the sink: ``/mail`` (HTML) and ``/mail/api/messages`` (JSON).

Mail HTML is untrusted: the page never embeds it as markup. Each HTML part goes, escaped, into the
``srcdoc`` attribute of an ``<iframe sandbox>`` (no scripts, no forms, an opaque origin), and a
Content-Security-Policy forbids loading anything remote, so opening the page fetches nothing a
mail names.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from agora_cli.mailsink.store import MailRecord, MailStore

PAGE_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-src 'self'"
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; }
article { border: 1px solid #ccc; border-radius: 6px; padding: 1rem; margin-bottom: 1.5rem; }
dl { display: grid; grid-template-columns: 6rem 1fr; margin: 0 0 1rem; }
dt { font-weight: bold; }
pre { white-space: pre-wrap; background: #f6f6f6; padding: .75rem; }
iframe { width: 100%; height: 24rem; border: 1px solid #ddd; }
"""


def _message_html(record: MailRecord) -> str:
    """One message as an ``<article>``: headers, the text part, the sandboxed HTML part."""
    fields = (
        ("From", record.sender),
        ("To", record.to),
        ("Subject", record.subject),
        ("Date", record.date),
    )
    header = "".join(f"<dt>{name}</dt><dd>{escape(value)}</dd>" for name, value in fields)
    parts = [f'<article id="m-{escape(record.id)}"><dl>{header}</dl>']
    if record.text is not None:
        parts.append(f"<h3>Text</h3><pre>{escape(record.text)}</pre>")
    if record.html is not None:
        parts.append(
            '<h3>HTML</h3><iframe sandbox="" referrerpolicy="no-referrer" '
            f'title="HTML part" srcdoc="{escape(record.html, quote=True)}"></iframe>'
        )
    parts.append("</article>")
    return "".join(parts)


def render_page(records: Sequence[MailRecord]) -> str:
    """The ``/mail`` page listing ``records`` in the order given (newest first by the store)."""
    body = "".join(_message_html(r) for r in records) or "<p>No mail received yet.</p>"
    count = f"{len(records)} message{'s' if len(records) != 1 else ''}"
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Agora mail ({count})</title><style>{STYLE}</style></head>"
        f"<body><h1>Agora mail</h1><p>{count}, newest first. "
        'JSON: <a href="/mail/api/messages">/mail/api/messages</a></p>'
        f"{body}</body></html>"
    )


def create_app(store: MailStore) -> Starlette:
    """The ASGI app serving the page and the JSON API under ``/mail``."""

    async def page(_request: Request) -> Response:
        headers = {"Content-Security-Policy": PAGE_POLICY, "X-Content-Type-Options": "nosniff"}
        return HTMLResponse(render_page(store.list()), headers=headers)

    async def list_messages(_request: Request) -> Response:
        return JSONResponse([record.as_json() for record in store.list()])

    async def clear_messages(_request: Request) -> Response:
        return JSONResponse({"deleted": store.clear()})

    async def one_message(request: Request) -> Response:
        record = store.get(str(request.path_params["key"]))
        if record is None:
            return JSONResponse({"detail": "no such message"}, status_code=404)
        return JSONResponse(record.as_json())

    return Starlette(
        routes=[
            Route("/mail", page, methods=["GET"]),
            Route("/mail/api/messages", list_messages, methods=["GET"]),
            Route("/mail/api/messages", clear_messages, methods=["DELETE"]),
            Route("/mail/api/messages/{key}", one_message, methods=["GET"]),
        ]
    )
