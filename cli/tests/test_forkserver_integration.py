"""The fork server (ADR 0020) with real processes: what a forked service gets and what not."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from agora_cli.infra.forkserver import ForkServer, ForkServerError, ask
from agora_cli.infra.ports import free_port
from agora_cli.infra.process import StartOutcome, await_start, stop_group

pytestmark = pytest.mark.integration

# The app a "service" runs: what it can see of its process, as JSON.
APP = """
import json, os, random, sys
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = json.dumps({
        "pid": os.getpid(), "env": dict(os.environ), "random": random.random(),
        "preloaded": "sqlalchemy" in sys.modules, "cwd": os.getcwd(),
    }).encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})
print("forked app imported", flush=True)
"""


@pytest.fixture
def server() -> Iterator[ForkServer]:
    # A short directory: a Unix socket's path must fit in 108 bytes.
    scratch = Path(tempfile.mkdtemp(prefix="agora-fork-"))
    (scratch / "probe_app.py").write_text(APP, encoding="utf-8")
    forkserver = ForkServer(scratch / "fork.sock", scratch / "fork.log", scratch / "fork.pid")
    forkserver.start()
    try:
        yield forkserver
    finally:
        forkserver.stop()


def _fork(server: ForkServer, name: str, env: dict[str, str]) -> tuple[int, str]:
    """Fork the probe app on a free port; return its pid and URL once it answers."""
    scratch = server.socket_path.parent
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", "--app-dir", str(scratch), "probe_app:app"]
    argv += ["--port", str(port), "--log-level", "warning"]
    pid = server.spawner(
        argv,
        log_file=scratch / f"{name}.log",
        pid_file=scratch / f"{name}.pid",
        env=env,
        cwd=scratch,
    )
    url = f"http://127.0.0.1:{port}/"
    outcome = await_start(lambda: _answers(url), lambda: psutil.pid_exists(pid), 30)
    log = (scratch / f"{name}.log").read_text(encoding="utf-8")
    assert outcome is StartOutcome.READY, f"the forked app did not answer ({outcome}): {log}"
    return pid, url


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - a loopback URL of the test
            return True
    except OSError:
        return False


def _seen(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback
        seen: dict[str, object] = json.load(response)
    return seen


def test_a_forked_service_gets_its_own_environment_session_and_log(server: ForkServer) -> None:
    env = {"PATH": os.environ["PATH"], "AGORA_PROBE": "one"}
    pid, url = _fork(server, "one", env)
    try:
        seen = _seen(url)
        process = psutil.Process(pid)

        assert seen["pid"] == pid
        assert seen["env"] == env, "the service's environment is exactly the one asked for"
        assert seen["cwd"] == str(server.socket_path.parent)
        assert seen["preloaded"] is True, "forked from the server, it has its imports already"
        assert os.getsid(pid) == pid, "a session of its own, as a spawned service has"
        assert process.ppid() != server.pid, "not the server's child: double-forked"
        assert psutil.Process(server.pid or 0).children() == []
        log = (server.socket_path.parent / "one.log").read_text(encoding="utf-8")
        assert "forked app imported" in log
    finally:
        stop_group(server.socket_path.parent / "one.pid")

    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert server.healthy(), "stopping a service leaves the server running"


def test_two_forked_services_do_not_share_random_state(server: ForkServer) -> None:
    env = {"PATH": os.environ["PATH"]}
    _, first = _fork(server, "first", env)
    _, second = _fork(server, "second", env)
    try:
        assert _seen(first)["random"] != _seen(second)["random"]
    finally:
        stop_group(server.socket_path.parent / "first.pid")
        stop_group(server.socket_path.parent / "second.pid")


def test_the_socket_is_its_owners_alone(server: ForkServer) -> None:
    mode = server.socket_path.stat().st_mode & 0o777
    assert mode & 0o077 == 0, f"the fork server's socket is open to others: {oct(mode)}"


def test_no_server_is_an_error_that_names_the_socket(tmp_path: Path) -> None:
    with pytest.raises(ForkServerError, match=r"nothing\.sock"):
        ask(tmp_path / "nothing.sock", {"ping": True})
    assert not ForkServer(tmp_path / "nothing.sock", tmp_path / "l", tmp_path / "p").healthy()


def test_a_bad_request_is_refused_and_the_server_keeps_serving(server: ForkServer) -> None:
    answer = ask(server.socket_path, {"args": [], "env": {}, "cwd": "/", "log_file": None})
    assert "error" in answer, f"a request without a log file was taken: {answer}"
    scratch, not_text = server.socket_path.parent, {"A": 1}
    files = {"log_file": scratch / "bad.log", "pid_file": scratch / "bad.pid"}
    with pytest.raises(ForkServerError, match="refused"):
        server.spawner(["python", "-m", "uvicorn", "probe_app:app"], env=not_text, **files)  # type: ignore[arg-type]
    assert server.healthy(), "the server stopped after a bad request"
