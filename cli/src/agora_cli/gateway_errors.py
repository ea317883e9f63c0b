"""The gateway's own answers as Problem Details (RFC 9457), like every service error.

Traefik sends two kinds of request here: a path no router matches (the lowest-priority catch-all
router rewrites it to ``/404`` and keeps the original in ``X-Replaced-Path``), and the errors
middleware's request for a page when the upstream could not answer (``/502?url=...``). Every other
path answers 404 too, so the app never reveals more than the gateway would. ``/health`` is for the
CLI's supervision; the gateway never routes a client there.
"""

from __future__ import annotations

from http import HTTPStatus
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

PROBLEM_JSON = "application/problem+json"
HEALTH_PATH = "/health"
ORIGINAL_PATH_HEADER = "X-Replaced-Path"
STRIPPED_PREFIX_HEADER = "X-Forwarded-Prefix"
PROBLEM_TYPE_BASE = "https://agora.dev/problems/"
DETAILS: dict[int, str] = {
    HTTPStatus.NOT_FOUND: "No API or page is served at this path.",
    HTTPStatus.METHOD_NOT_ALLOWED: "This path does not accept this method.",
    HTTPStatus.BAD_GATEWAY: "The service behind this path is not reachable; try again shortly.",
    HTTPStatus.SERVICE_UNAVAILABLE: "The service behind this path is not available right now.",
    HTTPStatus.GATEWAY_TIMEOUT: "The service behind this path did not answer in time.",
}
# Errors the upstream is down for: a client may retry (RFC 9110 Retry-After, in seconds).
RETRY_AFTER_SECONDS = "5"
RETRYABLE = frozenset({HTTPStatus.BAD_GATEWAY, HTTPStatus.SERVICE_UNAVAILABLE})


def problem_body(status: int, instance: str) -> dict[str, object]:
    """The Problem Details object of a gateway answer ``status`` for the request path ``instance``.

    The ``type`` follows the services' convention (``.../problems/<reason-phrase-slug>``).
    """
    phrase = HTTPStatus(status).phrase
    return {
        "type": PROBLEM_TYPE_BASE + phrase.lower().replace(" ", "-"),
        "title": phrase,
        "status": status,
        "detail": DETAILS[status],
        "instance": instance,
    }


def _instance(request: Request) -> str:
    """The path the client asked for: from the catch-all's header or the errors page query."""
    replaced = request.headers.get(ORIGINAL_PATH_HEADER)
    if replaced:
        return urlsplit(replaced).path or "/"
    url = request.query_params.get("url")
    if url:
        # The errors page is asked for after stripPrefix rewrote the path (/catalog/metrics ->
        # /metrics); the request headers, copied along, still say what was stripped.
        prefix = request.headers.get(STRIPPED_PREFIX_HEADER, "").rstrip("/")
        return prefix + (urlsplit(url).path or "/")
    return request.url.path


def _status(path: str) -> int:
    """``/502`` -> 502 for a status this app describes; anything else is a 404."""
    code = path.strip("/")
    if code.isdigit() and int(code) in DETAILS:
        return int(code)
    return HTTPStatus.NOT_FOUND


async def _answer(request: Request) -> Response:
    status = _status(request.url.path)
    headers = {"Retry-After": RETRY_AFTER_SECONDS} if status in RETRYABLE else None
    return JSONResponse(
        problem_body(status, _instance(request)),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


async def _health(_request: Request) -> Response:
    return JSONResponse({"status": "ok"})


def create_app() -> Starlette:
    """The error service: ``/health`` for supervision, a Problem Details answer for any path."""
    every_method = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    return Starlette(
        routes=[
            Route(HEALTH_PATH, _health, methods=["GET"]),
            Route("/{path:path}", _answer, methods=every_method),
        ]
    )
