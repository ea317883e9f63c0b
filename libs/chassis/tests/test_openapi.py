"""The OpenAPI document declares every error the chassis answers, as Problem Details."""

from typing import Any

import pytest
import schemathesis
from fastapi import APIRouter, FastAPI, status
from pydantic import BaseModel, Field
from schemathesis.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from agora_chassis.app import create_service_app
from agora_chassis.errors import PROBLEM_JSON, NotFound
from agora_chassis.openapi import not_modified, problem_responses
from agora_chassis.settings import ServiceSettings

UNREACHABLE_DATABASE = "postgresql+asyncpg://nobody:x@127.0.0.1:1/none"
SMALL_BODY_LIMIT = 64
CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance]
PROBLEM_SCHEMA = {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}
VALIDATION_SCHEMA = {"schema": {"$ref": "#/components/schemas/ValidationProblem"}}


class Thing(BaseModel):
    name: str = Field(max_length=10)


router = APIRouter(prefix="/api/v1/things")


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={status.HTTP_409_CONFLICT: {"content": {PROBLEM_JSON: {}}}},  # the bare form
)
async def create_thing(thing: Thing) -> Thing:
    return thing


@router.get(
    "/{number}", responses={**not_modified(), **problem_responses(status.HTTP_404_NOT_FOUND)}
)
async def read_thing(number: int) -> Thing:
    raise NotFound(f"no thing {number}")


def _app(rate_limit: str = "1000/minute") -> FastAPI:
    settings = ServiceSettings.model_validate(
        {
            "service_name": "demo",
            "database_url": UNREACHABLE_DATABASE,
            "debug": True,
            "max_body_bytes": SMALL_BODY_LIMIT,
            "rate_limit": rate_limit,
        }
    )
    return create_service_app(settings, title="demo", routers=[router])


def _responses(app: FastAPI, path: str, method: str) -> dict[str, Any]:
    responses: dict[str, Any] = app.openapi()["paths"][path][method]["responses"]
    return responses


def test_openapi_validation_error_is_documented_as_validation_problem() -> None:
    app = _app()

    responses = _responses(app, "/api/v1/things/{number}", "get")

    assert responses["422"]["content"] == {PROBLEM_JSON: VALIDATION_SCHEMA}
    assert "HTTPValidationError" not in app.openapi()["components"]["schemas"]
    assert "ValidationError" not in app.openapi()["components"]["schemas"]


def test_openapi_route_declared_error_is_problem_details() -> None:
    responses = _responses(_app(), "/api/v1/things/{number}", "get")

    assert responses["404"]["content"] == {PROBLEM_JSON: PROBLEM_SCHEMA}


def test_openapi_bare_problem_content_gets_the_problem_details_schema() -> None:
    responses = _responses(_app(), "/api/v1/things", "post")

    assert responses["409"]["content"] == {PROBLEM_JSON: PROBLEM_SCHEMA}


def test_openapi_not_modified_is_documented_without_a_body() -> None:
    responses = _responses(_app(), "/api/v1/things/{number}", "get")

    assert "content" not in responses["304"]


def test_openapi_unauthorized_documents_www_authenticate() -> None:
    [unauthorized] = problem_responses(status.HTTP_401_UNAUTHORIZED).values()

    assert "WWW-Authenticate" in unauthorized["headers"]


def test_openapi_body_operation_documents_unparseable_and_too_large() -> None:
    responses = _responses(_app(), "/api/v1/things", "post")

    assert {"400", "413"} <= set(responses)
    assert responses["400"]["content"] == {PROBLEM_JSON: PROBLEM_SCHEMA}


def test_openapi_operation_without_body_documents_no_400() -> None:
    assert "400" not in _responses(_app(), "/api/v1/things/{number}", "get")


def test_openapi_rate_limited_paths_document_429_with_retry_after() -> None:
    app = _app()

    limited = _responses(app, "/api/v1/things/{number}", "get")
    unlimited = _responses(app, "/health", "get")

    assert "Retry-After" in limited["429"]["headers"]
    assert "429" not in unlimited


@pytest.mark.parametrize("path", ["/api/v1/things/{number}", "/health"])
def test_openapi_every_operation_documents_500_and_504(path: str) -> None:
    assert {"500", "504"} <= set(_responses(_app(), path, "get"))


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "expected"),
    [
        ("GET", "/api/v1/things/{number}", {"path_parameters": {"number": 7}}, 404),
        ("GET", "/api/v1/things/{number}", {"path_parameters": {"number": "seven"}}, 422),
        ("POST", "/api/v1/things", {"body": {"name": "x" * 11}}, 422),
        ("POST", "/api/v1/things", {"body": b'{"name": ', "media_type": "application/json"}, 400),
        ("POST", "/api/v1/things", {"body": {"name": "x" * SMALL_BODY_LIMIT}}, 413),
    ],
)
def test_openapi_chassis_answers_conform_to_the_document(
    method: str, path: str, kwargs: dict[str, Any], expected: int
) -> None:
    operation = schemathesis.openapi.from_asgi("/openapi.json", _app())[path][method]

    response = operation.Case(**kwargs).call_and_validate(checks=CHECKS)

    assert response.status_code == expected


def test_openapi_rate_limit_answer_conforms_to_the_document() -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", _app(rate_limit="1/minute"))
    case = schema["/api/v1/things/{number}"]["GET"].Case(path_parameters={"number": 1})
    case.call()  # spends the budget

    assert case.call_and_validate(checks=CHECKS).status_code == status.HTTP_429_TOO_MANY_REQUESTS
