"""``Idempotency-Key`` on creating routes: the same request twice creates one resource.

A route opts in with two things, both needed (a guard without the route class fails loudly)::

    router = APIRouter(prefix="/api/v1/products", route_class=IdempotentRoute)
    idempotency = IdempotencyKey(IdempotencyRecord)          # required=True to insist on a key

    @router.post("", status_code=201, dependencies=[*admin_writes, Depends(idempotency)])
    async def create_product(...): ...

:class:`IdempotencyKey` is the dependency: in the request's transaction (``DbSession``) it takes
the key's advisory lock and claims the key, or answers at once: 409 while a request with the key
is still running, 422 when the key was used for a different request, or the stored response
again (same status, body, ``Location`` and ``ETag``, plus ``Idempotent-Replayed: true``).
:class:`IdempotentRoute` wraps the route's handler: once the handler has built the response, and
before the transaction dependency commits, it stores that response on the claimed record. An
error raised by the handler rolls the claim back with everything else, so a retry runs again.
Put the guard after the route's authorisation dependencies: it needs the caller, and a refused
request should not touch the table. See :mod:`agora_chassis.idempotency` and ADR 0021.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from fastapi import Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from agora_chassis import idempotency as store
from agora_chassis.auth import CurrentPrincipal
from agora_chassis.db import DbSession, Session
from agora_chassis.errors import AgoraError
from agora_chassis.openapi import problem_responses
from agora_chassis.state import service_state

IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
REPLAYED_HEADERS = ("content-type", "location", "etag")
# Printable ASCII, spaces allowed inside (the server strips them at the ends): a UUID, a ULID, any
# client's token fits; control characters and non-ASCII do not.
KEY_PATTERN = rf"[\x20-\x7e]{{1,{store.KEY_MAX_LENGTH}}}"
_KEY_RE = re.compile(KEY_PATTERN)
_ROUTE_SCOPE = "agora.idempotency.route"
_CLAIM_SCOPE = "agora.idempotency.claim"
HOUR = dt.timedelta(hours=1)

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


@dataclass(frozen=True, slots=True)
class _Claim:
    """A key this request owns: where to store its response."""

    session: Session
    model: type[store.IdempotencyRecordMixin]
    record_id: uuid.UUID


class _Replay(Exception):  # a control-flow signal, never answered as an error
    """Raised by the guard to answer with a stored response instead of running the handler."""

    def __init__(self, response: Response) -> None:
        super().__init__("replay")
        self.response = response


class IdempotencyKey:
    """The dependency guarding a creating route with the ``Idempotency-Key`` header.

    Attributes:
        model: The service's idempotency model (an :class:`IdempotencyRecordMixin` table).
        required: Whether a request without the header is refused (428); when ``False`` such a
            request runs unguarded, as before the route had the guard.
    """

    def __init__(
        self, model: type[store.IdempotencyRecordMixin], *, required: bool = False
    ) -> None:
        """Guard routes with keys stored in ``model``; ``required`` refuses requests without."""
        self.model = model
        self.required = required

    async def __call__(
        self, request: Request, session: DbSession, principal: CurrentPrincipal
    ) -> None:
        """Claim the key for this request, or answer the duplicate (see the module doc).

        Raises:
            IdempotencyKeyMissing: No key on a route that requires one (428).
            IdempotencyKeyMalformed: The key is not 1-255 printable ASCII characters (400).
            IdempotencyKeyInProgress: A request with the key is still running (409).
            IdempotencyKeyReused: The key was used for a different request (422).
        """
        key = _read_key(request, required=self.required)
        if key is None:
            return
        route = request.scope.get(_ROUTE_SCOPE)
        if route is None:
            raise RuntimeError(
                f"{request.url.path}: IdempotencyKey needs route_class=IdempotentRoute"
            )
        body = await request.body()
        wanted = store.IdempotentRequest(
            caller=principal.subject,
            route=route,
            key=key,
            fingerprint=store.fingerprint(request.url.path, request.url.query, body),
        )
        record_id = await self._claim(request, session, wanted)
        request.scope[_CLAIM_SCOPE] = _Claim(session, self.model, record_id)

    async def _claim(
        self, request: Request, session: Session, wanted: store.IdempotentRequest
    ) -> uuid.UUID:
        if not await store.try_lock(session, wanted):
            raise store.IdempotencyKeyInProgress
        ttl = service_state(request).settings.idempotency_ttl_hours * HOUR
        record_id = await store.claim(session, self.model, wanted, ttl=ttl)
        if record_id is not None:
            return record_id
        record = await store.find(session, self.model, wanted)
        if record is None:  # deleted since the claim by a prune: the next try claims it
            raise store.IdempotencyKeyInProgress
        if record.request_hash != wanted.fingerprint:
            raise store.IdempotencyKeyReused
        if record.status_code is None:  # committed without a response: a route missing the class
            raise store.IdempotencyKeyInProgress
        raise _Replay(_replay(record))


def _read_key(request: Request, *, required: bool) -> str | None:
    value = request.headers.get(IDEMPOTENCY_KEY_HEADER)
    if value is None:
        if required:
            raise store.IdempotencyKeyMissing(
                f"This route needs an {IDEMPOTENCY_KEY_HEADER} header."
            )
        return None
    if not _KEY_RE.fullmatch(value):
        raise store.IdempotencyKeyMalformed(
            f"{IDEMPOTENCY_KEY_HEADER} must be 1 to {store.KEY_MAX_LENGTH} printable ASCII "
            "characters."
        )
    return value


def _replay(record: store.IdempotencyRecordMixin) -> Response:
    headers = {**(record.response_headers or {}), REPLAYED_HEADER: "true"}
    return Response(
        content=record.response_body or b"",
        status_code=record.status_code or HTTPStatus.OK,
        headers=headers,
    )


def _stored(response: Response) -> store.StoredResponse:
    body = getattr(response, "body", None)
    if not isinstance(body, bytes):  # a streamed answer cannot be kept
        raise TypeError("an idempotent route must answer with a complete body, not a stream")
    headers = {
        name: response.headers[name] for name in REPLAYED_HEADERS if name in response.headers
    }
    return store.StoredResponse(response.status_code, body, headers)


def _guards(dependant: Dependant) -> Iterator[IdempotencyKey]:
    for dependency in dependant.dependencies:
        if isinstance(dependency.call, IdempotencyKey):
            yield dependency.call
        yield from _guards(dependency)


def _header_parameter(required: bool) -> dict[str, Any]:
    return {
        "name": IDEMPOTENCY_KEY_HEADER,
        "in": "header",
        "required": required,
        "description": (
            "A key unique to this request (a UUID, say), 1-255 printable ASCII characters. "
            "Resent with the same body within the retention time, the stored answer is replayed "
            f"(header {REPLAYED_HEADER}: true) and nothing is created twice."
        ),
        "schema": {"type": "string", "minLength": 1, "maxLength": store.KEY_MAX_LENGTH},
    }


class IdempotentRoute(APIRoute):
    """A route class that stores the response of a route guarded by :class:`IdempotencyKey`.

    Use it as the router's ``route_class``; routes without the guard are untouched (one dict
    look-up per request). It also documents the header and the guard's answers in the OpenAPI.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        """Build the route; when it is guarded, declare the header and the 400/409/422(/428)."""
        super().__init__(path, endpoint, **kwargs)
        guard = next(_guards(self.dependant), None)
        if guard is None:
            return
        extra = dict(self.openapi_extra or {})
        extra["parameters"] = [*extra.get("parameters", []), _header_parameter(guard.required)]
        self.openapi_extra = extra
        statuses = [HTTPStatus.BAD_REQUEST, HTTPStatus.CONFLICT, HTTPStatus.UNPROCESSABLE_ENTITY]
        if guard.required:
            statuses.append(HTTPStatus.PRECONDITION_REQUIRED)
        self.responses = {**problem_responses(*statuses), **self.responses}

    def get_route_handler(self) -> Handler:
        """The handler, wrapped to replay or to store the response before the commit."""
        return _idempotent_handler(super().get_route_handler(), self.path_format)


def _idempotent_handler(handler: Handler, path_format: str) -> Handler:
    async def idempotent_handler(request: Request) -> Response:
        request.scope[_ROUTE_SCOPE] = f"{request.method} {path_format}"
        try:
            response = await handler(request)
        except _Replay as replay:
            return replay.response
        except AgoraError as error:
            claim = request.scope.get(_CLAIM_SCOPE)
            if claim is not None and error.commit_changes:  # the transaction commits: no claim
                await store.release(claim.session, claim.model, claim.record_id)
            raise
        claim = request.scope.get(_CLAIM_SCOPE)
        if claim is not None:
            await store.complete(claim.session, claim.model, claim.record_id, _stored(response))
        return response

    return idempotent_handler
