"""Integration tests: each embedded server really starts on a free port and stops again."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import asyncpg
import httpx
import psutil
import pytest

from agora_cli.infra.gateway import MAIL_UPSTREAM_RULE, Gateway, Upstream
from agora_cli.infra.gateway_errors import GatewayErrors
from agora_cli.infra.mailsink import EmbeddedMailSink
from agora_cli.infra.nats import EmbeddedNats
from agora_cli.infra.ports import free_port, port_accepts
from agora_cli.infra.postgres import EmbeddedPostgres
from agora_cli.infra.redis import EmbeddedRedis

pytestmark = pytest.mark.integration


def test_postgres_start_ensure_database_stop_round_trip(open_tmp_dir: Path) -> None:
    pg = EmbeddedPostgres(open_tmp_dir / "pg", free_port(), open_tmp_dir / "pg.log")
    pg.start()
    try:
        url = pg.ensure_database("shop", "shop_owner", "s3cret'pw", ["citext"])
        again = pg.ensure_database("shop", "shop_owner", "s3cret'pw", ["citext"])
        owner = pg.psql("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'shop'")
        extensions = pg.psql("SELECT extname FROM pg_extension ORDER BY 1", database="shop")
        connections = pg.psql("SHOW max_connections")
        assert pg.is_running()
        assert (
            url == again == f"postgresql+asyncpg://shop_owner:s3cret%27pw@127.0.0.1:{pg.port}/shop"
        )
        assert owner.strip() == "shop_owner"
        assert "citext" in extensions.split()
        assert int(connections) >= 300, f"room for 20 connections a service: {connections}"
    finally:
        pg.stop()
    assert not pg.is_running()
    assert not port_accepts(pg.port)


def test_postgres_tcp_login_needs_the_role_password(open_tmp_dir: Path) -> None:
    pg = EmbeddedPostgres(open_tmp_dir / "pg", free_port(), open_tmp_dir / "pg.log")
    pg.start()
    try:
        url = pg.ensure_database("shop", "shop_owner", "right-password")

        async def connect(dsn: str) -> None:
            connection = await asyncpg.connect(dsn.replace("+asyncpg", ""))
            await connection.close()

        asyncio.run(connect(url))
        with pytest.raises(asyncpg.InvalidPasswordError):
            asyncio.run(connect(url.replace("right-password", "wrong-password")))
    finally:
        pg.stop()


def test_postgres_restart_keeps_data(open_tmp_dir: Path) -> None:
    pg = EmbeddedPostgres(open_tmp_dir / "pg", free_port(), open_tmp_dir / "pg.log")
    pg.start()
    pg.ensure_database("kept", "kept", "pw")
    pg.stop()
    pg.start()
    try:
        names = pg.psql("SELECT datname FROM pg_database").split()
    finally:
        pg.stop()
    assert "kept" in names


def test_redis_start_ping_stop(open_tmp_dir: Path) -> None:
    redis = EmbeddedRedis(
        open_tmp_dir / "redis", free_port(), open_tmp_dir / "redis.log", open_tmp_dir / "r.pid"
    )
    redis.start()
    try:
        assert redis.healthy()
    finally:
        redis.stop()
    assert not redis.is_running()
    assert not port_accepts(redis.port)


def test_nats_start_healthz_stop(open_tmp_dir: Path) -> None:
    nats = EmbeddedNats(
        open_tmp_dir / "nats",
        free_port(),
        free_port(),
        open_tmp_dir / "nats.log",
        open_tmp_dir / "n.pid",
    )
    nats.start()
    try:
        assert nats.healthy()
        assert port_accepts(nats.port)
    finally:
        nats.stop()
    assert not nats.is_running()


class MetricsHandler(BaseHTTPRequestHandler):
    """A backend answering ``/metrics`` (after the gateway stripped ``/catalog``)."""

    def do_GET(self) -> None:
        found = self.path == "/metrics"
        self.send_response(200 if found else 404)
        self.end_headers()
        self.wfile.write(b"agora_up 1\n" if found else b"")

    def log_message(self, *_args: object) -> None:
        """Quiet."""


@pytest.fixture
def metrics_backend() -> Iterator[int]:
    """A real HTTP server standing in for a service; yields its port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), MetricsHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture
