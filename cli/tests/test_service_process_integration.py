"""Integration tests of a supervised service: real PostgreSQL, uvicorn and alembic, fake app."""

from __future__ import annotations

import shutil
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agora_cli import service_process
from agora_cli.config import Ports, StackConfig
from agora_cli.infra.ports import free_port, port_accepts
from agora_cli.infra.postgres import EmbeddedPostgres
from agora_cli.service_process import (
    HTTP_GRACEFUL_SHUTDOWN_SECONDS,
    STOP_TIMEOUT_SECONDS,
    ServiceError,
    ServiceProcess,
    uvicorn_argv,
)
from agora_cli.services import IDENTITY, ServiceSpec

pytestmark = pytest.mark.integration

FAKE_APP = textwrap.dedent("""
    import asyncio, json, os
    from pathlib import Path

    if os.environ.get("FAKE_MODE") == "crash":
        raise RuntimeError("fake app refuses to import")

    SLOW_SECONDS = 2

    def create_app():
        async def app(scope, receive, send):
            if scope["type"] == "lifespan":
                while True:
                    message = await receive()
                    if message["type"] == "lifespan.startup":
                        await send({"type": "lifespan.startup.complete"})
                    else:
                        await send({"type": "lifespan.shutdown.complete"})
                        return
            if scope["path"] == "/slow":  # in flight for a while; says when it has begun
                Path(os.environ["AGORA_LOG_DIR"], "slow-started").touch()
                await asyncio.sleep(SLOW_SECONDS)
                await send({"type": "http.response.start", "status": 200, "headers": []})
                await send({"type": "http.response.body", "body": b"finished"})
                return
            ready = os.environ.get("FAKE_MODE") != "unready"
            status = 200 if scope["path"] == "/env" or ready else 503
            env = {k: v for k, v in os.environ.items() if k.startswith("AGORA_")}
            await send({"type": "http.response.start", "status": status, "headers": []})
            await send({"type": "http.response.body", "body": json.dumps(env).encode()})
        return app
    """)
FAKE_REVISION = 'revision = "0001"\ndown_revision = None\n'
FAKE_ENV_PY = textwrap.dedent("""
    import os
    from pathlib import Path

    if os.environ.get("FAKE_MIGRATION") == "fail":
        raise RuntimeError("fake migration failed")
    Path(os.environ["AGORA_LOG_DIR"], "migrated").write_text(os.environ["AGORA_DATABASE_URL"])
    """)


@pytest.fixture(scope="module")
def postgres() -> Iterator[EmbeddedPostgres]:
    """One PostgreSQL for the module (starting one per test would dominate the run time)."""
    root = Path(tempfile.mkdtemp(prefix="agora-svc-", dir="/tmp"))
    root.chmod(0o755)
    server = EmbeddedPostgres(root / "pg", free_port(), root / "pg.log")
    server.start()
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def fake_service(open_tmp_dir: Path, postgres: EmbeddedPostgres) -> Iterator[ServiceProcess]:
    """A ServiceProcess for the fake app, stopped after the test."""
    (open_tmp_dir / "fakeapp.py").write_text(FAKE_APP)
    (open_tmp_dir / "migrations" / "versions").mkdir(parents=True)
    (open_tmp_dir / "migrations" / "env.py").write_text(FAKE_ENV_PY)
    (open_tmp_dir / "migrations" / "versions" / "0001_fake.py").write_text(FAKE_REVISION)
    ini = open_tmp_dir / "alembic.ini"
    ini.write_text(f"[alembic]\nscript_location = {open_tmp_dir / 'migrations'}\n")
    spec = ServiceSpec(
        name="fake",
        package="fakeapp",
        app="fakeapp:create_app",
        port_offset=0,
        database="fake",
        extensions=("citext",),
        alembic_ini=str(ini),
        gateway_rule="PathPrefix(`/fake`)",
        redis_db=3,
    )
    ports = Ports(postgres=postgres.port, service_base=free_port())
    config = StackConfig(open_tmp_dir / "data", ports)
    process = ServiceProcess(spec, config, postgres, {"PYTHONPATH": str(open_tmp_dir)})
    yield process
    process.stop()


