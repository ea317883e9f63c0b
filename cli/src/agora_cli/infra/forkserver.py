"""A parent that imports what every service imports, once, and forks the services from it.

Why (ADR 0020): each service is a Python process whose memory is almost all the code objects,
classes and dicts of the ~1,300-1,550 modules it imports, and 1,266 of those are the same in
every service (the chassis, FastAPI, pydantic, SQLAlchemy, asyncpg, faststream, uvicorn,
OpenTelemetry, redis). Imported here and frozen for the garbage collector (so no collection
writes to them), those pages are shared copy-on-write by every service forked from this process,
and PSS counts them once across the stack instead of once per service.

The protocol, on a Unix socket only this user can open (the socket grants what a shell would):
one JSON line in, one out. ``{"args": [...], "env": {...}, "cwd": ..., "log_file": ...}`` forks a
service (``args`` are uvicorn's) and answers ``{"pid": N}`` (``{"error": ...}`` for a malformed
request); ``{"ping": true}`` answers ``{"pong": true}``. The service is forked twice (the middle
process exits at once), so it is nobody's child here: it runs in its own session like a spawned
one, ``agora down`` signals its group, and the memory of this process's tree is its own.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import json
import os
import random
import signal
import socket
import sys
import threading
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

from agora_cli.config import repo_root
from agora_cli.infra.process import (
    PidFileTracked,
    child_environment,
    spawn_and_await,
    stop_group,
    write_pid_file,
)

PRELOAD = (
    "agora_chassis.app",
    "agora_chassis.reader",
    "faststream.nats",
    "sqlalchemy.dialects.postgresql.asyncpg",
    "uvicorn.main",
    "uvicorn.loops.uvloop",
    "uvicorn.protocols.http.httptools_impl",
    "uvicorn.lifespan.on",
)
"""What every service imports (all but 2 of the 1,266 modules the three services share), and
nothing one of them does not: gRPC, which is not safe to fork once loaded, stays out."""
READY_TIMEOUT_SECONDS = 60.0
REQUEST_TIMEOUT_SECONDS = 30.0
SOCKET_MODE = 0o177  # the umask while binding: the socket is the owner's alone


class ForkServerError(RuntimeError):
    """The fork server did not answer, or answered without a pid."""


def ask(socket_path: Path, request: Mapping[str, Any]) -> dict[str, Any]:
    """Send one request to the fork server at ``socket_path`` and return its answer.

    Raises:
        ForkServerError: It could not be reached or gave no answer.
    """
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.settimeout(REQUEST_TIMEOUT_SECONDS)
            client.connect(str(socket_path))
            client.sendall(json.dumps(request).encode() + b"\n")
            line = client.makefile("rb").readline()
    except OSError as error:
        raise ForkServerError(f"fork server at {socket_path}: {error}") from error
    if not line:
        raise ForkServerError(f"fork server at {socket_path} closed without answering")
    answer: dict[str, Any] = json.loads(line)
    return answer


class ForkServer(PidFileTracked):
    """The fork server as a stack component: started before the services, stopped after them."""

    name = "forkserver"
    port = 0  # a Unix socket, no TCP port

    def __init__(self, socket_path: Path, log_file: Path, pid_file: Path) -> None:
        self.socket_path = socket_path
        self.log_file = log_file
        self.pid_file = pid_file

    def healthy(self) -> bool:
        """Tell whether it answers a ping (it listens only once everything is imported)."""
        try:
            return ask(self.socket_path, {"ping": True}).get("pong") is True
        except ForkServerError:
            return False

    def start(self) -> None:
        """Start it and wait until it has imported :data:`PRELOAD` and listens.

        Raises:
            ForkServerError: With the tail of its log when it does not start.
        """
        if self.is_running():
            return
        self.socket_path.parent.mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, "-m", "agora_cli.infra.forkserver", str(self.socket_path)]
        failure = spawn_and_await(
            f"{self.name} ({self.socket_path})",
            argv,
            log_file=self.log_file,
            pid_file=self.pid_file,
            ready=self.healthy,
            running=self.is_running,
            stop=self.stop,
            timeout=READY_TIMEOUT_SECONDS,
            # Where the services run: `-m` puts this directory first on sys.path, as it does
            # for a service started as `python -m uvicorn` there.
            cwd=repo_root(),
        )
        if failure:
            raise ForkServerError(failure)

    def stop(self) -> None:
        """Stop it (the services it forked run on: they are not its children)."""
        stop_group(self.pid_file)
        self.socket_path.unlink(missing_ok=True)

    def spawner(
        self,
        argv: Sequence[str],
        *,
        log_file: Path,
        pid_file: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> int:
        """Fork ``uvicorn <argv[3:]>`` (``argv`` as for ``python -m uvicorn``) from the server.

        Same arguments and result as :func:`agora_cli.infra.process.spawn`, so a service starts
        the same way either way.
        """
        log_file.parent.mkdir(parents=True, exist_ok=True)
        request = {
            "args": list(argv[3:]),
            "env": child_environment(env),
            "cwd": str(cwd or Path.cwd()),
            "log_file": str(log_file),
        }
        answer = ask(self.socket_path, request)
        if "error" in answer:
            raise ForkServerError(f"the fork server refused {argv[3:4]}: {answer['error']}")
        pid = answer.get("pid")
        if not isinstance(pid, int) or pid <= 0:
            raise ForkServerError(f"the fork server gave no pid for {argv[3:4]}: {pid!r}")
        write_pid_file(pid_file, pid)
        return pid


def serve(socket_path: Path) -> NoReturn:
    """Import :data:`PRELOAD`, freeze it, then fork a service for each request, forever."""
    for name in PRELOAD:
        importlib.import_module(name)
    if threading.active_count() != 1:  # a fork copies only the forking thread
        raise SystemExit(f"a preloaded module started a thread: {threading.enumerate()}")
    gc.freeze()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps the middle processes
    socket_path.unlink(missing_ok=True)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        umask = os.umask(SOCKET_MODE)
        try:
            listener.bind(str(socket_path))
        finally:
            os.umask(umask)
        listener.listen()
        sys.stderr.write(f"fork server: {len(sys.modules)} modules loaded, listening\n")
        sys.stderr.flush()
        while True:
            connection, _ = listener.accept()
            with connection:
                try:
                    _answer(connection, listener)
                except Exception:  # noqa: BLE001 - one bad request must not stop the server
                    traceback.print_exc()


def _answer(connection: socket.socket, listener: socket.socket) -> None:
    request = json.loads(connection.makefile("rb").readline() or b"{}")
    if request.get("ping"):
        connection.sendall(b'{"pong": true}\n')
        return
    if problem := _invalid(request):
        connection.sendall(json.dumps({"error": problem}).encode() + b"\n")
        return
    read_end, write_end = os.pipe()
    if os.fork() == 0:  # the middle process
        os.close(read_end)
        _fork_service(request, (listener, connection), write_end)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        pid = int(pipe.read() or b"0")
    connection.sendall(json.dumps({"pid": pid}).encode() + b"\n")


def _invalid(request: dict[str, Any]) -> str | None:
    """Why ``request`` cannot start a service, or None."""
    args = request.get("args")
    texts = [
        request.get("cwd"),
        request.get("log_file"),
        *(args if isinstance(args, list) else [0]),
    ]
    env = request.get("env")
    if not all(isinstance(text, str) for text in texts) or not isinstance(env, dict):
        return "a request needs args, env, cwd and log_file (strings, and env a mapping)"
    if not all(isinstance(value, str) for value in env.values()):
        return "every environment value must be a string"
    return None


def _fork_service(
    request: dict[str, Any], sockets: Sequence[socket.socket], write_end: int
) -> NoReturn:
    """In the middle process: fork the service and exit, so the service is nobody's child.

    The service tells its pid itself, once it leads its own session and process group (what
    ``agora down`` signals), so no caller can see the pid before the group exists.
    """
    try:
        for inherited in sockets:
            inherited.close()
        if os.fork():
            os._exit(0)
        os.setsid()
        os.write(write_end, str(os.getpid()).encode())
        os.close(write_end)
        _run_uvicorn(request)
    except BaseException:  # noqa: BLE001 - a forked process must never return into the server
        traceback.print_exc()
        os._exit(1)


def _run_uvicorn(request: dict[str, Any]) -> NoReturn:
    """Become the service: its log, directory and environment, then uvicorn's command line."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    log = os.open(request["log_file"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(null)
    os.close(log)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    random.seed()  # not the server's sequence, shared by every service forked from it
    sys.argv = ["uvicorn", *request["args"]]
    from uvicorn.main import main

    code = 1
    try:
        main.main(args=request["args"], prog_name="uvicorn")
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover - run by ForkServer.start, tested through it
    serve(Path(sys.argv[1]))
