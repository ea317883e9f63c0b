"""Integration tests: the payment simulator as a real process, called over real HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from agora_cli.infra.paysim import EmbeddedPaySim, PaySimError
from agora_cli.infra.ports import free_port

pytestmark = pytest.mark.integration
NUMBERS = {
    "succeeds": "4242 4242 4242 4242",
    "declines": "4000 0000 0000 0002",
    "insufficient": "4000 0000 0000 9995",
}
CARD_DIGITS = ("4242424242424242", "4000000000000002", "4000000000009995")
SHORT_DEADLINE_SECONDS = 1.0
# The simulated timeout must outlast the client's deadline by far, and `stop` must not wait it out.
HELD_BACK_SECONDS = 30


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[EmbeddedPaySim]:
    simulator = EmbeddedPaySim(
        tmp_path / "paysim", free_port(), tmp_path / "paysim.log", tmp_path / "paysim.pid"
    )
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture
def api(sim: EmbeddedPaySim) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.url, timeout=5) as client:
        yield client


def token(api: httpx.Client, card: str = "succeeds") -> str:
    """A token for one of the test cards."""
    body = {
        "card": {"number": NUMBERS[card], "exp_month": 12, "exp_year": _next_year(), "cvc": "123"}
    }
    answer = api.post("/v1/tokens", json=body)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["id"])


def _next_year() -> int:
    return datetime.now(UTC).year + 1


def charge(
    api: httpx.Client, source: str, key: str, amount: int = 1999, timeout: float = 5
) -> httpx.Response:
    body: dict[str, Any] = {"source": source, "amount": amount, "currency": "EUR"}
    return api.post("/v1/charges", json=body, headers={"Idempotency-Key": key}, timeout=timeout)


def set_faults(api: httpx.Client, **faults: float) -> None:
    answer = api.put("/admin/faults", json=faults)
    assert answer.status_code == 200, answer.text


def test_paysim_tokens_charges_and_declines_over_http(api: httpx.Client) -> None:
    answers = [charge(api, token(api, card), f"key-{card}") for card in NUMBERS]
    fetched = api.get(f"/v1/charges/{answers[0].json()['id']}")

    assert [a.status_code for a in answers] == [200, 402, 402]
    first = answers[0].json()
    assert (first["object"], first["status"], first["amount"], first["currency"]) == (
        "charge",
        "succeeded",
        1999,
        "eur",
    )
    assert fetched.json() == first
    errors = [a.json()["error"] for a in answers[1:]]
    assert [(e["type"], e["code"], e["decline_code"]) for e in errors] == [
        ("card_error", "card_declined", "generic_decline"),
        ("card_error", "card_declined", "insufficient_funds"),
    ]
    assert api.get("/v1/charges/ch_unknown").status_code == 404


def test_paysim_bad_input_is_400_or_402_with_the_param(api: httpx.Client) -> None:
    bad_number = {
        "card": {"number": "4242 4242 4242 4241", "exp_month": 1, "exp_year": 2099, "cvc": "1"}
    }
    expired = {
        "card": {"number": NUMBERS["succeeds"], "exp_month": 1, "exp_year": 2020, "cvc": "123"}
    }
    missing = {"card": {"number": NUMBERS["succeeds"]}}

    answers = [api.post("/v1/tokens", json=body) for body in (bad_number, expired, missing)]
    not_json = api.post(
        "/v1/tokens", content=b"{nope", headers={"Content-Type": "application/json"}
    )
    no_key = api.post("/v1/charges", json={"source": "tok_x", "amount": 1, "currency": "eur"})
    bad_amount = charge(api, token(api), "k", amount=0)

    assert [(a.status_code, a.json()["error"]["code"]) for a in answers] == [
        (402, "invalid_number"),
        (402, "invalid_expiry_year"),
        (400, "parameter_missing"),
    ]
    assert answers[2].json()["error"]["param"] == "card[exp_month]"
    assert (not_json.status_code, not_json.json()["error"]["type"]) == (
        400,
        "invalid_request_error",
    )
    assert (no_key.status_code, no_key.json()["error"]["code"]) == (400, "idempotency_key_missing")
    assert (bad_amount.status_code, bad_amount.json()["error"]["param"]) == (400, "amount")


def test_paysim_same_idempotency_key_charges_once(api: httpx.Client) -> None:
    source = token(api)

    first = charge(api, source, "order-42")
    retry = charge(api, source, "order-42")
    other_params = charge(api, source, "order-42", amount=1)
    ledger = api.get("/admin/ledger").json()

    assert (first.status_code, retry.status_code) == (200, 200)
    assert retry.json()["id"] == first.json()["id"]
    assert retry.headers.get("Idempotent-Replayed") == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert (other_params.status_code, other_params.json()["error"]["type"]) == (
        400,
        "idempotency_error",
    )
    assert [c["id"] for c in ledger["charges"]] == [first.json()["id"]]


def test_paysim_refunds_full_partial_and_too_much(api: httpx.Client) -> None:
    first = charge(api, token(api), "c1", amount=1000).json()["id"]
    second = charge(api, token(api), "c2", amount=1000).json()["id"]

    def refund(body: dict[str, Any], key: str) -> httpx.Response:
        return api.post("/v1/refunds", json=body, headers={"Idempotency-Key": key})

    full = refund({"charge": first}, "r1")
    partial = refund({"charge": second, "amount": 300}, "r2")
    too_much = refund({"charge": second, "amount": 701}, "r3")
    missing = refund({"charge": "ch_nope"}, "r4")
    ledger = api.get("/admin/ledger").json()

    assert (full.status_code, full.json()["amount"]) == (200, 1000)
    assert (partial.status_code, partial.json()["amount"]) == (200, 300)
    assert (too_much.status_code, too_much.json()["error"]["code"]) == (400, "amount_too_large")
    assert missing.status_code == 404
    assert sorted(r["amount"] for r in ledger["refunds"]) == [300, 1000]
    refunded = {c["id"]: c["amount_refunded"] for c in ledger["charges"]}
    assert refunded == {first: 1000, second: 300}


def test_paysim_failure_rate_one_answers_500_and_records_nothing(api: httpx.Client) -> None:
    source = token(api)
    set_faults(api, failure_rate=1.0)

    failed = charge(api, source, "k")
    failed_token = api.post("/v1/tokens", json={})
    ledger_during = api.get("/admin/ledger").json()
    set_faults(api, failure_rate=0.0)
    recovered = charge(api, source, "k")

    assert (failed.status_code, failed.json()["error"]["type"]) == (500, "api_error")
    assert failed_token.status_code == 500
    assert ledger_during["charges"] == []
    assert recovered.status_code == 200
    assert "Idempotent-Replayed" not in recovered.headers


def test_paysim_timeout_charges_first_and_the_retry_replays_it(api: httpx.Client) -> None:
    source = token(api)
    set_faults(api, timeout_rate=1.0, timeout_seconds=HELD_BACK_SECONDS)

    began = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        charge(api, source, "order-7", timeout=SHORT_DEADLINE_SECONDS)
    waited = time.monotonic() - began
    recorded = api.get("/admin/ledger").json()["charges"]
    set_faults(api, timeout_rate=0.0)
    retry = charge(api, source, "order-7")

    assert waited < HELD_BACK_SECONDS / 2
    assert [c["idempotency_key"] for c in recorded] == ["order-7"]
    assert retry.status_code == 200
    assert retry.headers.get("Idempotent-Replayed") == "true"
    assert retry.json()["id"] == recorded[0]["id"]
    assert len(api.get("/admin/ledger").json()["charges"]) == 1


def test_paysim_latency_delays_each_answer(api: httpx.Client) -> None:
    set_faults(api, latency_ms=300)
    began = time.monotonic()
    answer = api.get("/v1/charges/ch_nope")
    elapsed = time.monotonic() - began

    assert answer.status_code == 404
    assert elapsed >= 0.3
    assert api.put("/admin/faults", json={"failure_rate": 2}).status_code == 422
    assert api.get("/admin/faults").json()["latency_ms"] == 300


def test_paysim_log_and_ledger_never_hold_the_card_number(
    sim: EmbeddedPaySim, api: httpx.Client
) -> None:
    for card in NUMBERS:
        charge(api, token(api, card), f"key-{card}")
    api.post(
        "/v1/tokens",
        json={
            "card": {
                "number": "4242424242424241",
                "exp_month": 1,
                "exp_year": _next_year(),
                "cvc": "123",
            }
        },
    )
    page = api.get("/admin")
    sim.stop()

    stored = b"".join(path.read_bytes() for path in sim.data_dir.iterdir())
    log = sim.log_file.read_bytes()
    assert page.status_code == 200
    assert "key-succeeds" in page.text
    assert b"token tok_" in log  # the log is written, so the search below means something
    for digits in (*CARD_DIGITS, "4242424242424241"):
        spaced = " ".join(digits[i : i + 4] for i in range(0, 16, 4))
        for text in (digits, spaced):
            assert text.encode() not in stored
            assert text.encode() not in log
            assert text not in page.text


def test_paysim_stops_promptly_while_an_answer_is_held_back(
    sim: EmbeddedPaySim, api: httpx.Client
) -> None:
    set_faults(api, timeout_rate=1.0, timeout_seconds=HELD_BACK_SECONDS)
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{sim.url}/v1/tokens", json={}, timeout=SHORT_DEADLINE_SECONDS)

    began = time.monotonic()
    sim.stop()

    assert time.monotonic() - began < HELD_BACK_SECONDS / 3
    assert not sim.is_running()


def test_paysim_without_admin_serves_the_api_only(tmp_path: Path) -> None:
    sim = EmbeddedPaySim(
        tmp_path / "p", free_port(), tmp_path / "p.log", tmp_path / "p.pid", admin=False
    )
    try:
        sim.start()
        admin = httpx.get(f"{sim.url}/admin/ledger")
        health = httpx.get(f"{sim.url}/health")
    finally:
        sim.stop()

    assert admin.status_code == 404
    assert health.json() == {"status": "ok"}


def test_paysim_bad_fault_setting_fails_the_start_with_its_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGORA_PAYSIM_FAILURE_RATE", "3")
    sim = EmbeddedPaySim(tmp_path / "p", free_port(), tmp_path / "p.log", tmp_path / "p.pid")

    with pytest.raises(PaySimError, match="failure_rate"):
        sim.start()
    assert sim.healthy() is False
