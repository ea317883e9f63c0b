"""Helpers for the delivery fault tests: register users, read the mail sink, JetStream and outbox.

Each helper looks at one private stack (an :class:`AgoraRun`). Waiting is done by deadline polls on
observable state (mails in the sink, the notification consumer's acks, the identity outbox), never
by sleeping alone.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.system.stack import AgoraRun

PASSWORD = "Correct-Horse-9"
WELCOME_SUBJECT = "Welcome to Agora"
STREAM = "AGORA_USER"
CONSUMER = "notification-user_registered"
CONCURRENCY = 10
DELIVERY_DEADLINE_SECONDS = 120.0
QUIET_SECONDS = 3.0
POLL_SECONDS = 0.25
MAIL_PAGE_SIZE = 100  # the sink's largest page


def addresses(tag: str, count: int = 100) -> list[str]:
    """``count`` addresses no other scenario (or run) uses, e.g. ``broker-3f2a9c1d-007@...``."""
    run = uuid.uuid4().hex[:8]
    return [f"{tag}-{run}-{index:03d}@example.com" for index in range(count)]


def gateway_url(agora: AgoraRun) -> str:
    """The stack's public base URL."""
    return f"http://127.0.0.1:{agora.port('AGORA_GATEWAY_PORT')}"


async def register_all(
    agora: AgoraRun,
    emails: Sequence[str],
    *,
    after: int | None = None,
    action: Callable[[], Coroutine[Any, Any, None]] | None = None,
) -> float:
    """Register every address through the gateway, ``CONCURRENCY`` at a time; each must get 201.

    Args:
        agora: The stack.
        emails: The addresses to register.
        after: Once this many registrations have succeeded, ``action`` starts, while the rest of
            the registrations go on.
        action: What to do part-way (e.g. stop the broker); awaited before returning.

    Returns:
        How long the registrations took, in seconds.
    """
    start = time.monotonic()
    gate, done, started = asyncio.Semaphore(CONCURRENCY), 0, asyncio.Event()
    tasks: list[asyncio.Task[None]] = []

    async def register(api: httpx.AsyncClient, email: str) -> None:
        nonlocal done
        async with gate:
            body = {"email": email, "password": PASSWORD, "full_name": f"User {email[:18]}"}
            response = await api.post("/api/v1/auth/register", json=body)
        assert response.status_code == 201, (email, response.status_code, response.text)
        done += 1
        if action is not None and done == after and not started.is_set():
            started.set()
            tasks.append(asyncio.create_task(action()))

    async with httpx.AsyncClient(base_url=gateway_url(agora), timeout=60) as api:
        await asyncio.gather(*(register(api, email) for email in emails))
    await asyncio.gather(*tasks)
    assert action is None or started.is_set(), "the action never ran"
    return time.monotonic() - start


def mail_api_url(agora: AgoraRun) -> str:
    """The mail sink's JSON API (``/mail/api/messages``) on the operator entrypoint."""
    return f"{agora.operator_url}/mail/api/messages"


def all_mail(agora: AgoraRun) -> list[dict[str, Any]]:
    """Every message in the sink, newest first, read page by page."""
    mails: list[dict[str, Any]] = []
    page, pages = 1, 1
    while page <= pages:
        listed = httpx.get(
            mail_api_url(agora), params={"page": page, "per_page": MAIL_PAGE_SIZE}, timeout=30
        )
        listed.raise_for_status()
        body = listed.json()
        mails.extend(body["data"])
        page, pages = page + 1, body["total_pages"]
    return mails


def welcome_counts(agora: AgoraRun, emails: Sequence[str]) -> Counter[str]:
    """How many welcome mails each of ``emails`` has in the sink (addresses with none left out)."""
    wanted = set(emails)
    return Counter(
        mail["to"].lower()
        for mail in all_mail(agora)
        if mail["to"].lower() in wanted and mail["subject"] == WELCOME_SUBJECT
    )


def jetstream(agora: AgoraRun) -> dict[str, Any]:
    """The ``AGORA_USER`` stream's detail from the NATS monitor, consumers included."""
    port = agora.port("AGORA_NATS_MONITOR_PORT")
    answer = httpx.get(
        f"http://127.0.0.1:{port}/jsz", params={"streams": "true", "consumers": "true"}, timeout=5
    )
    answer.raise_for_status()
    for account in answer.json().get("account_details", []):
        for stream in account.get("stream_detail", []):
            if stream["name"] == STREAM:
                return dict(stream)
    return {"state": {"last_seq": 0, "messages": 0}, "consumer_detail": []}


