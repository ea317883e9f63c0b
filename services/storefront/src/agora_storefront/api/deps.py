"""Wiring for the pages: the storefront's resources, who the visitor is, and the CSRF check.

The visitor's session lives in cookies, all ``HttpOnly`` and ``SameSite=Lax`` (``Secure``
outside development): the access token, the refresh token, the guest basket id, the basket's
line count for the header, and the CSRF token. An expired access token is refreshed here,
silently, before the page runs; the new cookies ride on whatever the page answers
(:func:`agora_storefront.api.pages.finish`).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData

from agora_chassis.auth import Principal
from agora_chassis.errors import AgoraError, Forbidden
from agora_chassis.microcache import MicroCache
from agora_chassis.state import service_extras, service_state
from agora_storefront.services.accounts import Accounts, TokenPair
from agora_storefront.services.backends import Backends, Caller, SignInRequired
from agora_storefront.settings import StorefrontSettings

ACCESS_COOKIE = "agora_access"
REFRESH_COOKIE = "agora_refresh"
BASKET_COOKIE = "agora_basket"
COUNT_COOKIE = "agora_basket_count"
CSRF_COOKIE = "agora_csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
REFRESH_COOKIE_SECONDS = 30 * 24 * 3600
CSRF_TOKEN_BYTES = 32
MAX_COUNT_DIGITS = 3
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass
class StorefrontState:
    """The storefront's own resources: templates, the called services and the account client."""

    settings: StorefrontSettings
    templates: Jinja2Templates
    backends: Backends
    accounts: Accounts
    catalog_cache: MicroCache[Any]


def storefront(request: Request) -> StorefrontState:
    """The storefront's resources of the app serving ``request``."""
    return service_extras(request, StorefrontState)


@dataclass
class Visitor:
    """Who is looking at the page, and the cookies the answer must set or clear.

    Attributes:
        principal: The signed-in user, ``None`` for a guest.
        access_token: The (possibly just refreshed) access token.
        refresh_token: The refresh token, for sign-out.
        guest_basket: The guest basket id basket issued.
        basket_count: Lines in the basket, for the header.
        csrf_token: The token every form and HTMX request must send back.
        client_address: The browser's address, forwarded so limits stay per shopper.
        cookies: Cookies to set on the answer (name → value and max-age; ``None``: clear).
    """

    principal: Principal | None
    access_token: str | None
    refresh_token: str | None
    guest_basket: str | None
    basket_count: int
    csrf_token: str
    client_address: str | None
    cookies: dict[str, tuple[str, int] | None] = field(default_factory=dict)

    @property
    def caller(self) -> Caller:
        """How calls to the services carry this visitor."""
        token = self.access_token if self.principal is not None else None
        guest = None if self.principal is not None else self.guest_basket
        return Caller(token, guest, self.client_address)

    @property
    def is_admin(self) -> bool:
        """Whether the operator pages are open to this visitor."""
        return self.principal is not None and self.principal.has_role("admin")

    def signed_in_as(self, pair: TokenPair, principal: Principal) -> None:
        """Keep a fresh token pair in the cookies."""
        self.principal = principal
        self.access_token, self.refresh_token = pair.access_token, pair.refresh_token
        self.cookies[ACCESS_COOKIE] = (pair.access_token, pair.expires_in)
        self.cookies[REFRESH_COOKIE] = (pair.refresh_token, REFRESH_COOKIE_SECONDS)

    def signed_out(self) -> None:
        """Forget the tokens (the cookies are cleared on the answer)."""
        self.principal = self.access_token = self.refresh_token = None
        self.cookies[ACCESS_COOKIE] = self.cookies[REFRESH_COOKIE] = None

    def basket_holds(self, lines: int, guest_basket: str | None = None) -> None:
        """Remember the basket's line count (and a newly issued guest basket id)."""
        self.basket_count = lines
        self.cookies[COUNT_COOKIE] = (str(lines), REFRESH_COOKIE_SECONDS)
        if guest_basket is not None and guest_basket != self.guest_basket:
            self.guest_basket = guest_basket
            self.cookies[BASKET_COOKIE] = (guest_basket, REFRESH_COOKIE_SECONDS)


