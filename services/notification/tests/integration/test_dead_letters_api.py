"""/api/v1/admin/dead-letters on the notification service: list, show, replay, purge (admins)."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI

from agora_chassis.messaging import EventConsumer
from agora_chassis.state import service_state
from agora_cli.infra.ports import free_port
from agora_testing.tokens import forge_access_token

pytestmark = pytest.mark.integration

BASE = "/api/v1/admin/dead-letters"
UNDECODABLE = b"\xff not an event"

Consumers = Callable[..., EventConsumer]
Events = Callable[..., bytes]


@pytest.fixture
def admin(token_for: Callable[[list[str]], str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(['admin'])}"}


@pytest.fixture
def dead_letter(
    client: httpx.AsyncClient,
    consumer_for: Consumers,
    registered_event: Events,
    admin: dict[str, str],
) -> Callable[..., Any]:
    """``await dead_letter(email=..., body=...)``: make one dead letter, return its summary."""

    async def make(email: str | None = None, body: bytes | None = None) -> dict[str, Any]:
        before = {item["id"] for item in await _items(client, admin, state="all")}
        message = body if body is not None else registered_event(email=email or _address())
        # SMTP on a closed port: 3 failed tries, then a dead letter.
        assert await consumer_for(smtp_port=free_port()).deliver(message) is False
        [item] = [x for x in await _items(client, admin, state="all") if x["id"] not in before]
        return item

    return make


def _address() -> str:
    return f"user-{uuid.uuid4().hex[:8]}@example.com"


async def _items(
    client: httpx.AsyncClient, headers: dict[str, str], **params: Any
) -> list[dict[str, Any]]:
    response = await client.get(BASE, headers=headers, params={"per_page": 100, **params})
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


async def test_list_dead_letters_shows_pending_oldest_first(
    client: httpx.AsyncClient, dead_letter: Callable[..., Any], admin: dict[str, str]
) -> None:
    first = await dead_letter()
    second = await dead_letter(body=UNDECODABLE)

    response = await client.get(BASE, headers=admin)

    assert response.status_code == 200, response.text
    page = response.json()
    assert page["total"] == 2
    assert [item["id"] for item in page["data"]] == [first["id"], second["id"]]
    assert first["state"] == "pending"
    assert (first["event_type"], first["attempts"]) == ("user.registered", 3)
    assert "SMTPConnect" in first["error"]
    assert (second["event_type"], second["attempts"]) == (None, 0)
    assert await _items(client, admin, state="replayed") == []


async def test_show_dead_letter_has_envelope_stack_or_raw_body(
    client: httpx.AsyncClient, dead_letter: Callable[..., Any], admin: dict[str, str]
) -> None:
    failed = await dead_letter(email="shown@example.com")
    undecodable = await dead_letter(body=UNDECODABLE)

    detail = (await client.get(f"{BASE}/{failed['id']}", headers=admin)).json()
    raw = (await client.get(f"{BASE}/{undecodable['id']}", headers=admin)).json()

    assert detail["envelope"]["type"] == "user.registered"
    assert detail["envelope"]["data"]["email"] == "shown@example.com"
    assert "Traceback" in detail["stack"]
    assert detail["raw_base64"] is None
    assert raw["envelope"] is None
    assert base64.b64decode(raw["raw_base64"]) == UNDECODABLE


async def test_replay_fixed_dead_letter_sends_once(
    client: httpx.AsyncClient,
    dead_letter: Callable[..., Any],
    admin: dict[str, str],
    smtp_sink: tuple[int, Any],
) -> None:
    letter = await dead_letter(email="replayed@example.com")

    first = await client.post(f"{BASE}/{letter['id']}/replay", headers=admin)
    again = await client.post(f"{BASE}/{letter['id']}/replay", headers=admin)

    assert first.status_code == 200, first.text
    assert first.json()["state"] == "replayed"
    assert again.status_code == 200, again.text
    assert [m.rcpt_tos for m in smtp_sink[1].messages] == [["replayed@example.com"]]
    assert await _items(client, admin) == []
    assert len(await _items(client, admin, state="replayed")) == 1


async def test_replay_failing_again_is_409_and_keeps_it_pending(
    client: httpx.AsyncClient, dead_letter: Callable[..., Any], admin: dict[str, str]
) -> None:
    letter = await dead_letter(email="nobody@refused.example.com")

    response = await client.post(f"{BASE}/{letter['id']}/replay", headers=admin)

    assert response.status_code == 409, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "failed again" in response.json()["detail"]
    [pending] = await _items(client, admin)
    assert pending["attempts"] == 4  # 3 tries, then one more: a 5xx refusal is not retried
    assert pending["error"].startswith("PermanentFailure")


async def test_replay_undecodable_is_409(
    client: httpx.AsyncClient, dead_letter: Callable[..., Any], admin: dict[str, str]
) -> None:
    letter = await dead_letter(body=UNDECODABLE)

    response = await client.post(f"{BASE}/{letter['id']}/replay", headers=admin)

    assert response.status_code == 409
    assert "cannot be replayed" in response.json()["detail"]


async def test_bulk_replay_pages_through_pending_letters(
    client: httpx.AsyncClient,
    dead_letter: Callable[..., Any],
    admin: dict[str, str],
    smtp_sink: tuple[int, Any],
) -> None:
    letters = [await dead_letter() for _ in range(3)]

    first = (await client.post(f"{BASE}/replay", headers=admin, params={"limit": 2})).json()
    rest = await client.post(
        f"{BASE}/replay", headers=admin, params={"limit": 2, "after": first["next_after"]}
    )

    assert first["attempted"] == 2
    assert first["next_after"] == letters[1]["id"]
    assert rest.json() == {
        "attempted": 1,
        "replayed": [letters[2]["id"]],
        "failed": [],
        "next_after": None,
    }
    assert len(smtp_sink[1].messages) == 3


async def test_bulk_replay_reports_failures(
    client: httpx.AsyncClient, dead_letter: Callable[..., Any], admin: dict[str, str]
) -> None:
    bad = await dead_letter(body=UNDECODABLE)
    good = await dead_letter()

    report = (await client.post(f"{BASE}/replay", headers=admin)).json()

    assert report == {
        "attempted": 2,
        "replayed": [good["id"]],
        "failed": [bad["id"]],
        "next_after": None,
    }


async def test_purge_deletes_the_dead_letter(
    client: httpx.AsyncClient, dead_letter: Callable[..., Any], admin: dict[str, str]
) -> None:
    letter = await dead_letter()

    purged = await client.delete(f"{BASE}/{letter['id']}", headers=admin)

    assert purged.status_code == 204
    assert (await client.get(f"{BASE}/{letter['id']}", headers=admin)).status_code == 404
    assert (await client.delete(f"{BASE}/{letter['id']}", headers=admin)).status_code == 404


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_unknown_dead_letter_is_404(
    client: httpx.AsyncClient, admin: dict[str, str], clean: None, method: str
) -> None:
    path = f"{BASE}/{uuid.uuid4()}" + ("/replay" if method == "POST" else "")

    response = await client.request(method, path, headers=admin)

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_dead_letters_refuse_customers_and_anonymous(
    client: httpx.AsyncClient, token_for: Callable[[list[str]], str]
) -> None:
    customer = {"Authorization": f"Bearer {token_for(['customer'])}"}

    assert (await client.get(BASE, headers=customer)).status_code == 403
    assert (await client.post(f"{BASE}/replay", headers=customer)).status_code == 403
    assert (await client.get(BASE)).status_code == 401


async def test_dead_letters_without_consumer_is_503(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    consumer, service_state(app).consumer = service_state(app).consumer, None
    try:
        response = await client.get(BASE, headers=admin)
    finally:
        service_state(app).consumer = consumer

    assert response.status_code == 503


async def test_list_rejects_unknown_state(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    response = await client.get(BASE, headers=admin, params={"state": "lost"})

    assert response.status_code == 422


async def _audit(client: httpx.AsyncClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/audit", headers=headers, params={"per_page": 100})
    assert response.status_code == 200, response.text
    return list(reversed(response.json()["data"]))  # oldest first


async def test_replay_and_purge_are_audited_with_the_admin(
    client: httpx.AsyncClient,
    dead_letter: Callable[..., Any],
    signing_key: Ed25519PrivateKey,
) -> None:
    admin_id = uuid.uuid4()
    token = forge_access_token(signing_key, roles=["admin"], subject=admin_id)
    named = {"Authorization": f"Bearer {token}"}
    replayed = await dead_letter()
    refused = await dead_letter(email="nobody@refused.example.com")
    purged = await dead_letter()

    await client.post(f"{BASE}/{replayed['id']}/replay", headers=named)
    failed = await client.post(f"{BASE}/{refused['id']}/replay", headers=named)
    await client.delete(f"{BASE}/{purged['id']}", headers=named)

    assert failed.status_code == 409
    entries = await _audit(client, named)
    assert [(e["event"], e["details"]["dead_letter_id"]) for e in entries] == [
        ("dead_letter_replayed", replayed["id"]),
        ("dead_letter_replayed", refused["id"]),
        ("dead_letter_purged", purged["id"]),
    ]
    assert [e["details"].get("applied") for e in entries] == [True, False, None]
    assert {e["actor_id"] for e in entries} == {str(admin_id)}
    assert entries[2]["details"]["event_type"] == "user.registered"


async def test_bulk_replay_audits_each_letter(
    client: httpx.AsyncClient, dead_letter: Callable[..., Any], admin: dict[str, str]
) -> None:
    letters = [await dead_letter() for _ in range(2)]

    await client.post(f"{BASE}/replay", headers=admin)

    entries = await _audit(client, admin)
    assert [e["details"]["dead_letter_id"] for e in entries] == [x["id"] for x in letters]
    assert {e["event"] for e in entries} == {"dead_letter_replayed"}
