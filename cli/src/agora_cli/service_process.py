"""One service as a supervised process: database, migrations, uvicorn, readiness."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from agora_cli.config import StackConfig, repo_root
from agora_cli.env import grpc_port, service_env, service_port
from agora_cli.infra.forkserver import ForkServer
from agora_cli.infra.nats import http_ok
from agora_cli.infra.ports import LOOPBACK, ensure_port_free
from agora_cli.infra.postgres import EmbeddedPostgres
from agora_cli.infra.process import (
    PidFileTracked,
    child_environment,
    log_size,
    spawn,
    spawn_and_await,
    stop_group,
    tail,
)
from agora_cli.secrets_store import get_or_create_secret
from agora_cli.services import ServiceSpec

READY_TIMEOUT_SECONDS = 60.0
MIGRATION_TIMEOUT_SECONDS = 300.0
# On SIGTERM uvicorn stops accepting and lets in-flight requests finish, for at most this long;
# then the app's lifespan shutdown runs (the gRPC server's own 5 s grace, consumers, pools).
HTTP_GRACEFUL_SHUTDOWN_SECONDS = 10
LIFESPAN_SHUTDOWN_SECONDS = 10
# Only after both does the CLI send SIGKILL, so a graceful stop is never cut short.
STOP_TIMEOUT_SECONDS = float(HTTP_GRACEFUL_SHUTDOWN_SECONDS + LIFESPAN_SHUTDOWN_SECONDS)


class ServiceError(RuntimeError):
    """A service could not be migrated or did not become ready."""


def uvicorn_argv(python: str, spec: ServiceSpec, port: int) -> list[str]:
    """The command line running ``spec``'s app factory on loopback ``port``."""
    return [
        *(python, "-m", "uvicorn", spec.app, "--factory"),
        *("--host", LOOPBACK, "--port", str(port), "--no-server-header"),
        # No service has a WebSocket route (test_lean_services.py): without this uvicorn imports
        # the websockets package (17 modules, 0.6 MiB per service) to offer upgrades nobody takes.
        *("--ws", "none"),
        *("--timeout-graceful-shutdown", str(HTTP_GRACEFUL_SHUTDOWN_SECONDS)),
    ]


def alembic_argv(python: str, spec: ServiceSpec) -> list[str]:
    """The command line upgrading ``spec``'s database to the newest migration."""
    if spec.alembic_ini is None:
        raise ValueError(f"{spec.name} has no migrations")
    return [python, "-m", "alembic", "-c", spec.alembic_ini, "upgrade", "head"]


# psql prints the applied revisions, or nothing before the first migration (no error either).
APPLIED_REVISIONS_SQL = """\
SELECT to_regclass('public.alembic_version') IS NOT NULL AS versioned \\gset
\\if :versioned
SELECT version_num FROM alembic_version;
\\endif
"""


def migration_heads(alembic_ini: Path) -> frozenset[str]:
    """The head revisions of a service's migration scripts, read by Alembic itself.

    Imported here: only a starting service needs Alembic in the CLI (it loads the revision
    files, not the service's models; a few hundredths of a second once imported).
    """
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    return frozenset(ScriptDirectory.from_config(Config(str(alembic_ini))).get_heads())