async def _verified(request: Request, token: str | None) -> Principal | None:
    if not token:
        return None
    try:
        return await service_state(request).verifier.verify(token)
    except AgoraError:
        return None  # expired or revoked keys: refreshed below, or a guest


async def _refreshed(request: Request, visitor: Visitor) -> None:
    """Swap an expired access token for a new pair, or sign the visitor out."""
    if visitor.refresh_token is None:
        return
    accounts = storefront(request).accounts
    try:
        pair = await accounts.refresh(visitor.refresh_token, visitor.caller)
    except SignInRequired:
        visitor.signed_out()
        return
    principal = await _verified(request, pair.access_token)
    if principal is None:
        visitor.signed_out()
    else:
        visitor.signed_in_as(pair, principal)


def _count(raw: str | None) -> int:
    """The header's line count from its cookie (0 when missing or not a small number)."""
    return int(raw) if raw is not None and raw.isdigit() and len(raw) <= MAX_COUNT_DIGITS else 0


async def current_visitor(request: Request) -> Visitor:
    """The visitor of this request, signed in from the cookies (refreshed when expired)."""
    cached = getattr(request.state, "visitor", None)
    if isinstance(cached, Visitor):
        return cached
    cookies = request.cookies
    access = cookies.get(ACCESS_COOKIE)
    visitor = Visitor(
        principal=await _verified(request, access),
        access_token=access,
        refresh_token=cookies.get(REFRESH_COOKIE),
        guest_basket=cookies.get(BASKET_COOKIE),
        basket_count=_count(cookies.get(COUNT_COOKIE)),
        csrf_token=cookies.get(CSRF_COOKIE) or "",
        client_address=request.client.host if request.client else None,
    )
    if visitor.principal is None:
        await _refreshed(request, visitor)
    if len(visitor.csrf_token) < CSRF_TOKEN_BYTES:
        visitor.csrf_token = secrets.token_urlsafe(CSRF_TOKEN_BYTES)
        visitor.cookies[CSRF_COOKIE] = (visitor.csrf_token, REFRESH_COOKIE_SECONDS)
    request.state.visitor = visitor
    return visitor


CurrentVisitor = Annotated[Visitor, Depends(current_visitor)]


class CsrfRefused(Forbidden):
    """A state-changing request without the visitor's CSRF token (403)."""


async def check_csrf(request: Request) -> None:
    """Refuse an unsafe request whose CSRF token (header or form field) is not the cookie's.

    Double-submit: a page from another site can make the browser send the cookie, but cannot
    read it to put the same value into the form or header.
    """
    if request.method in SAFE_METHODS:
        return
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        form: FormData = await request.form()  # parsed once; the page's Form() reads it again
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    cookie = request.cookies.get(CSRF_COOKIE)
    if not sent or not cookie or not secrets.compare_digest(sent, cookie):
        raise CsrfRefused("The form expired or came from another site; reload the page and retry.")


class SignInNeeded(Exception):
    """The page needs a signed-in visitor: answered with a redirect to the login page."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.location = f"/login?next={quote(next_url, safe='/')}"


async def signed_in(request: Request, visitor: CurrentVisitor) -> Visitor:
    """The visitor, who must be signed in (else a redirect to the login page)."""
    if visitor.principal is None:
        raise SignInNeeded(request.url.path)
    return visitor


async def operator(request: Request, visitor: CurrentVisitor) -> Visitor:
    """The visitor, who must be signed in with the admin role."""
    if visitor.principal is None:
        raise SignInNeeded(request.url.path)
    if not visitor.is_admin:
        raise Forbidden("The operator pages are for administrators.")
    return visitor


SignedIn = Annotated[Visitor, Depends(signed_in)]
Operator = Annotated[Visitor, Depends(operator)]
Csrf = Depends(check_csrf)
