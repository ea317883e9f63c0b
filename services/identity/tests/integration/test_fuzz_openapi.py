"""Property-based fuzzing of identity's OpenAPI: every answer is one the document declares."""

from __future__ import annotations

import uuid

import pytest
from fastapi import FastAPI

from agora_identity.api.deps import identity_state
from agora_identity.main import create_app
from agora_identity.models import User
from agora_identity.settings import IdentitySettings
from tests.openapi_fuzz import fuzz_openapi, prepare_for_fuzzing

pytestmark = pytest.mark.integration

EXAMPLES_PER_OPERATION = 20  # per operation and mode
DOCUMENTED_OPERATIONS = 7
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
    return prepare_for_fuzzing(app, url)


def _admin_headers(app: FastAPI) -> dict[str, str]:
    """An admin bearer token, so protected endpoints are fuzzed past authentication."""
    admin = User(id=uuid.uuid4(), email="fuzz@agora.local", full_name="Fuzz", roles=["admin"])
    token = identity_state(app).token_issuer.access_token(admin, ["admin", "profile"])
    return {"Authorization": f"Bearer {token}"}


def test_identity_api_answers_only_what_its_openapi_declares(fuzz_app: FastAPI) -> None:
    fuzz_openapi(
        fuzz_app,
        _admin_headers(fuzz_app),
        minimum_operations=DOCUMENTED_OPERATIONS,
        examples=EXAMPLES_PER_OPERATION,
    )
