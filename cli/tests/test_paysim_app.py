"""Unit tests of the payment simulator's HTTP app, in process (ASGI transport, no server)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from agora_cli.paysim.admin import render_ledger
from agora_cli.paysim.app import create_app
from agora_cli.paysim.faults import FaultDice, Faults
from agora_cli.paysim.ledger import Ledger
from agora_cli.paysim.server import build_simulator
from agora_cli.paysim.state import Simulator

CARD = {"number": "4242424242424242", "exp_month": 12, "exp_year": datetime.now(UTC).year + 1}


@pytest.fixture
def simulator(tmp_path: Path) -> Simulator:
    return Simulator(Ledger(tmp_path / "paysim"), dice=FaultDice(0))


@pytest.fixture
async def client(simulator: Simulator) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(simulator))
    async with httpx.AsyncClient(transport=transport, base_url="http://paysim.test") as client:
        yield client


async def new_token(client: httpx.AsyncClient) -> str:
    answer = await client.post("/v1/tokens", json={"card": {**CARD, "cvc": "123"}})
    return str(answer.json()["id"])


async def test_app_charge_refund_and_admin_ledger(client: httpx.AsyncClient) -> None:
    token = await new_token(client)
    body = {"source": token, "amount": 250, "currency": "usd", "metadata": {"order_id": "o-9"}}
    charged = await client.post("/v1/charges", json=body, headers={"Idempotency-Key": "o-9"})
    refunded = await client.post(
        "/v1/refunds", json={"charge": charged.json()["id"]}, headers={"Idempotency-Key": "r-9"}
    )
    ledger = (await client.get("/admin/ledger")).json()
    page = await client.get("/admin")
    cleared = await client.delete("/admin/ledger")
    after = (await client.get("/admin/ledger")).json()

    assert charged.status_code == 200
    assert charged.json()["metadata"] == {"order_id": "o-9"}
    assert (refunded.status_code, refunded.json()["amount"]) == (200, 250)
    assert [c["amount_refunded"] for c in ledger["charges"]] == [250]
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "o-9" in page.text
    assert cleared.status_code == 204
    assert after == {"charges": [], "refunds": []}


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"amount": 1, "currency": "eur"}, "source"),
        ({"source": "tok_x", "amount": "1", "currency": "eur"}, "amount"),
        ({"source": "tok_x", "amount": True, "currency": "eur"}, "amount"),
        ({"source": "tok_x", "amount": 100_000_000, "currency": "eur"}, "amount"),
        ({"source": "tok_x", "amount": 1, "currency": "euro"}, "currency"),
        ({"source": "tok_x", "amount": 1, "currency": "eur", "metadata": {"a": 1}}, "metadata"),
        ({"source": "tok_x", "amount": 1, "currency": "eur", "metadata": [1]}, "metadata"),
    ],
)
async def test_app_charge_bad_params_400_naming_the_param(
    client: httpx.AsyncClient, body: dict[str, object], param: str
) -> None:
    answer = await client.post("/v1/charges", json=body, headers={"Idempotency-Key": "k"})

    assert answer.status_code == 400
    assert answer.json()["error"]["param"] == param


async def test_app_bad_bodies_and_keys_400(client: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "k"}
    not_object = await client.post("/v1/charges", json=[1], headers=headers)
    too_large = await client.post("/v1/charges", content=b" " * 20_000, headers=headers)
    long_key = await client.post("/v1/refunds", json={}, headers={"Idempotency-Key": "k" * 256})
    bad_refund = await client.post(
        "/v1/refunds", json={"charge": "ch_x", "amount": 0}, headers=headers
    )
    no_charge = await client.post("/v1/refunds", json={"amount": 5}, headers=headers)

    assert not_object.json()["error"]["param"] == "body"
    assert too_large.json()["error"]["message"] == "The request body is too large."
    assert long_key.json()["error"]["param"] == "Idempotency-Key"
    assert bad_refund.json()["error"]["param"] == "amount"
    assert no_charge.json()["error"]["code"] == "parameter_missing"


async def test_app_bad_cvc_402_card_error(client: httpx.AsyncClient) -> None:
    answer = await client.post("/v1/tokens", json={"card": {**CARD, "cvc": "12"}})

    assert answer.status_code == 402
    assert answer.json()["error"] == {
        "type": "card_error",
        "code": "invalid_cvc",
        "message": "The CVC is invalid.",
        "param": "card[cvc]",
    }


async def test_app_timeout_records_then_answers_late(
    simulator: Simulator, client: httpx.AsyncClient
) -> None:
    token = await new_token(client)
    simulator.faults = Faults(latency_ms=1, timeout_rate=1.0, timeout_seconds=0.01)
    body = {"source": token, "amount": 5, "currency": "eur"}

    late = await client.post("/v1/charges", json=body, headers={"Idempotency-Key": "k"})

    assert late.status_code == 200
    assert [c["id"] for c in simulator.ledger.charges()] == [late.json()["id"]]


async def test_app_fault_settings_round_trip_and_refusals(client: httpx.AsyncClient) -> None:
    changed = await client.put("/admin/faults", json={"failure_rate": 0.25, "latency_ms": 0})
    not_json = await client.put("/admin/faults", content=b"nope")
    not_object = await client.put("/admin/faults", json=[0.5])
    unknown = await client.put("/admin/faults", json={"loss": 1})

    assert changed.json() == {
        "latency_ms": 0,
        "failure_rate": 0.25,
        "timeout_rate": 0.0,
        "timeout_seconds": 30.0,
    }
    for refused in (not_json, not_object, unknown):
        assert refused.status_code == 422
        assert refused.headers["content-type"] == "application/problem+json"
    assert (await client.get("/admin/faults")).json()["failure_rate"] == 0.25


def test_render_ledger_escapes_what_clients_sent() -> None:
    charge = {"id": "ch_1", "amount": 5, "idempotency_key": "<script>", "metadata": {"a": "<b>"}}

    html = render_ledger([charge], [], {"latency_ms": 0})

    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "No refunds yet." in html


def test_build_simulator_reads_faults_and_seed(tmp_path: Path) -> None:
    simulator = build_simulator(
        tmp_path, {"AGORA_PAYSIM_LATENCY_MS": "5", "AGORA_PAYSIM_SEED": "3"}
    )

    assert simulator.faults.latency_ms == 5
    assert simulator.ledger.file == tmp_path / "ledger.sqlite3"
    assert simulator.dice.random.random() == FaultDice(3).random.random()