class ServiceProcess(PidFileTracked):
    """A registered service run by uvicorn, ready when ``/health/ready`` answers 200."""

    def __init__(
        self,
        spec: ServiceSpec,
        config: StackConfig,
        postgres: EmbeddedPostgres,
        base_env: dict[str, str],
        forkserver: ForkServer | None = None,
    ) -> None:
        """Describe the process; nothing starts until :meth:`start`.

        Args:
            spec: The service.
            config: The stack configuration.
            postgres: The stack's PostgreSQL (must run when the service starts).
            base_env: The user's environment, passed through to the service.
            forkserver: Fork the service from this when it runs (ADR 0020), else start a new
                interpreter.
        """
        self.spec = spec
        self.forkserver = forkserver
        self.name = spec.name
        self.config = config
        self.postgres = postgres
        self.base_env = base_env
        self.port = service_port(config, spec)
        self.grpc_port = grpc_port(config, spec) if spec.grpc else None
        self.log_file = config.log_file(spec.name)
        self.pid_file = config.pid_file(spec.name)

    @property
    def url(self) -> str:
        """The service's own base URL (bypassing the gateway)."""
        return f"http://{LOOPBACK}:{self.port}"

    def healthy(self) -> bool:
        """Tell whether ``/health/ready`` answers 200."""
        return http_ok(f"{self.url}/health/ready")

    def environment(self) -> dict[str, str]:
        """Create the service's database if needed and return its process environment."""
        if self.spec.database is None:
            return service_env(self.config, self.spec, None, self.base_env)
        password = get_or_create_secret(self.config.data_dir, f"postgres/{self.spec.database}")
        database_url = self.postgres.ensure_database(
            self.spec.database, self.spec.database, password, self.spec.extensions
        )
        return service_env(self.config, self.spec, database_url, self.base_env)

    def start(self) -> None:
        """Create the database, run the migrations, start uvicorn and wait until ready.

        Raises:
            ServiceError: With the tail of the log when a step fails.
        """
        if self.is_running():
            return
        ensure_port_free(self.name, self.port)
        if self.grpc_port is not None:
            ensure_port_free(f"{self.name} gRPC", self.grpc_port)
        env = self.environment()
        for directory in (env["AGORA_LOG_DIR"], env.get("AGORA_JWT_KEYS_DIR")):
            if directory:
                Path(directory).mkdir(parents=True, exist_ok=True, mode=0o700)
        self.migrate(env)
        argv = uvicorn_argv(sys.executable, self.spec, self.port)
        forked = self.forkserver is not None and self.forkserver.is_running()
        failure = spawn_and_await(
            f"{self.name} ({self.url}/health/ready)",
            argv,
            log_file=self.log_file,
            pid_file=self.pid_file,
            ready=self.healthy,
            running=self.is_running,
            stop=self.stop,
            timeout=READY_TIMEOUT_SECONDS,
            env=env,
            cwd=repo_root(),
            spawner=self.forkserver.spawner if forked and self.forkserver else spawn,
        )
        if failure:
            raise ServiceError(failure)

    def applied_revisions(self) -> frozenset[str]:
        """The revisions the service's database is at (empty before the first migration)."""
        if self.spec.database is None:
            return frozenset()
        output = self.postgres.psql(APPLIED_REVISIONS_SQL, database=self.spec.database)
        return frozenset(output.split())

    def migrations_pending(self) -> bool:
        """Tell whether the database is behind (or beside) the scripts' heads.

        Comparing two sets costs a psql call and reading the scripts; ``alembic upgrade head``
        with nothing to do cost a Python start, the service's models and a connection: about
        1.5 s of CPU per service at every boot.
        """
        if self.spec.alembic_ini is None:
            return False
        return self.applied_revisions() != migration_heads(repo_root() / self.spec.alembic_ini)

    def migrate(self, env: dict[str, str]) -> None:
        """Run ``alembic upgrade head`` with the service's environment, output to its log, when
        the database is not at the scripts' heads already."""
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        if not self.migrations_pending():
            return
        since = log_size(self.log_file)
        with self.log_file.open("ab") as log:
            result = subprocess.run(  # noqa: S603 - fixed argv
                alembic_argv(sys.executable, self.spec),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=child_environment(env),
                cwd=repo_root(),
                timeout=MIGRATION_TIMEOUT_SECONDS,
                check=False,
            )
        if result.returncode != 0:
            raise ServiceError(
                f"{self.name}: migrations failed:\n{tail(self.log_file, since=since)}"
            )

    def stop(self) -> None:
        """Stop the service's process group: SIGTERM (in-flight requests finish), SIGKILL only
        after :data:`STOP_TIMEOUT_SECONDS`."""
        stop_group(self.pid_file, timeout=STOP_TIMEOUT_SECONDS)
