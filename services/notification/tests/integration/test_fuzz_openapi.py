"""Property-based fuzzing of notification's OpenAPI: every answer is one the document declares."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI

from agora_notification.main import create_app
from agora_notification.settings import NotificationSettings
from agora_testing.fixtures import alembic_upgrade
from agora_testing.tokens import StaticKeys, forge_access_token
from tests.openapi_fuzz import fuzz_openapi, prepare_for_fuzzing

pytestmark = pytest.mark.integration

SERVICE_DIR = Path(__file__).resolve().parents[2]
LOOPBACK = "127.0.0.1"
EXAMPLES_PER_OPERATION = 20  # per operation and mode
DOCUMENTED_OPERATIONS = 6
UNLIMITED = "1000000/minute"
UNUSED_SMTP_PORT = 9  # discard: nothing is sent, the consumer never runs here


@pytest.fixture(scope="module")
def fuzz_app(make_database: Callable[[str], str], signing_key: Ed25519PrivateKey) -> FastAPI:
    """Notification with its own database; schemathesis calls it from its own event loops."""
    url = make_database("notification_fuzz")
    alembic_upgrade(url, SERVICE_DIR / "alembic.ini")
    settings_ = NotificationSettings(
        environment="test",
        debug=True,  # serves /openapi.json
        database_url=url,
        redis_url=None,
        broker_url=None,
        smtp_host=LOOPBACK,
        smtp_port=UNUSED_SMTP_PORT,
        rate_limit=UNLIMITED,
    )
    return prepare_for_fuzzing(create_app(settings_), url, StaticKeys(signing_key))


def test_notification_api_answers_only_what_its_openapi_declares(
    fuzz_app: FastAPI, signing_key: Ed25519PrivateKey
) -> None:
    headers = {"Authorization": f"Bearer {forge_access_token(signing_key, roles=['admin'])}"}
    fuzz_openapi(
        fuzz_app,
        headers,
        minimum_operations=DOCUMENTED_OPERATIONS,
        examples=EXAMPLES_PER_OPERATION,
    )
