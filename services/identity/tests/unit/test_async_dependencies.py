"""Every endpoint and dependency of identity is awaited: none costs a hop to the thread pool."""

from __future__ import annotations

from pathlib import Path

from agora_identity.main import create_app
from agora_identity.settings import IdentitySettings
from libs.chassis.tests.async_dependencies import dependency_names, sync_dependencies


def test_identity_app_dependencies_all_run_on_the_event_loop(tmp_path: Path) -> None:
    settings = IdentitySettings(environment="test", redis_url=None, jwt_keys_dir=tmp_path)
    app = create_app(settings)

    assert sync_dependencies(app) == []
    assert "agora_identity.api.deps.user_service" in dependency_names(app)  # the walk got there
