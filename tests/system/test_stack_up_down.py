"""System tests: ``agora up --detach``, ``status`` and ``down`` on a private stack.

Each test boots its own stack in a temporary data dir on free ports (never the defaults), so it
runs beside a developer's own ``agora up``.
"""

from __future__ import annotations

import signal
import socket
import subprocess

import httpx
import pytest

from tests.system.stack import AGORA, COMMAND_TIMEOUT_SECONDS, AgoraRun, alive, stack_processes

pytestmark = pytest.mark.system


def test_up_infra_only_status_down_leaves_no_process(agora: AgoraRun) -> None:
    up = agora("up", "--detach", "--infra-only")
    assert up.returncode == 0, up.stdout + up.stderr
    status = agora("status")
    processes = stack_processes(agora.data_dir)
    again = agora("up", "--detach", "--infra-only")
    gateway_ping = httpx.get(f"http://127.0.0.1:{agora.port('AGORA_GATEWAY_ADMIN_PORT')}/ping")

    down = agora("down")

    assert again.returncode == 0
    assert "already running" in again.stdout
    assert gateway_ping.status_code == 200
    for name in ("postgres", "redis", "nats", "mail", "paysim", "gateway-errors", "gateway"):
        assert any(
            line.split()[:2] == [name, "up"] and line.split()[4] == "ok" and line.endswith("MiB")
            for line in status.stdout.splitlines()
        ), f"{name} is not up, healthy and measured: {status.stdout}"
    assert any(
        line.split()[0] == "total" and line.endswith("MiB") for line in status.stdout.splitlines()
    ), status.stdout
    # postmaster + its workers, valkey, nats, mail sink, payment simulator, error pages, traefik
    assert len(processes) >= 7
    assert down.returncode == 0
    assert "stopped: gateway, gateway-errors, paysim, mail, nats, redis, postgres" in down.stdout
    assert alive(processes) == []


def test_up_full_stack_serves_identity_through_gateway(agora: AgoraRun) -> None:
    up = agora("up", "--detach")
    assert up.returncode == 0, up.stdout + up.stderr
    processes = stack_processes(agora.data_dir)
    gateway = f"http://127.0.0.1:{agora.port('AGORA_GATEWAY_PORT')}"
    ready = httpx.get(f"{agora.operator_url}/identity/health/ready")
    hidden = httpx.get(f"{gateway}/api/catalog/metrics")
    unknown = httpx.get(f"{gateway}/api/no/such/path")
    metrics = httpx.get(f"{gateway}/catalog/metrics")  # not an API path: the storefront's
    shop = httpx.get(f"{gateway}/")
    jwks = httpx.get(f"{gateway}/.well-known/jwks.json")

    status = agora("status")
    down = agora("down")

    assert any(line.split()[:2] == ["identity", "up"] for line in status.stdout.splitlines())
    assert "admin@agora.local / Admin123!" in up.stdout
    assert ready.status_code == 200
    for answer, path in ((hidden, "/api/catalog/metrics"), (unknown, "/api/no/such/path")):
        assert answer.status_code == 404
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["instance"] == path
    assert (metrics.status_code, metrics.headers["content-type"]) == (
        404,
        "text/html; charset=utf-8",
    ), "every other path is a page of the storefront; metrics stay on the operator entrypoint"
    assert "http_requests_total" not in metrics.text
    assert shop.status_code == 200
    assert "<title>Agora — shop</title>" in shop.text
    assert f"operator: {agora.operator_url}" in status.stdout
    assert jwks.status_code == 200
    assert "keys" in jwks.json()
    assert "identity" in down.stdout
    assert alive(processes) == []


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_up_foreground_signal_stops_everything(agora: AgoraRun, signum: signal.Signals) -> None:
    argv = [*AGORA, "up", "--infra-only"]
    foreground = subprocess.Popen(
        [*argv, "--data-dir", str(agora.data_dir)],
        env=agora.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert foreground.stdout is not None
    lines = []
    for line in foreground.stdout:
        lines.append(line)
        if line.startswith("attached"):
            break
    processes = stack_processes(agora.data_dir)

    foreground.send_signal(signum)
    rest, _ = foreground.communicate(timeout=COMMAND_TIMEOUT_SECONDS)

    assert any(line.startswith("attached") for line in lines), "".join(lines)
    assert foreground.returncode == 0
    assert "stopping postgres ... ok" in rest
    assert len(processes) >= 5
    assert alive(processes) == []


def test_up_port_taken_refuses_and_starts_nothing(agora: AgoraRun) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", agora.port("AGORA_REDIS_PORT")))
        squatter.listen()
        up = agora("up", "--detach", "--infra-only")

    assert up.returncode == 1
    assert f"redis: port {agora.port('AGORA_REDIS_PORT')} is already in use" in up.stderr
    assert alive(stack_processes(agora.data_dir)) == []