def test_service_start_migrates_serves_with_env_and_stops(fake_service: ServiceProcess) -> None:
    fake_service.start()
    env = httpx.get(f"{fake_service.url}/env").json()
    marker = fake_service.config.log_dir / "fake" / "migrated"
    fake_service.stop()

    assert env["AGORA_SERVICE_NAME"] == "fake"
    assert env["AGORA_ENVIRONMENT"] == "development"
    assert env["AGORA_PORT"] == str(fake_service.port)
    assert env["AGORA_REDIS_URL"].endswith("/3")
    assert env["AGORA_DATABASE_URL"].startswith("postgresql+asyncpg://fake:")
    assert marker.read_text() == env["AGORA_DATABASE_URL"]
    assert not fake_service.is_running()
    assert not port_accepts(fake_service.port)


@pytest.mark.parametrize(
    ("applied", "migrates"), [("0001", False), ("0000", True), (None, True)], ids=str
)
def test_service_migrates_only_when_the_database_is_not_at_the_heads(
    fake_service: ServiceProcess, applied: str | None, migrates: bool
) -> None:
    postgres, database = fake_service.postgres, fake_service.spec.database
    postgres.ensure_database(database, database, "pw")
    postgres.psql("DROP TABLE IF EXISTS alembic_version;", database=database)
    if applied is not None:
        create = "CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY);"
        insert = f"INSERT INTO alembic_version VALUES ('{applied}');"  # noqa: S608 - constant
        postgres.psql(create + insert, database=database)
    marker = fake_service.config.log_dir / "fake" / "migrated"
    try:
        fake_service.start()
    finally:
        postgres.psql("DROP TABLE IF EXISTS alembic_version;", database=database)
    assert marker.exists() is migrates, f"database at {applied}, scripts at 0001"
    assert fake_service.is_running()


def test_service_migration_failure_raises_and_starts_nothing(
    fake_service: ServiceProcess,
) -> None:
    fake_service.base_env["FAKE_MIGRATION"] = "fail"
    with pytest.raises(ServiceError, match="migrations failed") as failure:
        fake_service.start()
    assert "fake migration failed" in str(failure.value)
    assert not fake_service.is_running()


def test_service_crash_at_import_raises_with_log_tail(fake_service: ServiceProcess) -> None:
    fake_service.base_env["FAKE_MODE"] = "crash"
    with pytest.raises(ServiceError, match="exited during start-up") as failure:
        fake_service.start()
    assert "fake app refuses to import" in str(failure.value)
    assert not fake_service.is_running()


def test_service_never_ready_times_out_and_is_stopped(
    fake_service: ServiceProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service_process, "READY_TIMEOUT_SECONDS", 1.5)
    fake_service.base_env["FAKE_MODE"] = "unready"
    with pytest.raises(ServiceError, match="was not ready within"):
        fake_service.start()
    assert not fake_service.is_running()
    assert not port_accepts(fake_service.port)


def test_service_sigterm_lets_an_in_flight_request_finish(fake_service: ServiceProcess) -> None:
    fake_service.start()
    started = fake_service.config.log_dir / "fake" / "slow-started"
    answers: list[httpx.Response] = []
    request = threading.Thread(
        target=lambda: answers.append(httpx.get(f"{fake_service.url}/slow", timeout=30))
    )
    request.start()
    deadline = time.monotonic() + 30
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.05)

    fake_service.stop()  # SIGTERM while the request is in flight
    request.join(timeout=30)

    assert started.exists()
    assert [(a.status_code, a.text) for a in answers] == [(200, "finished")]
    assert not fake_service.is_running()


def test_service_graceful_shutdown_is_shorter_than_the_kill_timeout() -> None:
    argv = uvicorn_argv("python", IDENTITY, 8101)

    graceful = float(argv[argv.index("--timeout-graceful-shutdown") + 1])

    assert graceful == HTTP_GRACEFUL_SHUTDOWN_SECONDS
    assert graceful < STOP_TIMEOUT_SECONDS
