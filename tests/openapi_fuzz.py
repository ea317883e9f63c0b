"""Conformance fuzzing of a service's OpenAPI document (shared by every service's tests).

Every documented operation is called with generated requests, and every answer must be one the
document declares: a documented status code, a documented content type, a body matching the
documented schema, and never a 5xx. Three kinds of request are sent to each operation:

* positive: valid by the document (the answer is 2xx, or a documented refusal such as 404);
* negative: invalid by the document (the answer must be a documented 4xx, 422 mostly);
* unparseable bodies: truncated JSON, a body in a content type the operation does not take and
  a broken multipart body, as a client with a bad encoder sends (a documented 400 or 422).
"""

from __future__ import annotations

import itertools
from typing import Any

import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import APIOperation, GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.specs.openapi.schemas import OpenApiSchema
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from agora_chassis.auth import KeySource, TokenVerifier
from agora_chassis.db import create_sessionmaker
from agora_chassis.state import service_state

Operation = APIOperation[Any, Any, Any, Any]
Case = schemathesis.Case[Operation]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
UNPARSEABLE_BODIES = [
    ("application/json", b'{"name": '),
    ("text/plain", b"not the documented content type"),
    ("multipart/form-data; boundary=missing", b"--elsewhere\r\n"),
    ("application/x-www-form-urlencoded", b"%zz=%"),
]
UNPARSEABLE_EXAMPLES = 8


def prepare_for_fuzzing(app: FastAPI, database_url: str, keys: KeySource | None = None) -> FastAPI:
    """Make a service app safe to fuzz from schemathesis' own event loops, and return it.

    Each generated call may run on a fresh event loop, and pooled connections would outlive
    theirs: the app gets an engine without a pool. With ``keys``, tokens are verified against
    them (a test key) instead of the service's JWKS.
    """
    state = service_state(app)
    if keys is not None:
        config = state.settings
        state.verifier = TokenVerifier(keys, issuer=config.jwt_issuer, audience=config.jwt_audience)
    state.engine = create_async_engine(database_url, poolclass=NullPool)
    state.sessionmaker = create_sessionmaker(state.engine)
    return app


def _has_inputs(operation: Operation) -> bool:
    parts = (operation.path_parameters, operation.query, operation.headers, operation.body)
    return any(len(part) for part in parts)


def _conforming(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )


def _fuzz_generated(
    operation: Operation, mode: GenerationMode, headers: dict[str, str], examples: int
) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @_conforming(examples)
    def fuzz(case: Case) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    fuzz()


def _fuzz_unparseable(operation: Operation, headers: dict[str, str]) -> None:
    @given(case=operation.as_strategy(), raw=st.sampled_from(UNPARSEABLE_BODIES))
    @_conforming(UNPARSEABLE_EXAMPLES)
    def fuzz(case: Case, raw: tuple[str, bytes]) -> None:
        case.media_type, case.body = raw
        case.call_and_validate(headers=headers, checks=CHECKS)

    fuzz()


def fuzz_openapi(
    app: FastAPI, headers: dict[str, str], *, minimum_operations: int, examples: int
) -> None:
    """Fuzz every operation ``app`` documents; fail on the first answer it does not declare.

    Args:
        app: The service (built with ``debug=True``, so it serves ``/openapi.json``).
        headers: Sent with every request (an admin token, so protected routes are reached).
        minimum_operations: Operations the document must list (guards against losing routes).
        examples: Generated requests per operation and mode (positive, negative).
    """
    fuzz_schema(
        schemathesis.openapi.from_asgi("/openapi.json", app),
        headers,
        minimum_operations=minimum_operations,
        examples=examples,
    )


def fuzz_schema(
    schema: OpenApiSchema, headers: dict[str, str], *, minimum_operations: int, examples: int
) -> None:
    """Fuzz every operation of a loaded document (``from_asgi``, or ``from_url`` for a service
    served by uvicorn, whose resources must live on the server's own event loop).

    Args:
        schema: The document as schemathesis loaded it.
        headers: Sent with every request.
        minimum_operations: Operations the document must list.
        examples: Generated requests per operation and mode (positive, negative).
    """
    # An operation whose schema cannot be loaded fails here (``Err`` has no ``ok``).
    results = schema.get_all_operations()
    operations: list[Operation] = [result.ok() for result in results]  # type: ignore[union-attr]
    assert len(operations) >= minimum_operations
    for operation, mode in itertools.product(operations, GenerationMode):
        if mode is GenerationMode.NEGATIVE and not _has_inputs(operation):
            continue  # nothing to make invalid
        _fuzz_generated(operation, mode, headers, examples)
    for operation in operations:
        if len(operation.body):
            _fuzz_unparseable(operation, headers)
