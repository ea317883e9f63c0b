"""System test: a welcome mail that cannot be sent ends in dead letters; `agora dlq` replays it.

The mail relay (the stack's SMTP sink) is stopped, a user registers, notification tries three
times and dead-letters the event. With the sink back, ``agora dlq replay --all`` sends the mail,
once. Some ``agora dlq`` calls run in process (``agora_cli.main.main``), the rest as the installed
command, and the admin API is also called through the gateway.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from agora_cli.config import PORT_VARIABLES
from agora_cli.main import main
from tests.system.delivery import all_mail
from tests.system.stack import AgoraRun, private_stack

pytestmark = pytest.mark.system

DEADLINE_SECONDS = 60.0
EMAIL = "grace@example.com"
ADMIN = {"username": "admin@agora.local", "password": "Admin123!"}
RETRY_BASE_SECONDS = "1"
"""The consumer's retries wait about 1 s, then 4 s: the three tries end well inside the deadline."""

Dlq = Callable[..., tuple[int, str, str]]


@pytest.fixture
def agora() -> Iterator[AgoraRun]:
    """A private stack whose consumers dead-letter within seconds, not minutes."""
    with private_stack({"AGORA_CONSUMER_RETRY_BASE_SECONDS": RETRY_BASE_SECONDS}) as run:
        yield run


@pytest.fixture
def dlq(
    agora: AgoraRun, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Dlq:
    """``dlq("list", "--json")`` runs ``agora dlq ...`` in process: (exit code, stdout, stderr)."""
    for variable in PORT_VARIABLES:  # the private stack's ports, even before it is up
        monkeypatch.setenv(variable, agora.env[variable])

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(["dlq", *args, "--data-dir", str(agora.data_dir)])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def _poll[T](probe: Callable[[], T | None]) -> T:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        result = probe()
        if result:
            return result
        time.sleep(0.5)
    raise AssertionError(f"nothing after {DEADLINE_SECONDS}s")


def _pending(dlq: Dlq) -> list[dict[str, Any]] | None:
    code, out, err = dlq("list", "--json")
    assert code == 0, err
    return list(json.loads(out)) or None


def _admin_api(agora: AgoraRun) -> httpx.Client:
    """The notification admin API under its per-service prefix, on the operator entrypoint."""
    token = httpx.post(f"{agora.gateway_url}/api/v1/auth/token", data=ADMIN, timeout=30).json()
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    return httpx.Client(base_url=f"{agora.operator_url}/notification", headers=headers, timeout=30)


def _dead_letter_while_mail_is_down(agora: AgoraRun, dlq: Dlq, gateway: str) -> dict[str, Any]:
    assert agora("stop", "mail").returncode == 0
    body = {"email": EMAIL, "password": "Correct-Horse-9", "full_name": "Grace Hopper"}
    assert httpx.post(f"{gateway}/api/v1/auth/register", json=body, timeout=30).status_code == 201
    [letter] = _poll(lambda: _pending(dlq))
    return letter


def test_dead_letter_listed_shown_replayed_and_purged(agora: AgoraRun, dlq: Dlq) -> None:
    up = agora("up", "--detach")
    assert up.returncode == 0, up.stdout + up.stderr
    gateway = f"http://127.0.0.1:{agora.port('AGORA_GATEWAY_PORT')}"
    letter = _dead_letter_while_mail_is_down(agora, dlq, gateway)
    shown = agora("dlq", "show", letter["id"])  # the installed command, as a person runs it
    table = dlq("list")
    assert agora("start", "mail").returncode == 0

    replayed = dlq("replay", "--all")
    mails = all_mail(agora)
    after = dlq("list")
    with _admin_api(agora) as api:
        listed = api.get("/api/v1/admin/dead-letters", params={"state": "replayed"})
    purged = dlq("purge", letter["id"])
    gone = dlq("show", letter["id"])

    assert (letter["event_type"], letter["attempts"], letter["state"]) == (
        "user.registered",
        3,
        "pending",
    )
    assert "SMTPConnect" in letter["error"]
    assert shown.returncode == 0, shown.stderr
    assert EMAIL in shown.stdout
    assert "Traceback" in shown.stdout
    assert letter["id"] in table[1]
    assert "notification" in table[1]
    assert replayed[0] == 0, replayed
    assert "replayed 1, failed again 0" in replayed[1]
    assert [m["to"] for m in mails] == [EMAIL]
    assert after[1].strip() == "no pending dead letters"
    assert listed.status_code == 200, listed.text
    assert [item["id"] for item in listed.json()["data"]] == [letter["id"]]
    assert purged[0] == 0
    assert f"purged {letter['id']}" in purged[1]
    assert gone[0] == 1
    assert "no dead letter" in gone[2]


def test_dlq_refuses_a_service_without_dead_letters_and_a_stopped_stack(
    agora: AgoraRun, dlq: Dlq
) -> None:
    not_consumer = dlq("list", "--service", "identity")
    stopped = dlq("list")

    assert not_consumer[0] == 1
    assert (
        "'identity' has no dead letters; choose one of: notification, catalog, basket"
        in not_consumer[2]
    )
    assert stopped[0] == 1
    assert "identity is not reachable" in stopped[2]
