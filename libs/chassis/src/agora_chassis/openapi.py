"""The OpenAPI document says what the API really answers: Problem Details for every error.

Routes declare the errors of their own logic with :func:`problem_responses` (``404`` for a missing
resource, ``409`` for a duplicate...), so the document is right where the behaviour is written.
The answers the chassis gives for any route are added once, by :func:`install_openapi`, because
no route can forget them and none can avoid them:

* ``422``: the request's parameters or body fail validation (FastAPI's own ``HTTPValidationError``
  schema is replaced: the chassis answers :class:`ValidationProblem`, not that shape);
* ``400`` on operations that take a body, when it cannot be parsed (malformed JSON, a broken
  form): a syntax error stays a 400, apart from the 422 of a body that parses but breaks a rule;
* ``413`` on operations that take a body (and every POST, PUT, PATCH): it is too large;
* ``429`` outside the unlimited operational paths: the API budget is spent;
* ``500`` and ``504`` everywhere: an unexpected error, or no answer within the time budget.

Every error response is ``application/problem+json`` (RFC 9457). ``503`` (a dependency is down)
is declared by the routers whose routes reach one, not here: the chassis cannot tell which do.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

from agora_chassis.errors import PROBLEM_JSON

COMPONENT_REF = "#/components/schemas/{model}"
FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")
BODY_METHODS = frozenset({"post", "put", "patch"})
RETRY_AFTER_HEADER: dict[str, Any] = {
    "Retry-After": {
        "description": "Seconds to wait before trying again",
        "schema": {"type": "integer"},
    }
}
WWW_AUTHENTICATE_HEADER: dict[str, Any] = {
    "WWW-Authenticate": {
        "description": "The scheme to authenticate with",
        "schema": {"type": "string"},
    }
}
ResponsesDict = dict[int | str, dict[str, Any]]


class FieldError(BaseModel):
    """One invalid field of a request.

    Attributes:
        field: Dotted location (``query.page``, ``price``...).
        message: What is wrong with it.
        type: A stable machine-readable error kind (``missing``, ``less_than_equal``...).
    """

    field: str
    message: str
    type: str


class ProblemDetails(BaseModel):
    """An error answer (RFC 9457); some kinds add extension members (``max_bytes``...).

    Attributes:
        type: URI naming the kind of problem.
        title: Short, fixed summary of that kind.
        status: The HTTP status, repeated.
        detail: What went wrong this time.
        instance: The request path.
    """

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    instance: str


class ValidationProblem(ProblemDetails):
    """A ``422``: the request breaks a rule; ``errors`` names each field when fields are at fault.

    Attributes:
        errors: The invalid fields (absent when the rule concerns the whole request).
    """

    errors: list[FieldError] = Field(default_factory=list)


def _content(model: type[BaseModel]) -> dict[str, Any]:
    return {PROBLEM_JSON: {"schema": {"$ref": COMPONENT_REF.format(model=model.__name__)}}}


def problem_response(status: int, description: str | None = None) -> dict[str, Any]:
    """One OpenAPI response object for an error answered as Problem Details.

    Args:
        status: The HTTP status.
        description: What it means on this route; the status phrase when omitted.

    Returns:
        The response object (``description`` and ``application/problem+json`` content).
    """
    model = ValidationProblem if status == HTTPStatus.UNPROCESSABLE_ENTITY else ProblemDetails
    response: dict[str, Any] = {
        "description": description or HTTPStatus(status).phrase,
        "content": _content(model),
    }
    if status in (HTTPStatus.TOO_MANY_REQUESTS, HTTPStatus.SERVICE_UNAVAILABLE):
        response["headers"] = RETRY_AFTER_HEADER
    if status == HTTPStatus.UNAUTHORIZED:
        response["headers"] = WWW_AUTHENTICATE_HEADER
    return response


def problem_responses(*statuses: int) -> ResponsesDict:
    """The ``responses=`` of a route or router whose logic answers these error statuses.

    Args:
        *statuses: The statuses (``401``, ``404``...).

    Returns:
        A mapping FastAPI merges into the operation's documented responses.
    """
    return {int(status): problem_response(status) for status in statuses}


def not_modified() -> ResponsesDict:
    """The ``304`` of a read that honours ``If-None-Match`` (no body)."""
    return {HTTPStatus.NOT_MODIFIED.value: {"description": "The ETag you sent is still current"}}


def _component_schemas() -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    for model in (ProblemDetails, ValidationProblem):
        schema = model.model_json_schema(ref_template=COMPONENT_REF)
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    return schemas


def _add(responses: dict[str, Any], status: HTTPStatus, description: str) -> None:
    responses.setdefault(str(status.value), problem_response(status, description))


def _document_operation(
    path: str, method: str, operation: dict[str, Any], unlimited: tuple[str, ...]
) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    validation = str(HTTPStatus.UNPROCESSABLE_ENTITY.value)
    if validation in responses:  # FastAPI declares it for every operation with inputs
        responses[validation] = problem_response(
            HTTPStatus.UNPROCESSABLE_ENTITY, "A parameter or the body is invalid"
        )
    if "requestBody" in operation:
        _add(
            responses, HTTPStatus.BAD_REQUEST, "The body cannot be parsed (malformed JSON or form)"
        )
    if "requestBody" in operation or method in BODY_METHODS:
        _add(responses, HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "The body is larger than the limit")
    if not _unlimited(path, unlimited):
        _add(responses, HTTPStatus.TOO_MANY_REQUESTS, "The caller's API budget is spent")
    _add(responses, HTTPStatus.INTERNAL_SERVER_ERROR, "An unexpected error (logged)")
    _add(responses, HTTPStatus.GATEWAY_TIMEOUT, "No answer within the request time budget")
    for response in responses.values():  # a route's bare ``{PROBLEM_JSON: {}}`` gets the schema
        content = response.get("content", {})
        if PROBLEM_JSON in content and "schema" not in content[PROBLEM_JSON]:
            content[PROBLEM_JSON]["schema"] = _content(ProblemDetails)[PROBLEM_JSON]["schema"]


def _unlimited(path: str, prefixes: tuple[str, ...]) -> bool:
    return any(path == prefix or path.startswith(prefix + "/") for prefix in prefixes)


def document_problems(document: dict[str, Any], unlimited: Iterable[str] = ()) -> dict[str, Any]:
    """Rewrite a generated OpenAPI document so every error is declared as Problem Details.

    Args:
        document: The document FastAPI generated (changed in place).
        unlimited: Path prefixes outside the API rate limit (no ``429``).

    Returns:
        ``document``.
    """
    prefixes = tuple(unlimited)
    components = document.setdefault("components", {}).setdefault("schemas", {})
    components.update(_component_schemas())
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            _document_operation(path, method, operation, prefixes)
    for name in FASTAPI_VALIDATION_SCHEMAS:  # in this order: the first refers to the second
        if json.dumps(COMPONENT_REF.format(model=name)) not in json.dumps(document):
            components.pop(name, None)
    return document


def install_openapi(app: FastAPI, unlimited: Sequence[str] = ()) -> None:
    """Make ``app.openapi()`` document the chassis' Problem Details answers (see the module doc).

    Args:
        app: The application; call after its routers are included or before, the document is
            built on first use.
        unlimited: Path prefixes outside the API rate limit.
    """
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_problems(generate(), unlimited)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
