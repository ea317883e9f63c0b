"""Property-based fuzzing of identity's OpenAPI: no generated request may get a 5xx answer."""

from __future__ import annotations

import uuid

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from agora_chassis.db import create_sessionmaker
from agora_identity.main import create_app
from agora_identity.models import User
from agora_identity.settings import IdentitySettings

pytestmark = pytest.mark.integration

EXAMPLES_PER_OPERATION = 60
UNLIMITED = "1000000/minute"


@pytest.fixture(scope="module")
def fuzz_app(migrated_database, tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    """Identity with its own database; schemathesis calls it from its own event loop."""
    url = migrated_database("identity_fuzz")
    app = create_app(
        IdentitySettings(
            environment="test",
            debug=True,  # serves /openapi.json
            database_url=url,
            jwt_keys_dir=tmp_path_factory.mktemp("fuzz-keys"),
            # Limits would turn most generated logins into 429s before they reach the database.
            login_limit_per_ip=UNLIMITED,
            login_limit_per_account=UNLIMITED,
        )
    )
    # Each generated call may run on a fresh event loop: pooled connections would outlive theirs.
    app.state.engine = create_async_engine(url, poolclass=NullPool)
    app.state.sessionmaker = create_sessionmaker(app.state.engine)
    return app


def _admin_headers(app: FastAPI) -> dict[str, str]:
    """An admin bearer token, so protected endpoints are fuzzed past authentication."""
    admin = User(id=uuid.uuid4(), email="fuzz@agora.local", full_name="Fuzz", roles=["admin"])
    token = app.state.token_issuer.access_token(admin, ["admin", "profile"])
    return {"Authorization": f"Bearer {token}"}


def test_identity_api_never_answers_with_server_error(fuzz_app: FastAPI) -> None:
    headers = _admin_headers(fuzz_app)
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 7  # every documented endpoint is fuzzed

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def fuzz(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=headers, checks=[not_a_server_error])

        fuzz()
