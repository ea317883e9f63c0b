"""The identity journey through the gateway on a freshly booted stack, then down and up again."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from tests.system.stack import AgoraRun, alive, stack_processes

pytestmark = pytest.mark.system

PASSWORD = "Correct-Horse-9"


def _login(api: httpx.Client, email: str, password: str) -> httpx.Response:
    return api.post("/api/v1/auth/token", data={"username": email, "password": password})


def _customer_flow(api: httpx.Client) -> dict[str, str]:
    body = {"email": "Ada@Example.com", "password": PASSWORD, "full_name": "Ada Lovelace"}
    assert api.post("/api/v1/auth/register", json=body).status_code == 201
    assert api.post("/api/v1/auth/register", json=body).status_code == 409
    tokens: dict[str, str] = _login(api, "ada@example.com", PASSWORD).json()
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    me = api.get("/api/v1/users/me", headers=bearer)
    assert (me.status_code, me.json()["email"]) == (200, "ada@example.com")
    assert api.get("/api/v1/users", headers=bearer).status_code == 403
    assert (
        api.get("/api/v1/users/me", headers={"Authorization": "Bearer forged"}).status_code == 401
    )
    rotated = api.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert rotated.status_code == 200
    replay = api.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert replay.status_code == 401
    tokens["user_id"] = me.json()["id"]
    return tokens


def _admin_flow(api: httpx.Client, user_id: str) -> None:
    admin = _login(api, "admin@agora.local", "Admin123!")
    assert admin.status_code == 200, admin.text
    bearer = {"Authorization": f"Bearer {admin.json()['access_token']}"}
    users = api.get("/api/v1/users", params={"role": "customer"}, headers=bearer)
    assert users.status_code == 200
    assert {"data", "total", "page", "per_page", "total_pages"} <= users.json().keys()
    patched = api.patch(f"/api/v1/users/{user_id}", json={"is_active": False}, headers=bearer)
    assert (patched.status_code, patched.json()["is_active"]) == (200, False)


def _access_lines(log_dir: Path, request_id: str) -> tuple[list[dict[str, object]], list[str]]:
    """The gateway's access-log entries for ``request_id``, and identity's log lines naming it."""
    gateway = [
        json.loads(line)
        for line in (log_dir / "gateway-access.log").read_text().splitlines()
        if request_id in line
    ]
    service = [
        line
        for name in ("identity.log", "identity/app.log")
        if (log_dir / name).exists()
        for line in (log_dir / name).read_text().splitlines()
        if request_id in line
    ]
    return gateway, service


def _request_logged_once_by_the_gateway(api: httpx.Client, log_dir: Path) -> None:
    request_id = "journey-access-log-1"
    jwks = api.get("/.well-known/jwks.json", headers={"X-Request-ID": request_id})
    assert jwks.status_code == 200
    gateway, service = _access_lines(log_dir, request_id)
    # Traefik writes its line after the response: give it a moment.
    for _ in range(50):
        if gateway:
            break
        time.sleep(0.1)
        gateway, service = _access_lines(log_dir, request_id)
    assert [entry["downstream_X-Request-Id"] for entry in gateway] == [request_id]
    assert [entry["DownstreamStatus"] for entry in gateway] == [200]
    assert [entry["RequestPath"] for entry in gateway] == ["/.well-known/jwks.json"]
    assert "RequestHost" not in gateway[0]  # only the fields the gateway keeps
    assert service == []  # no second access line in the service's own logs


def test_identity_journey_through_gateway_survives_restart(agora: AgoraRun) -> None:
    up = agora("up", "--detach")
    assert up.returncode == 0, up.stdout + up.stderr
    gateway = f"http://127.0.0.1:{agora.port('AGORA_GATEWAY_PORT')}"
    with httpx.Client(base_url=gateway, timeout=30) as api:
        _request_logged_once_by_the_gateway(api, agora.data_dir / "logs")
        tokens = _customer_flow(api)
        _admin_flow(api, tokens["user_id"])
        processes = stack_processes(agora.data_dir)
        assert agora("down").returncode == 0
        assert alive(processes) == []

        again = agora("up", "--detach")
        assert again.returncode == 0, again.stdout + again.stderr
        # The user and the deactivation were kept in .agora across down/up.
        assert _login(api, "ada@example.com", PASSWORD).status_code == 401
        assert _login(api, "admin@agora.local", "Admin123!").status_code == 200
    processes = stack_processes(agora.data_dir)
    assert agora("down").returncode == 0
    assert alive(processes) == []


def test_login_rate_limit_through_gateway_answers_429(agora: AgoraRun) -> None:
    up = agora("up", "--detach")
    assert up.returncode == 0, up.stdout + up.stderr
    gateway = f"http://127.0.0.1:{agora.port('AGORA_GATEWAY_PORT')}"
    with httpx.Client(base_url=gateway, timeout=30) as api:
        statuses = [_login(api, "admin@agora.local", "Wrong-Pass-1").status_code for _ in range(6)]
        limited = _login(api, "admin@agora.local", "Wrong-Pass-1")
    assert statuses == [401] * 5 + [429]
    assert int(limited.headers["Retry-After"]) >= 1
    assert limited.headers["content-type"] == "application/problem+json"
