"""Unit tests of the service environment."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from agora_cli.config import Ports, StackConfig
from agora_cli.env import DEV_ADMIN_PASSWORD, build_info, service_env, service_port
from agora_cli.services import BASKET, CATALOG, IDENTITY, SERVICES, find_service

DB_URL = "postgresql+asyncpg://identity:pw@127.0.0.1:15432/identity"


def test_service_env_development_sets_wiring_and_admin(tmp_path: Path) -> None:
    env = service_env(StackConfig(tmp_path), IDENTITY, DB_URL, {"PATH": "/bin"})
    assert env["PATH"] == "/bin"
    assert env["AGORA_SERVICE_NAME"] == "identity"
    assert env["AGORA_ENVIRONMENT"] == "development"
    assert env["AGORA_PORT"] == "8101"
    assert env["AGORA_DATABASE_URL"] == DB_URL
    assert env["AGORA_REDIS_URL"] == "redis://127.0.0.1:16380/0"
    assert env["AGORA_BROKER_URL"] == "nats://127.0.0.1:14222"
    assert env["AGORA_JWKS_URL"] == "http://127.0.0.1:8101/.well-known/jwks.json"
    assert env["AGORA_LOG_DIR"] == str(tmp_path / "logs" / "identity")
    assert env["AGORA_JWT_KEYS_DIR"] == str(tmp_path / "keys" / "identity")
    assert env["AGORA_TRUSTED_PROXIES"] == env["FORWARDED_ALLOW_IPS"] == "127.0.0.1/32"
    assert (env["AGORA_ADMIN_EMAIL"], env["AGORA_ADMIN_PASSWORD"]) == (
        "admin@agora.local",
        DEV_ADMIN_PASSWORD,
    )


def test_service_env_production_does_not_default_admin(tmp_path: Path) -> None:
    config = StackConfig(tmp_path, profile="production")
    env = service_env(config, IDENTITY, DB_URL, {})
    assert env["AGORA_ENVIRONMENT"] == "production"
    assert "AGORA_ADMIN_PASSWORD" not in env
    assert "AGORA_ADMIN_EMAIL" not in env


def test_service_env_production_passes_user_admin_through(tmp_path: Path) -> None:
    config = StackConfig(tmp_path, profile="production")
    env = service_env(config, IDENTITY, DB_URL, {"AGORA_ADMIN_PASSWORD": "Chosen-9x!"})
    assert env["AGORA_ADMIN_PASSWORD"] == "Chosen-9x!"


def test_service_env_user_agora_variable_passes_through(tmp_path: Path) -> None:
    env = service_env(StackConfig(tmp_path), IDENTITY, DB_URL, {"AGORA_DEBUG": "true"})
    assert env["AGORA_DEBUG"] == "true"


def test_service_env_stack_wiring_wins_over_user_values(tmp_path: Path) -> None:
    user = {"AGORA_PORT": "1", "AGORA_DATABASE_URL": "sqlite://", "AGORA_ENVIRONMENT": "x"}
    env = service_env(StackConfig(tmp_path), IDENTITY, DB_URL, user)
    assert (env["AGORA_PORT"], env["AGORA_DATABASE_URL"]) == ("8101", DB_URL)
    assert env["AGORA_ENVIRONMENT"] == "development"


def test_service_env_user_trusted_proxies_replace_the_gateway(tmp_path: Path) -> None:
    user = {"AGORA_TRUSTED_PROXIES": "10.0.0.0/8", "FORWARDED_ALLOW_IPS": "*"}
    env = service_env(StackConfig(tmp_path), IDENTITY, DB_URL, user)
    assert env["AGORA_TRUSTED_PROXIES"] == "10.0.0.0/8"
    assert env["FORWARDED_ALLOW_IPS"] == "10.0.0.0/8"  # uvicorn trusts exactly the same proxies


def test_service_env_custom_ports_reach_urls(tmp_path: Path) -> None:
    config = StackConfig(tmp_path, Ports(redis=46379, nats=44222, service_base=9101))
    env = service_env(config, IDENTITY, DB_URL, {})
    assert env["AGORA_REDIS_URL"] == "redis://127.0.0.1:46379/0"
    assert env["AGORA_BROKER_URL"] == "nats://127.0.0.1:44222"
    assert env["AGORA_JWKS_URL"] == "http://127.0.0.1:9101/.well-known/jwks.json"
    assert service_port(config, IDENTITY) == 9101


def test_registry_services_have_distinct_ports_and_redis_dbs() -> None:
    assert len({s.port_offset for s in SERVICES}) == len(SERVICES)
    assert len({s.redis_db for s in SERVICES}) == len(SERVICES)


def test_find_service_unknown_name_returns_none() -> None:
    assert find_service("identity") is IDENTITY
    assert find_service("nope") is None


def test_build_info_in_checkout_names_commit_and_time() -> None:
    info = build_info()
    assert set(info) == {"AGORA_COMMIT", "AGORA_BUILD_TIME"}
    assert len(info["AGORA_COMMIT"]) >= 7
    assert info["AGORA_BUILD_TIME"][:2] == "20"


def test_build_info_outside_checkout_is_empty(tmp_path: Path) -> None:
    assert build_info(tmp_path) == {}


def test_service_env_smtp_points_at_mail_sink(tmp_path: Path) -> None:
    env = service_env(StackConfig(tmp_path, Ports(smtp=12025)), IDENTITY, DB_URL, {})
    assert (env["AGORA_SMTP_HOST"], env["AGORA_SMTP_PORT"]) == ("127.0.0.1", "12025")


def test_service_env_without_a_database_sets_no_database_url(tmp_path: Path) -> None:
    no_database = dataclasses.replace(BASKET, database=None, alembic_ini=None)
    env = service_env(StackConfig(tmp_path, Ports()), no_database, None, {})
    assert "AGORA_DATABASE_URL" not in env


def test_service_env_basket_gets_its_database_and_catalogs_grpc_target(tmp_path: Path) -> None:
    config = StackConfig(tmp_path, Ports(grpc_base=19101))
    env = service_env(config, BASKET, DB_URL, {})
    assert env["AGORA_DATABASE_URL"] == DB_URL
    assert env["AGORA_CATALOG_GRPC_TARGET"] == f"127.0.0.1:{19101 + CATALOG.port_offset}"
    assert env["AGORA_GRPC_PORT"] == str(19101 + BASKET.port_offset)
    assert env["AGORA_SERVICE_CLIENT_ID"] == "basket"
    assert env["AGORA_SERVICE_CLIENT_SECRET"]


def test_service_env_paysim_url_points_at_the_simulator(tmp_path: Path) -> None:
    env = service_env(StackConfig(tmp_path, Ports(paysim=23090)), IDENTITY, DB_URL, {})
    assert env["AGORA_PAYSIM_URL"] == "http://127.0.0.1:23090"


def test_service_env_storefront_gets_every_called_service_url_and_the_mail_view(
    tmp_path: Path,
) -> None:
    config = StackConfig(tmp_path, Ports(service_base=28101, gateway_admin=28080))
    storefront = find_service("storefront")
    assert storefront is not None
    env = service_env(config, storefront, None, {})
    assert "AGORA_DATABASE_URL" not in env, "the storefront keeps no data"
    for name in storefront.http_targets:
        called = find_service(name)
        assert called is not None
        assert env[f"AGORA_{name.upper()}_URL"] == f"http://127.0.0.1:{28101 + called.port_offset}"
    assert env["AGORA_MAIL_URL"] == "http://127.0.0.1:28080/mail"
    production = dataclasses.replace(config, profile="production")
    assert "AGORA_MAIL_URL" not in service_env(production, storefront, None, {}), "no mail view"
    assert "AGORA_CATALOG_URL" not in service_env(config, BASKET, DB_URL, {})
