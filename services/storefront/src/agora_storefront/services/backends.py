"""The called services: one chassis ``ServiceClient`` (deadline, retries, breaker) per target.

Every outgoing call goes through :meth:`Backend.send`, so a service that is down shows up as
:class:`~agora_chassis.service_client.TargetUnavailable` (the pages answer it with a friendly
503 and a retry link), and an answer the service chose (a 404, a 422 with field errors) as a
:class:`Refused` the page can show next to the form.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from http import HTTPStatus
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import httpx

from agora_chassis.call_policy import CallPolicy
from agora_chassis.service_client import ServiceClient

BASKET_ID_HEADER = "X-Basket-Id"
FORWARDED_FOR_HEADER = "X-Forwarded-For"
# Loopback calls: gzip would cost the called service and the storefront CPU for nothing.
PLAIN_ANSWERS = {"Accept-Encoding": "identity"}


class Refused(Exception):
    """A service answered with a client error (4xx): its Problem Details, kept for the page.

    Attributes:
        status: The HTTP status.
        problem: The Problem Details body (``title``, ``detail``, ``errors``...), or ``{}``.
    """

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        super().__init__(problem.get("detail") or problem.get("title") or f"HTTP {status}")
        self.status = status
        self.problem = problem

    @property
    def detail(self) -> str:
        """What went wrong, in the service's words."""
        return str(self)

    def field_errors(self) -> dict[str, str]:
        """Validation messages by field: the last part of each error's dotted ``field``
        (``ship_to.city`` → ``city``); ``form`` for an error about the whole body."""
        messages: dict[str, str] = {}
        for error in self.problem.get("errors") or []:
            name = str(error.get("field") or "form").rsplit(".", 1)[-1] or "form"
            messages.setdefault(name, str(error.get("message") or "is not valid"))
        return messages


class SignInRequired(Refused):
    """The service refused the access token (401): the shopper has to sign in (again)."""


@dataclass(frozen=True)
class Caller:
    """Who a call is made for: the shopper's access token, guest basket id and address."""

    access_token: str | None = None
    guest_basket: str | None = None
    client_address: str | None = None

    def with_guest(self, guest_basket: str) -> Caller:
        """This caller naming ``guest_basket`` (one basket just issued)."""
        if self.access_token:
            return self  # a signed-in shopper's basket is named by the token
        return Caller(self.access_token, guest_basket, self.client_address)

    def headers(self) -> dict[str, str]:
        """The headers that carry this caller to a service."""
        headers: dict[str, str] = {}
        if self.access_token:
            headers["Authorization"] = f"Bearer {self.access_token}"
        if self.guest_basket:
            headers[BASKET_ID_HEADER] = self.guest_basket
        if self.client_address:
            headers[FORWARDED_FOR_HEADER] = self.client_address  # per-shopper rate limits
        return headers


ANONYMOUS = Caller()


@dataclass
class Backend:
    """One called service: its base URL, its ``ServiceClient`` and the shared HTTP pool."""

    name: str
    base_url: str
    client: ServiceClient
    http: httpx.AsyncClient

    async def send(
        self,
        method: str,
        path: str,
        caller: Caller = ANONYMOUS,
        *,
        headers: dict[str, str] | None = None,
        idempotent: bool | None = None,
        **options: Any,
    ) -> httpx.Response:
        """Call ``path`` on this service for ``caller``; any answer but a transient failure.

        Raises:
            TargetUnavailable: The service is down, or its breaker is open.
        """
        return await self.client.request(
            self.http,
            method,
            f"{self.base_url}{path}",
            headers={**caller.headers(), **(headers or {})},
            idempotent=idempotent,
            **options,
        )

    async def probe(self, path: str, seconds: float) -> httpx.Response:
        """GET ``path`` straight from the pool, around the breaker: the operator's health page.

        A readiness probe reports on the service rather than using it: through the client, a 503
        from ``/health/ready`` would count as a failed call and could open the breaker every
        shopper's calls go through, and it would hide that answer's body (which check failed).

        Raises:
            httpx.HTTPError: The service did not answer within ``seconds``.
        """
        return await self.http.get(f"{self.base_url}{path}", timeout=seconds)

    async def json(self, method: str, path: str, caller: Caller = ANONYMOUS, **options: Any) -> Any:
        """Call and return the JSON body of a 2xx answer (``None`` for 204).

        Raises:
            SignInRequired: 401: the token is missing, expired or revoked.
            Refused: Any other 4xx or 5xx the service chose to answer.
            TargetUnavailable: The service is down, or its breaker is open.
        """
        return body_of(await self.send(method, path, caller, **options))


def body_of(response: httpx.Response) -> Any:
    """The JSON of a 2xx answer, ``None`` when empty; otherwise :class:`Refused`."""
    if response.is_success:
        return response.json() if response.content else None
    try:
        problem = response.json()
    except ValueError:
        problem = {}
    if not isinstance(problem, dict):
        problem = {"detail": str(problem)}
    if response.status_code == HTTPStatus.UNAUTHORIZED:
        raise SignInRequired(response.status_code, problem)
    raise Refused(response.status_code, problem)


def no_cookies() -> CookieJar:
    """A cookie jar that keeps nothing.

    The pool is shared by every visitor: a cookie one service set for one shopper (basket's
    ``basket_id``) would otherwise ride on the next shopper's calls and show them that basket.
    Who a call is for travels in :meth:`Caller.headers` alone.
    """
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


@dataclass
class Backends:
    """Every service the storefront calls, sharing one HTTP connection pool."""

    http: httpx.AsyncClient
    identity: Backend
    catalog: Backend
    basket: Backend
    ordering: Backend
    payment: Backend
    notification: Backend
    clients: list[ServiceClient] = field(default_factory=list)

    @classmethod
    def build(
        cls, urls: dict[str, str], policy: CallPolicy, http: httpx.AsyncClient | None = None
    ) -> Backends:
        """One ``Backend`` per entry of ``urls`` (name → base URL), all over ``http``."""
        pool = http or httpx.AsyncClient(cookies=no_cookies(), headers=PLAIN_ANSWERS)
        backends = {
            name: Backend(name, url.rstrip("/"), ServiceClient(name, policy=policy), pool)
            for name, url in urls.items()
        }
        return cls(http=pool, clients=[b.client for b in backends.values()], **backends)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self.http.aclose()
