"""Every endpoint and dependency of catalog is awaited: none costs a hop to the thread pool."""

from __future__ import annotations

from agora_catalog.main import create_app
from agora_catalog.settings import CatalogSettings
from libs.chassis.tests.async_dependencies import dependency_names, sync_dependencies


def test_catalog_app_dependencies_all_run_on_the_event_loop() -> None:
    app = create_app(CatalogSettings(environment="test", redis_url=None, broker_url=None))

    assert sync_dependencies(app) == []
    assert "agora_catalog.api.deps.product_service" in dependency_names(app)  # the walk got there
