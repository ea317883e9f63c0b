"""The typed application state: one accessor, a clear error on an app the chassis did not build."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI, Request

from agora_chassis.app import create_service_app
from agora_chassis.auth import CurrentPrincipal
from agora_chassis.db import DbSession
from agora_chassis.settings import ServiceSettings
from agora_chassis.state import (
    ServiceStateError,
    attach_extras,
    service_extras,
    service_settings,
    service_state,
)

UNREACHABLE_DATABASE = "postgresql+asyncpg://agora:x@127.0.0.1:1/agora"


class DemoSettings(ServiceSettings):
    """A service's own settings class."""

    greeting: str = "hello"


@dataclass
class DemoExtras:
    """A service's own resources."""

    greeting: str


@dataclass
class OtherExtras:
    """Resources another service would keep."""


def _service_app() -> FastAPI:
    settings = DemoSettings(service_name="demo", database_url=UNREACHABLE_DATABASE)
    return create_service_app(settings, title="demo", routers=[])


def test_service_state_of_a_service_app_is_typed_and_shared_by_its_requests() -> None:
    app = _service_app()
    request = Request({"type": "http", "app": app})

    state = service_state(app)

    assert service_state(request) is state
    assert state.settings.service_name == "demo"
    assert state.messaging.broker is None  # no AGORA_BROKER_URL
    assert state.consumer is None


def test_service_state_of_a_bare_app_raises_a_clear_error() -> None:
    bare = FastAPI()

    with pytest.raises(ServiceStateError, match="create_service_app"):
        service_state(bare)
    with pytest.raises(ServiceStateError, match="create_service_app"):
        service_state(Request({"type": "http", "app": bare}))


def test_service_settings_returns_the_services_own_class_or_raises() -> None:
    app = _service_app()

    assert service_settings(app, DemoSettings).greeting == "hello"
    with pytest.raises(ServiceStateError, match="DemoSettings"):
        service_settings(create_service_app(ServiceSettings(), title="x", routers=[]), DemoSettings)


def test_service_extras_are_read_back_by_their_type_or_raise() -> None:
    app = _service_app()
    extras = attach_extras(app, DemoExtras("hi"))

    assert service_extras(app, DemoExtras) is extras
    with pytest.raises(ServiceStateError, match="no OtherExtras attached"):
        service_extras(app, OtherExtras)


async def test_chassis_dependency_on_a_bare_app_fails_naming_the_missing_state() -> None:
    app = FastAPI()

    @app.get("/count")
    async def count(session: DbSession) -> None:
        """Never reached: the transaction dependency needs the state."""

    @app.get("/me")
    async def me(principal: CurrentPrincipal) -> None:
        """Never reached: the token check needs the state."""

    transport = httpx.ASGITransport(app, raise_app_exceptions=True)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        for path in ("/count", "/me"):
            with pytest.raises(ServiceStateError, match="holds no ServiceState"):
                await client.get(path)
