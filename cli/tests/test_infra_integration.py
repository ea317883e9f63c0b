"""Integration tests: each embedded server really starts on a free port and stops again."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import httpx
import pytest

from agora_cli.infra.gateway import Gateway, Upstream
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
        assert pg.is_running()
        assert (
            url == again == f"postgresql+asyncpg://shop_owner:s3cret%27pw@127.0.0.1:{pg.port}/shop"
        )
        assert owner.strip() == "shop_owner"
        assert "citext" in extensions.split()
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


def test_gateway_routes_ops_paths_with_prefix_stripped(open_tmp_dir: Path) -> None:
    backend_port = free_port()
    gateway = Gateway(
        open_tmp_dir / "gw",
        free_port(),
        free_port(),
        open_tmp_dir / "logs",
        open_tmp_dir / "g.pid",
        [Upstream("identity", backend_port, "PathPrefix(`/api/v1/auth`)")],
    )
    gateway.start()
    try:
        routers = httpx.get(f"http://127.0.0.1:{gateway.admin_port}/api/http/routers").json()
        # No backend listens, so a routed path answers 502 while an unknown one answers 404.
        routed = httpx.get(f"{gateway.url}/identity/health/ready").status_code
        unrouted = httpx.get(f"{gateway.url}/nowhere").status_code
    finally:
        gateway.stop()
    names = {router["name"] for router in routers}
    assert {"identity-api@file", "identity-ops@file"} <= names
    assert (routed, unrouted) == (502, 404)
    assert not gateway.is_running()
