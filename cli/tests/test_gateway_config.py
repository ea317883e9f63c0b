"""Unit tests of the generated Traefik configuration."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from agora_cli.infra.gateway import (
    MAIL_UPSTREAM_RULE,
    Upstream,
    dynamic_config,
    gateway_procs,
    static_config,
    traefik_env,
    write_config,
)
from agora_cli.services import IDENTITY, find_service

API_RULE = IDENTITY.gateway_rule


def test_dynamic_config_api_router_keeps_paths_unstripped() -> None:
    http = dynamic_config([Upstream("identity", 8101, API_RULE)])["http"]
    api = http["routers"]["identity-api"]
    assert api["rule"] == API_RULE
    assert api["entryPoints"] == ["web"]
    assert "middlewares" not in api
    assert http["services"]["identity"]["loadBalancer"]["servers"] == [
        {"url": "http://127.0.0.1:8101"}
    ]


def test_dynamic_config_ops_router_strips_service_prefix() -> None:
    http = dynamic_config([Upstream("identity", 8101, API_RULE)])["http"]
    ops = http["routers"]["identity-ops"]
    assert ops["rule"] == (
        "Path(`/identity/health`) || Path(`/identity/health/ready`) || Path(`/identity/metrics`)"
        " || PathPrefix(`/identity/api/v1/admin/`)"
    )
    assert ops["middlewares"] == ["identity-strip"]
    assert ops["entryPoints"] == ["operator"]  # never on the public entrypoint
    assert http["middlewares"]["identity-strip"] == {"stripPrefix": {"prefixes": ["/identity"]}}


def test_dynamic_config_no_upstreams_serves_only_the_dashboard_on_the_operator_entrypoint() -> None:
    assert dynamic_config([]) == {
        "http": {
            "routers": {
                "dashboard": {
                    "rule": "PathPrefix(`/api`) || PathPrefix(`/dashboard`)",
                    "service": "api@internal",
                    "entryPoints": ["operator"],
                }
            }
        }
    }


def test_dynamic_config_with_error_service_answers_unknown_paths_and_upstream_down() -> None:
    http = dynamic_config([Upstream("identity", 8101, API_RULE)], errors_port=18081)["http"]
    routers, middlewares = http["routers"], http["middlewares"]
    assert routers["not-found"] == {
        "rule": "PathPrefix(`/`)",
        "priority": 1,
        "service": "gateway-errors",
        "entryPoints": ["web", "operator"],
        "middlewares": ["not-found-path"],
    }
    assert middlewares["not-found-path"] == {"replacePath": {"path": "/404"}}
    assert routers["identity-api"]["middlewares"] == ["upstream-down"]
    assert routers["identity-ops"]["middlewares"] == ["upstream-down", "identity-strip"]
    assert routers["dashboard"]["middlewares"] == ["internal-errors"]
    assert middlewares["upstream-down"] == {
        "errors": {
            "status": ["502", "504"],  # never a service's own 503, 404 or 405
            "service": "gateway-errors",
            "query": "/{status}?url={url}",
        }
    }
    assert middlewares["internal-errors"]["errors"]["status"] == ["404", "405"]
    assert http["services"]["gateway-errors"] == {
        "loadBalancer": {"servers": [{"url": "http://127.0.0.1:18081"}]}
    }


def test_identity_rule_covers_auth_users_and_jwks() -> None:
    assert "PathPrefix(`/api/v1/auth`)" in API_RULE
    assert "PathPrefix(`/api/v1/users`)" in API_RULE
    assert "Path(`/.well-known/jwks.json`)" in API_RULE


def test_static_config_binds_loopback_and_separates_ping(tmp_path: Path) -> None:
    config = static_config(8080, 18080, tmp_path / "dynamic.yaml", tmp_path / "access.log")
    entrypoints = config["entryPoints"]
    assert entrypoints["web"]["address"] == "127.0.0.1:8080"
    assert entrypoints["operator"]["address"] == "127.0.0.1:18080"
    assert config["ping"] == {"entryPoint": "operator"}
    assert config["api"] == {"dashboard": True}  # not insecure: routed on the operator only
    assert config["accessLog"]["filePath"] == str(tmp_path / "access.log")
    # The request id is the one header logged: it joins the line to the service's own logs.
    assert config["accessLog"]["fields"]["headers"] == {
        "defaultMode": "drop",
        "names": {"X-Request-Id": "keep"},
    }
    fields = config["accessLog"]["fields"]
    assert fields["defaultMode"] == "drop"
    assert {"StartUTC", "Duration", "RequestPath", "DownstreamStatus"} <= set(fields["names"])
    assert config["providers"]["file"]["filename"] == str(tmp_path / "dynamic.yaml")
    assert config["global"]["sendAnonymousUsage"] is False


def test_write_config_writes_json_readable_back(tmp_path: Path) -> None:
    target = tmp_path / "conf" / "dynamic.yaml"
    write_config(target, {"http": {"routers": {}}})
    assert json.loads(target.read_text()) == {"http": {"routers": {}}}
    assert not target.with_suffix(".tmp").exists()


def test_dynamic_config_mail_upstream_routes_mail_unstripped_on_the_operator_entrypoint() -> None:
    upstream = Upstream("mail", 18025, MAIL_UPSTREAM_RULE, ops=False, public=False)
    http = dynamic_config([upstream])["http"]
    assert http["routers"]["mail-api"] == {
        "rule": "Path(`/mail`) || PathPrefix(`/mail/`)",
        "service": "mail",
        "entryPoints": ["operator"],
    }
    assert set(http["routers"]) == {"mail-api", "dashboard"}
    assert "middlewares" not in http
    assert upstream.router_names() == {"mail-api@file"}


@pytest.fixture
def two_cpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "process_cpu_count", lambda: 2)


@pytest.mark.usefixtures("two_cpus")
def test_traefik_collects_garbage_less_often_unless_told_otherwise() -> None:
    assert traefik_env({"PATH": "/bin"}) == {
        "PATH": "/bin",
        "GOGC": "400",
        "GOMEMLIMIT": "64MiB",
        "GOMAXPROCS": "1",
    }
    assert traefik_env({"GOGC": "off"})["GOGC"] == "off"
    assert traefik_env({"GOMEMLIMIT": "1GiB"})["GOMEMLIMIT"] == "1GiB"


@pytest.mark.parametrize(
    ("cpus", "procs"), [(None, 1), (1, 1), (2, 1), (3, 1), (4, 2), (8, 4), (64, 32)]
)
def test_traefik_runs_go_on_half_the_cpus_and_at_least_one(
    cpus: int | None, procs: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert gateway_procs(cpus) == procs
    monkeypatch.setattr(os, "process_cpu_count", lambda: cpus)  # the CPUs this process may use
    assert traefik_env({})["GOMAXPROCS"] == str(procs)


@pytest.mark.usefixtures("two_cpus")
def test_a_gomaxprocs_of_ones_own_wins() -> None:
    assert traefik_env({"GOMAXPROCS": "6"})["GOMAXPROCS"] == "6"


def test_storefront_serves_every_page_but_the_api_just_above_the_catch_all_404() -> None:
    storefront = find_service("storefront")
    assert storefront is not None
    upstream = Upstream("storefront", 8107, storefront.gateway_rule, priority=2)
    routers = dynamic_config([upstream], errors_port=18081)["http"]["routers"]
    assert routers["storefront-api"]["priority"] == 2
    assert routers["storefront-api"]["priority"] > routers["not-found"]["priority"]
    assert "!PathPrefix(`/api/`)" in routers["storefront-api"]["rule"]
    assert (
        "priority"
        not in dynamic_config([Upstream("x", 1, "Path(`/x`)")])["http"]["routers"]["x-api"]
    ), "other routes keep Traefik's default (their rule's length)"