def published_by_identity(agora: AgoraRun) -> int:
    """How many ``user.registered`` events identity's relay published since its process started."""
    exposition = httpx.get(f"{agora.operator_url}/identity/metrics", timeout=30).text
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if (
                sample.name == "agora_events_published_total"
                and sample.labels.get("event_type") == "user.registered"
            ):
                return int(sample.value)
    return 0


def stream_last_seq(agora: AgoraRun) -> int:
    """The sequence number of the newest message in the stream (0 when it is empty or absent)."""
    return int(jetstream(agora)["state"]["last_seq"])


def consumer_caught_up(agora: AgoraRun) -> bool:
    """Tell whether the notification consumer has acknowledged every message of the stream."""
    stream = jetstream(agora)
    last = stream["state"]["last_seq"]
    return any(
        consumer["name"] == CONSUMER
        and consumer["num_pending"] == 0
        and consumer["num_ack_pending"] == 0
        and consumer["ack_floor"]["stream_seq"] == last
        for consumer in stream.get("consumer_detail", [])
    )


async def query(agora: AgoraRun, database: str, sql: str) -> list[asyncpg.Record]:
    """Run ``sql`` in a service's database, as that service's role (password in secrets.json)."""
    secrets = json.loads((agora.data_dir / "secrets.json").read_text(encoding="utf-8"))
    connection = await asyncpg.connect(
        host="127.0.0.1",
        port=agora.port("AGORA_POSTGRES_PORT"),
        user=database,
        password=secrets[f"postgres/{database}"],
        database=database,
    )
    try:
        return list(await connection.fetch(sql))
    finally:
        await connection.close()


async def outbox_pending(agora: AgoraRun) -> int:
    """How many identity outbox rows the relay has not published (committed) yet."""
    rows = await query(agora, "identity", "SELECT count(*) FROM outbox WHERE published_at IS NULL")
    return int(rows[0][0])


async def dead_letters(agora: AgoraRun) -> list[str]:
    """The notification service's dead letters (error lines), for failure messages."""
    rows = await query(agora, "notification", "SELECT error FROM dead_letters")
    return [str(row[0]).splitlines()[0] if row[0] else "" for row in rows]


@dataclass(frozen=True)
class Delivery:
    """What the mail sink holds for one scenario once the system went quiet."""

    counts: Counter[str]
    seconds: float


async def _quiet(agora: AgoraRun, emails: Sequence[str]) -> bool:
    """All mails there, nothing left in the outbox, every stream message acknowledged."""
    return (
        len(welcome_counts(agora, emails)) == len(emails)
        and await outbox_pending(agora) == 0
        and consumer_caught_up(agora)
    )


async def wait_for_delivery(
    agora: AgoraRun, emails: Sequence[str], deadline: float = DELIVERY_DEADLINE_SECONDS
) -> Delivery:
    """Wait until every address has mail and the system stayed quiet ``QUIET_SECONDS``.

    Quiet means: the outbox is empty and the notification consumer acknowledged every message in
    the stream, so no late duplicate can still be on its way. Returns what arrived by then, or at
    the deadline (the caller's assertions then say what is missing).
    """
    start = time.monotonic()
    quiet_since: float | None = None
    while time.monotonic() - start < deadline:
        if await _quiet(agora, emails):
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since >= QUIET_SECONDS:
                break
        else:
            quiet_since = None
        await asyncio.sleep(POLL_SECONDS)
    return Delivery(welcome_counts(agora, emails), time.monotonic() - start)


async def assert_each_welcomed_once(agora: AgoraRun, emails: Sequence[str]) -> Delivery:
    """Wait for the delivery, then assert exactly one welcome mail per address, none elsewhere."""
    delivery = await wait_for_delivery(agora, emails)
    missing = sorted(set(emails) - set(delivery.counts))
    twice = {email: n for email, n in delivery.counts.items() if n != 1}
    letters = await dead_letters(agora) if missing else []
    assert (missing, twice) == ([], {}), (
        f"{len(missing)} missing, {len(twice)} more than once after {delivery.seconds:.0f}s; "
        f"missing {missing[:5]}, duplicated {list(twice.items())[:5]}, "
        f"outbox pending {await outbox_pending(agora)}, dead letters {letters[:5]}, "
        f"stream {jetstream(agora)}"
    )
    assert sum(delivery.counts.values()) == len(emails)
    return delivery