def gateway_stack(open_tmp_dir: Path, metrics_backend: int) -> Iterator[Gateway]:
    """Traefik with its error service, the mail sink on the operator entrypoint, a ``catalog``
    backend that answers and an ``identity`` one that is down."""
    errors = GatewayErrors(free_port(), open_tmp_dir / "errors.log", open_tmp_dir / "errors.pid")
    mail = EmbeddedMailSink(
        open_tmp_dir / "mail",
        free_port(),
        free_port(),
        open_tmp_dir / "mail.log",
        open_tmp_dir / "mail.pid",
    )
    upstreams = [
        Upstream("identity", free_port(), "PathPrefix(`/api/v1/auth`)"),
        Upstream("catalog", metrics_backend, "PathPrefix(`/api/v1/products`)"),
        Upstream("mail", mail.http_port, MAIL_UPSTREAM_RULE, ops=False, public=False),
    ]
    gateway = Gateway(
        open_tmp_dir / "gw",
        free_port(),
        free_port(),
        open_tmp_dir / "logs",
        open_tmp_dir / "g.pid",
        upstreams,
        errors_port=errors.port,
    )
    started = []
    try:
        for component in (errors, mail, gateway):
            component.start()
            started.append(component)
        yield gateway
    finally:
        for component in reversed(started):
            component.stop()


def assert_problem(response: httpx.Response, status: int, instance: str) -> None:
    """``response`` is a Problem Details answer with ``status`` about ``instance``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert {"type", "title", "status", "detail", "instance"} <= set(body)
    assert (body["status"], body["instance"]) == (status, instance)


def test_gateway_public_entrypoint_hides_operational_paths(gateway_stack: Gateway) -> None:
    public = gateway_stack.url
    for path in ("/catalog/metrics", "/mail", "/identity/health/ready", "/dashboard/", "/nowhere"):
        assert_problem(httpx.get(f"{public}{path}"), 404, path)
    assert_problem(httpx.post(f"{public}/api/http/routers"), 404, "/api/http/routers")


def test_gateway_operator_entrypoint_serves_metrics_mail_and_dashboard(
    gateway_stack: Gateway,
) -> None:
    operator = gateway_stack.operator_url
    metrics = httpx.get(f"{operator}/catalog/metrics")
    mail = httpx.get(f"{operator}/mail/api/messages")
    dashboard = httpx.get(f"{operator}/dashboard/")

    assert (metrics.status_code, metrics.text) == (200, "agora_up 1\n")
    assert (mail.status_code, mail.json()["total"]) == (200, 0)
    assert dashboard.status_code == 200
    assert_problem(httpx.get(f"{operator}/nowhere"), 404, "/nowhere")
    assert_problem(httpx.delete(f"{operator}/api/http/routers"), 405, "/api/http/routers")


def test_gateway_upstream_down_is_problem_details_on_both_entrypoints(
    gateway_stack: Gateway,
) -> None:
    api = httpx.post(f"{gateway_stack.url}/api/v1/auth/token")
    ops = httpx.get(f"{gateway_stack.operator_url}/identity/health/ready")

    assert_problem(api, 502, "/api/v1/auth/token")
    assert api.headers["retry-after"] == "5"
    assert_problem(ops, 502, "/identity/health/ready")


def test_gateway_operator_entrypoint_listens_on_loopback_only(gateway_stack: Gateway) -> None:
    listeners = {
        (c.laddr.ip, c.laddr.port)
        for c in psutil.net_connections(kind="inet")
        if c.status == "LISTEN" and c.laddr.port == gateway_stack.operator_port
    }
    assert listeners == {("127.0.0.1", gateway_stack.operator_port)}
