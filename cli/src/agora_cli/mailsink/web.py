"""The web view of the sink: ``/mail`` (HTML) and ``/mail/api/messages`` (JSON), paged newest first.

Mail HTML is untrusted: the page never embeds it as markup. Each HTML part goes, escaped, into the
``srcdoc`` attribute of an ``<iframe sandbox>`` (no scripts, no forms, an opaque origin), and a
Content-Security-Policy forbids loading anything remote, so opening the page fetches nothing a
mail names.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from agora_cli.mailsink.store import MailRecord, MailStore

HEALTH_PATH = "/health"
# The API envelope of every Agora list: {data, total, page, per_page, total_pages}, 20 by default.
DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100
# Keeps the OFFSET (rows the index walks past) bounded however deep a client asks.
MAX_PAGE = 10_000
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


def render_page(
    records: Sequence[MailRecord],
    total: int | None = None,
    page: int = 1,
    per_page: int = DEFAULT_PER_PAGE,
) -> str:
    """The ``/mail`` page listing ``records`` (one page, newest first) out of ``total`` messages."""
    total = len(records) if total is None else total
    body = "".join(_message_html(r) for r in records) or "<p>No mail received yet.</p>"
    count = f"{total} message{'s' if total != 1 else ''}"
    older = (
        f' <a href="/mail?page={page + 1}&amp;per_page={per_page}">older</a>'
        if page * per_page < total
        else ""
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Agora mail ({count})</title><style>{STYLE}</style></head>"
        f"<body><h1>Agora mail</h1><p>{count}, newest first, page {page}.{older} "
        'JSON: <a href="/mail/api/messages">/mail/api/messages</a></p>'
        f"{body}</body></html>"
    )


class PagingError(ValueError):
    """``page`` or ``per_page`` is not a whole number in its range."""


def paging(request: Request) -> tuple[int, int]:
    """``page`` (from 1) and ``per_page`` (1 to ``MAX_PER_PAGE``) from the query string.

    Raises:
        PagingError: Naming the parameter that is out of range.
    """
    values = []
    for name, default, ceiling in (
        ("page", 1, MAX_PAGE),
        ("per_page", DEFAULT_PER_PAGE, MAX_PER_PAGE),
    ):
        raw = request.query_params.get(name, str(default))
        if not raw.isdigit() or not 1 <= int(raw) <= ceiling:
            raise PagingError(f"{name} must be a whole number from 1 to {ceiling}")
        values.append(int(raw))
    return values[0], values[1]


def _problem(status: int, title: str, detail: str, request: Request) -> Response:
    body = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


def _envelope(store: MailStore, number: int, per_page: int) -> dict[str, object]:
    """One page of messages, newest first, in the API's paging envelope."""
    found = store.page(number, per_page)
    return {
        "data": [record.as_json() for record in found.records],
        "total": found.total,
        "page": number,
        "per_page": per_page,
        "total_pages": math.ceil(found.total / per_page),
    }


def create_app(store: MailStore, *, web: bool = True) -> Starlette:
    """The ASGI app serving ``/health`` and, when ``web``, the page and JSON API under ``/mail``."""

    async def health(_request: Request) -> Response:
        # Constant work: it says the process serves HTTP, never reads the mailbox.
        return JSONResponse({"status": "ok"})

    async def page(request: Request) -> Response:
        headers = {"Content-Security-Policy": PAGE_POLICY, "X-Content-Type-Options": "nosniff"}
        try:
            number, per_page = paging(request)
        except PagingError as error:
            return _problem(422, "Invalid paging", str(error), request)
        found = store.page(number, per_page)
        return HTMLResponse(
            render_page(found.records, found.total, number, per_page), headers=headers
        )

    async def list_messages(request: Request) -> Response:
        try:
            number, per_page = paging(request)
        except PagingError as error:
            return _problem(422, "Invalid paging", str(error), request)
        return JSONResponse(_envelope(store, number, per_page))

    async def clear_messages(_request: Request) -> Response:
        return JSONResponse({"deleted": store.clear()})

    async def one_message(request: Request) -> Response:
        record = store.get(str(request.path_params["key"]))
        if record is None:
            return _problem(404, "Not Found", "no such message", request)
        return JSONResponse(record.as_json())

    health_route = Route(HEALTH_PATH, health, methods=["GET"])
    if not web:
        return Starlette(routes=[health_route])
    return Starlette(
        routes=[
            health_route,
            Route("/mail", page, methods=["GET"]),
            Route("/mail/api/messages", list_messages, methods=["GET"]),
            Route("/mail/api/messages", clear_messages, methods=["DELETE"]),
            Route("/mail/api/messages/{key}", one_message, methods=["GET"]),
        ]
    )
