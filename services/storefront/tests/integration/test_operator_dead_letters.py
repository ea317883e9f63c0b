"""The dead-letter pages against a real stack: a welcome mail that cannot be sent (the mail sink is
stopped) ends in notification's dead letters; the operator inspects it, replays it (failing while
the sink is down, applied once it is back) and purges it after confirming."""

from __future__ import annotations

import asyncio
import re
import time

import httpx
import pytest

from services.storefront.tests.integration.arrange_operator import customer
from services.storefront.tests.integration.shop import ADMIN_EMAIL, ADMIN_PASSWORD, Shopper
from tests.system.stack import AgoraRun

pytestmark = pytest.mark.integration

LETTER_LINK = re.compile(r'href="/admin/dead-letters/(\w+)/([0-9a-f-]{36})"')
DEADLINE_SECONDS = 60.0
POLL_SECONDS = 0.5


def letters_on(html: str) -> set[tuple[str, str]]:
    """The (service, id) of every dead letter a page links to."""
    return set(LETTER_LINK.findall(html))


async def new_letter(operator: Shopper, known: set[tuple[str, str]]) -> tuple[str, str]:
    """The first pending dead letter that is not in ``known`` (waits for the retries to end)."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        page = await operator.get("/admin/dead-letters")
        assert page.status_code == 200, f"the dead letters page answered {page.status_code}"
        if fresh := letters_on(page.text) - known:
            return min(fresh)
        await asyncio.sleep(POLL_SECONDS)
    raise AssertionError(f"no new dead letter after {DEADLINE_SECONDS}s")


async def mail_to(stack: AgoraRun, email: str) -> list[str]:
    """Subjects of the mail the sink holds for ``email``."""
    async with httpx.AsyncClient(timeout=30) as sink:
        listed = await sink.get(f"{stack.operator_url}/mail/api/messages", params={"per_page": 100})
    assert listed.status_code == 200, f"the mail sink answered {listed.status_code}"
    return [str(m.get("subject")) for m in listed.json()["data"] if email in str(m.get("to"))]


async def dead_letter_while_mail_is_down(
    operator: Shopper, stack: AgoraRun, api: httpx.AsyncClient
) -> tuple[str, str, str]:
    """Register while the sink is stopped: (service, letter id, the new customer's e-mail).

    A replay tried before the sink is back fails again; the page says so.
    """
    known = letters_on((await operator.get("/admin/dead-letters?state=all")).text)
    stopped = stack("stop", "mail")
    assert stopped.returncode == 0, f"agora stop mail failed: {stopped.stderr}"
    try:
        email = (await customer(api, "dead-letter")).email
        service, letter_id = await new_letter(operator, known)
        failed = await operator.post(f"/admin/dead-letters/{service}/{letter_id}/replay")
        assert failed.status_code == 200
        assert "The replay failed again" in failed.text, "a replay while the sink is down fails"
        assert '<dd class="letter-state">pending</dd>' in failed.text
    finally:
        started = stack("start", "mail")
        assert started.returncode == 0, f"agora start mail failed: {started.stderr}"
    return service, letter_id, email


async def test_a_dead_letter_is_inspected_replayed_and_purged(
    shopper: Shopper, stack: AgoraRun, api: httpx.AsyncClient
) -> None:
    await shopper.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD)
    service, letter_id, email = await dead_letter_while_mail_is_down(shopper, stack, api)
    listed = await shopper.get("/admin/dead-letters")
    row = re.search(rf'<tr id="letter-{letter_id}">(.*?)</tr>', listed.text, re.DOTALL)
    assert row, "the pending list shows the letter"
    assert '<td data-label="Service">notification</td>' in row.group(1)
    assert "user.registered" in row.group(1)
    assert "SMTP" in row.group(1), "the error says the mail could not be sent"
    assert ">Replay</button>" in row.group(1)
    assert ">Purge</a>" in row.group(1)

    shown = await shopper.get(f"/admin/dead-letters/{service}/{letter_id}")
    assert shown.status_code == 200
    assert email in shown.text, "the payload is shown"
    assert "Traceback" in shown.text

    replayed = await shopper.post(f"/admin/dead-letters/{service}/{letter_id}/replay")
    assert "Replayed: the event was applied this time." in replayed.text
    assert '<dd class="letter-state">replayed' in replayed.text
    assert await mail_to(stack, email), "the replay sent the welcome mail"
    pending = await shopper.get("/admin/dead-letters")
    assert (service, letter_id) not in letters_on(pending.text)
    done = await shopper.get("/admin/dead-letters?state=replayed")
    assert (service, letter_id) in letters_on(done.text)

    purge_path = f"/admin/dead-letters/{service}/{letter_id}/purge"
    confirm = await shopper.get(purge_path)
    assert 'name="confirm" type="checkbox"' in confirm.text
    unconfirmed = await shopper.post(purge_path)
    assert unconfirmed.status_code == 400
    assert "Tick the box to confirm" in unconfirmed.text
    purged = await shopper.post(purge_path, {"confirm": "yes"})
    assert f"Purged dead letter {letter_id}." in purged.text
    gone = await shopper.get(f"/admin/dead-letters/{service}/{letter_id}")
    assert gone.status_code == 404, "the purged letter is gone"
