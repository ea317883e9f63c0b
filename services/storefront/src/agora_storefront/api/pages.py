"""Rendering: the templates, their filters, the cookies and headers every answer carries, and the
friendly error pages (never a stack trace, never a Problem Details body in a browser)."""

from __future__ import annotations

import datetime as dt
import functools
import logging
from decimal import Decimal
from http import HTTPStatus
from pathlib import Path
from typing import Any

from babel.dates import format_datetime
from babel.numbers import format_currency
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader
from starlette.exceptions import HTTPException as StarletteHTTPException

from agora_chassis.errors import AgoraError, DependencyUnavailable
from agora_storefront.api.deps import SignInNeeded, Visitor, current_visitor, storefront
from agora_storefront.services.backends import Refused, SignInRequired

logger = logging.getLogger(__name__)

TEMPLATES_DIR = Path(__file__).resolve().parents[1] / "templates"
# Everything the pages load comes from the storefront itself: no CDN, no inline script or style.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)
HTMX_REQUEST_HEADER = "hx-request"
FLASH_TARGET = "#flash"
DEFAULT_RETRY_SECONDS = 5
PRICES_REMEMBERED = 4096


def build_templates(locale: str, *, reload: bool = False) -> Jinja2Templates:
    """The page templates, autoescaped, with ``money`` and ``when`` formatted for ``locale``.

    Args:
        locale: A CLDR locale (Babel).
        reload: Check each template's file for changes whenever it is used (``AGORA_DEBUG``).
            Off, a template is read once: the check was a ``stat`` per template per page, 8% of
            a product list's CPU (benchmarks/README.md), for files that ship in the package.
    """
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,  # every template is HTML
        auto_reload=reload,
    )
    templates = Jinja2Templates(env=env)

    # Formatting a price with Babel was a fifth of a product list's CPU; a page shows the same
    # few hundred prices again and again, so each formatted price is remembered.
    @functools.lru_cache(maxsize=PRICES_REMEMBERED)
    def formatted(amount: str, currency: str) -> str:
        return format_currency(Decimal(amount), currency, locale=locale)

    def money(amount: Decimal | str | float | None, currency: str = "EUR") -> str:
        if amount is None:
            return ""
        return formatted(str(amount), currency)

    def when(value: str | dt.datetime | None) -> str:
        if value is None:
            return ""
        moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
        return format_datetime(moment, "medium", locale=locale)

    env.filters["money"] = money
    env.filters["when"] = when
    env.globals["html_lang"] = locale.split("_", 1)[0]
    return templates


def is_htmx(request: Request) -> bool:
    """Whether HTMX sent the request (it swaps a fragment rather than loading a page)."""
    return request.headers.get(HTMX_REQUEST_HEADER) == "true"


def finish(request: Request, response: Response) -> Response:
    """Set the visitor's pending cookies and the page's security headers on ``response``."""
    visitor = getattr(request.state, "visitor", None)
    if isinstance(visitor, Visitor):
        secure = storefront(request).settings.secure_cookies
        for name, value in visitor.cookies.items():
            if value is None:
                response.delete_cookie(name, httponly=True, samesite="lax", secure=secure)
            else:
                response.set_cookie(
                    name, value[0], max_age=value[1], httponly=True, samesite="lax", secure=secure
                )
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers.setdefault("Cache-Control", "no-store")  # pages are per visitor
    return response


async def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status: int = 200
) -> Response:
    """Render ``template`` for the visitor, with its cookies and headers."""
    state = storefront(request)
    visitor = await current_visitor(request)
    page = {"request": request, "visitor": visitor, "settings": state.settings, **(context or {})}
    response = state.templates.TemplateResponse(request, template, page, status_code=status)
    return finish(request, response)


def redirect(request: Request, url: str) -> Response:
    """See-other to ``url``; for HTMX, ``HX-Redirect`` so the whole page changes."""
    if is_htmx(request):
        response: Response = Response(status_code=204, headers={"HX-Redirect": url})
    else:
        response = RedirectResponse(url, status_code=303)
    return finish(request, response)


async def problem_page(
    request: Request, status: int, title: str, detail: str, *, retry: bool = False
) -> Response:
    """A friendly error: a page, or for HTMX a message swapped into the page's flash area."""
    context = {"title": title, "detail": detail, "retry": retry, "status": int(status)}
    if is_htmx(request):
        response = await render(request, "fragments/flash.html", context, status=200)
        response.headers["HX-Retarget"] = FLASH_TARGET
        response.headers["HX-Reswap"] = "innerHTML"
        return response
    response = await render(request, "error.html", context, status=status)
    if retry:
        response.headers["Retry-After"] = str(DEFAULT_RETRY_SECONDS)
    return response


async def _sign_in(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInNeeded)  # noqa: S101 - registered for it alone
    return redirect(request, exc.location)


async def _expired(request: Request, _exc: Exception) -> Response:
    visitor = await current_visitor(request)
    visitor.signed_out()
    return redirect(request, SignInNeeded(request.url.path).location)


async def _unavailable(request: Request, exc: Exception) -> Response:
    name = getattr(exc, "dependency", None) or "A part of the shop"
    detail = f"{str(name).capitalize()} is not answering right now. Please try again in a moment."
    return await problem_page(request, 503, "Temporarily unavailable", detail, retry=True)


async def _refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Refused)  # noqa: S101
    status = exc.status if exc.status < HTTPStatus.INTERNAL_SERVER_ERROR else HTTPStatus.BAD_GATEWAY
    title = str(exc.problem.get("title") or "Something went wrong")
    retry = status >= HTTPStatus.INTERNAL_SERVER_ERROR
    return await problem_page(request, status, title, exc.detail, retry=retry)


async def _agora_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AgoraError)  # noqa: S101
    return await problem_page(request, exc.status, exc.title, exc.detail)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101
    if exc.status_code == HTTPStatus.NOT_FOUND:
        detail = "There is no page at this address. Try the search, or start from the home page."
        return await problem_page(request, 404, "Page not found", detail)
    return await problem_page(request, exc.status_code, "Request refused", str(exc.detail))


async def _bad_query(request: Request, _exc: Exception) -> Response:
    detail = "Some of the filters in the address are not valid. Start again from the menu."
    return await problem_page(request, 400, "Invalid request", detail)


async def _unexpected(request: Request, exc: Exception) -> Response:
    logger.error("page failed", exc_info=exc)
    detail = "Something went wrong on our side. It has been logged; please try again."
    return await problem_page(request, 500, "Sorry", detail, retry=True)


def install_page_errors(app: FastAPI) -> None:
    """Answer errors as pages (they replace the chassis's Problem Details handlers)."""
    app.add_exception_handler(SignInNeeded, _sign_in)
    app.add_exception_handler(SignInRequired, _expired)
    app.add_exception_handler(DependencyUnavailable, _unavailable)
    app.add_exception_handler(Refused, _refused)
    app.add_exception_handler(AgoraError, _agora_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _bad_query)
    app.add_exception_handler(Exception, _unexpected)
