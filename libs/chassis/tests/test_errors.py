"""Every error becomes RFC 9457 Problem Details."""

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm.exc import StaleDataError

from agora_chassis.errors import (
    NotFound,
    PreconditionFailed,
    TooManyRequests,
    Unauthorized,
    install_error_handlers,
)


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    quantity: int


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/missing")
    async def missing() -> None:
        raise NotFound("No widget 7.")

    @app.get("/limited")
    async def limited() -> None:
        raise TooManyRequests(retry_after=0)

    @app.get("/login")
    async def login() -> None:
        raise Unauthorized()

    @app.get("/stale")
    async def stale() -> None:
        raise StaleDataError("version mismatch")

    @app.get("/stale-etag")
    async def stale_etag() -> None:
        raise PreconditionFailed("ETag does not match.")

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("database password is hunter2")

    @app.post("/items")
    async def create(item: Item) -> Item:
        return item

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        yield client


async def test_domain_error_renders_problem_details(client: httpx.AsyncClient) -> None:
    response = await client.get("/missing")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": "https://agora.dev/problems/not-found",
        "title": "Not found",
        "status": 404,
        "detail": "No widget 7.",
        "instance": "/missing",
    }


async def test_too_many_requests_sets_retry_after_at_least_one(client) -> None:
    response = await client.get("/limited")
    assert (response.status_code, response.headers["Retry-After"]) == (429, "1")


async def test_unauthorized_sets_www_authenticate(client) -> None:
    response = await client.get("/login")
    assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_stale_data_becomes_409(client) -> None:
    assert (await client.get("/stale")).status_code == 409


async def test_precondition_failed_becomes_412(client) -> None:
    assert (await client.get("/stale-etag")).status_code == 412


async def test_unexpected_error_is_500_without_internals(client) -> None:
    response = await client.get("/boom")
    assert response.status_code == 500
    assert "hunter2" not in response.text
    assert response.json()["title"] == "Internal server error"


async def test_validation_error_lists_each_field(client) -> None:
    response = await client.post("/items", json={"name": 1, "quantity": "x", "extra": True})
    assert response.status_code == 422
    fields = sorted(error["field"] for error in response.json()["errors"])
    assert fields == ["extra", "name", "quantity"]


async def test_malformed_json_is_400(client) -> None:
    response = await client.post(
        "/items", content=b"{", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400


async def test_unknown_route_is_problem_404(client) -> None:
    response = await client.get("/nowhere")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_wrong_method_is_problem_405(client) -> None:
    response = await client.delete("/missing")
    assert response.status_code == 405
    assert response.json()["title"] == "Method Not Allowed"


async def test_unexpected_error_is_answered_inside_the_app_not_reraised() -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("bug")

    # raise_app_exceptions defaults to True: a re-raised error would surface here.
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as c:
        response = await c.get("/boom")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
