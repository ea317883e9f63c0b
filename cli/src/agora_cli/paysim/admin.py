"""The simulator's admin view: the ledger as HTML (``/admin``) and JSON, and the faults, for tests.

Served only in the development profile; nothing here touches a card number, because the ledger
holds none.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from agora_cli.paysim.faults import FaultSettingsError, updated
from agora_cli.paysim.state import Simulator

PAGE_POLICY = "default-src 'none'; style-src 'unsafe-inline'"
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; }
table { border-collapse: collapse; margin-bottom: 2rem; }
th, td { border: 1px solid #ccc; padding: .3rem .6rem; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
"""
CHARGE_FIELDS = (
    "id",
    "amount",
    "amount_refunded",
    "currency",
    "status",
    "decline_code",
    "idempotency_key",
    "metadata",
    "created",
)
REFUND_FIELDS = ("id", "charge", "amount", "currency", "idempotency_key", "created")
NUMERIC = {"amount", "amount_refunded", "created"}


def _cell(name: str, value: object) -> str:
    text = json.dumps(value) if isinstance(value, dict) else ("" if value is None else str(value))
    css = ' class="num"' if name in NUMERIC else ""
    return f"<td{css}>{escape(text)}</td>"


def _table(title: str, rows: list[dict[str, Any]], fields: tuple[str, ...]) -> str:
    head = "".join(f"<th>{escape(name)}</th>" for name in fields)
    body = "".join(
        "<tr>" + "".join(_cell(name, row.get(name)) for name in fields) + "</tr>" for row in rows
    )
    empty = "" if rows else f"<p>No {escape(title.lower())} yet.</p>"
    return f"<h2>{escape(title)} ({len(rows)})</h2>{empty}<table><tr>{head}</tr>{body}</table>"


def render_ledger(
    charges: list[dict[str, Any]], refunds: list[dict[str, Any]], faults: dict[str, Any]
) -> str:
    """The ``/admin`` page: current faults, then charges and refunds, newest first."""
    settings = ", ".join(f"{escape(name)} {escape(str(value))}" for name, value in faults.items())
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Agora payment simulator</title><style>{STYLE}</style></head>"
        f"<body><h1>Agora payment simulator</h1><p>Faults: {settings}. "
        'JSON: <a href="/admin/ledger">/admin/ledger</a>, '
        '<a href="/admin/faults">/admin/faults</a></p>'
        f"{_table('Charges', charges, CHARGE_FIELDS)}"
        f"{_table('Refunds', refunds, REFUND_FIELDS)}</body></html>"
    )


def _problem(status: int, title: str, detail: str, request: Request) -> Response:
    body = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


def _settings(raw: bytes) -> dict[str, object]:
    """The JSON object of a ``PUT /admin/faults`` body.

    Raises:
        FaultSettingsError: It is not a JSON object.
    """
    try:
        changes = json.loads(raw)
    except ValueError:
        changes = None
    if not isinstance(changes, dict):
        raise FaultSettingsError("the body must be a JSON object of fault settings")
    return changes


def admin_routes(simulator: Simulator) -> list[Route]:
    """``/admin`` (HTML), ``/admin/ledger`` (GET, DELETE) and ``/admin/faults`` (GET, PUT)."""
    ledger = simulator.ledger

    async def page(_request: Request) -> Response:
        html = render_ledger(ledger.charges(), ledger.refunds(), simulator.faults.as_json())
        headers = {"Content-Security-Policy": PAGE_POLICY, "X-Content-Type-Options": "nosniff"}
        return HTMLResponse(html, headers=headers)

    async def show_ledger(_request: Request) -> Response:
        return JSONResponse({"charges": ledger.charges(), "refunds": ledger.refunds()})

    async def clear_ledger(_request: Request) -> Response:
        ledger.clear()
        return Response(status_code=204)

    async def show_faults(_request: Request) -> Response:
        return JSONResponse(simulator.faults.as_json())

    async def change_faults(request: Request) -> Response:
        try:
            simulator.faults = updated(simulator.faults, _settings(await request.body()))
        except FaultSettingsError as error:
            return _problem(422, "Invalid fault settings", str(error), request)
        return JSONResponse(simulator.faults.as_json())

    return [
        Route("/admin", page, methods=["GET"]),
        Route("/admin/ledger", show_ledger, methods=["GET"]),
        Route("/admin/ledger", clear_ledger, methods=["DELETE"]),
        Route("/admin/faults", show_faults, methods=["GET"]),
        Route("/admin/faults", change_faults, methods=["PUT"]),
    ]
