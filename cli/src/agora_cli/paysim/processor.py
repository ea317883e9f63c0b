"""What the simulated processor does: tokenise cards, charge tokens, refund charges, exactly once.

A charge or refund runs in one ledger transaction with its idempotency key: the key is looked up,
the work done and its answer stored together, so the same key never charges twice. An answer is
stored once the processor acted on the request (a charge, succeeded or declined; a refund); a
request refused for bad input stores nothing, so it can be corrected and sent again with its key.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agora_cli.paysim.cards import Behaviour, Card
from agora_cli.paysim.ledger import Ledger, charge_json, refund_json

ID_BYTES = 12
HTTP_OK = 200
HTTP_BAD_REQUEST = 400
HTTP_PAYMENT_REQUIRED = 402
HTTP_NOT_FOUND = 404
STORED_STATUSES = (HTTP_OK, HTTP_PAYMENT_REQUIRED)
DECLINE_CODES = {
    Behaviour.DECLINED: "generic_decline",
    Behaviour.INSUFFICIENT_FUNDS: "insufficient_funds",
}
DECLINE_MESSAGES = {
    Behaviour.DECLINED: "Your card was declined.",
    Behaviour.INSUFFICIENT_FUNDS: "Your card has insufficient funds.",
}


class ApiError(Exception):
    """A refusal, answered as Stripe's ``{"error": {...}}`` object.

    Attributes:
        status: The HTTP status.
        body: The error object (``type``, ``code``, ``message`` and, as they apply, ``param``,
            ``decline_code``, ``charge``).
    """

    def __init__(self, status: int, error_type: str, code: str, message: str, **extra: str) -> None:
        """Describe the refusal; ``extra`` adds ``param``, ``decline_code`` or ``charge``."""
        super().__init__(message)
        self.status = status
        self.body = {"type": error_type, "code": code, "message": message, **extra}


def invalid_request(
    code: str, message: str, param: str, status: int = HTTP_BAD_REQUEST
) -> ApiError:
    """An ``invalid_request_error`` naming the parameter at fault."""
    return ApiError(status, "invalid_request_error", code, message, param=param)


@dataclass(frozen=True)
class Outcome:
    """An answer of the processor.

    Attributes:
        status: The HTTP status.
        body: The JSON body.
        replayed: True when it is the stored answer of an earlier request with the same key.
    """

    status: int
    body: dict[str, Any]
    replayed: bool = False


@dataclass(frozen=True)
class ChargeRequest:
    """A validated ``POST /v1/charges``: amount in minor units of ``currency``."""

    source: str
    amount: int
    currency: str
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RefundRequest:
    """A validated ``POST /v1/refunds``; no ``amount`` refunds what is left of the charge."""

    charge: str
    amount: int | None = None


def new_id(prefix: str) -> str:
    """An opaque random id such as ``ch_3f9a...``."""
    return f"{prefix}_{secrets.token_hex(ID_BYTES)}"


def fingerprint(path: str, params: dict[str, Any]) -> str:
    """A digest of the request, to tell a retry from another request reusing its key."""
    canonical = json.dumps({"path": path, "params": params}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def create_token(ledger: Ledger, card: Card) -> dict[str, Any]:
    """Store ``card`` (never its number) under a new single-use token; return the token object."""
    token = {
        "id": new_id("tok"),
        "object": "token",
        "type": "card",
        "card": {
            "brand": card.brand,
            "last4": card.last4,
            "exp_month": card.exp_month,
            "exp_year": card.exp_year,
        },
        "used": False,
        "created": int(time.time()),
    }
    with ledger.transaction() as db:
        db.execute(
            "INSERT INTO tokens (id, brand, last4, exp_month, exp_year, behaviour, created) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                token["id"],
                card.brand,
                card.last4,
                card.exp_month,
                card.exp_year,
                card.behaviour,
                token["created"],
            ),
        )
    return token


def _replay(db: sqlite3.Connection, key: str, digest: str) -> Outcome | None:
    """The stored answer of ``key``, None when it is new.

    Raises:
        ApiError: ``idempotency_error`` when the key was used for a different request.
    """
    row = db.execute(
        "SELECT fingerprint, status, body FROM idempotency_keys WHERE key = ?", (key,)
    ).fetchone()
    if row is None:
        return None
    if row["fingerprint"] != digest:
        raise ApiError(
            HTTP_BAD_REQUEST,
            "idempotency_error",
            "idempotency_key_in_use",
            "This idempotency key was used with different parameters.",
        )
    return Outcome(row["status"], json.loads(row["body"]), replayed=True)


def _remember(db: sqlite3.Connection, key: str, digest: str, outcome: Outcome) -> None:
    db.execute(
        "INSERT INTO idempotency_keys (key, fingerprint, status, body, created) "
        "VALUES (?, ?, ?, ?, ?)",
        (key, digest, outcome.status, json.dumps(outcome.body), int(time.time())),
    )


def _consume_token(db: sqlite3.Connection, token_id: str) -> Behaviour:
    """Mark the token used and return its card's behaviour.

    Raises:
        ApiError: No such token, or it was already used.
    """
    row = db.execute("SELECT behaviour, used FROM tokens WHERE id = ?", (token_id,)).fetchone()
    if row is None:
        raise invalid_request(
            "resource_missing", f"No such token: '{token_id}'", "source", HTTP_NOT_FOUND
        )
    if row["used"]:
        raise invalid_request(
            "token_already_used", "You cannot use a token more than once.", "source"
        )
    db.execute("UPDATE tokens SET used = 1 WHERE id = ?", (token_id,))
    return Behaviour(row["behaviour"])


def _charge(db: sqlite3.Connection, request: ChargeRequest, key: str) -> Outcome:
    """Charge the token once: a ``charge`` (200) or a decline (402), both recorded."""
    behaviour = _consume_token(db, request.source)
    charge_id = new_id("ch")
    decline_code = DECLINE_CODES.get(behaviour)
    db.execute(
        "INSERT INTO charges (id, token, amount, currency, status, decline_code, "
        "idempotency_key, metadata, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            charge_id,
            request.source,
            request.amount,
            request.currency,
            "failed" if decline_code else "succeeded",
            decline_code,
            key,
            json.dumps(request.metadata),
            int(time.time()),
        ),
    )
    if decline_code is None:
        return Outcome(HTTP_OK, _charge_by_id(db, charge_id))
    error = ApiError(
        HTTP_PAYMENT_REQUIRED,
        "card_error",
        "card_declined",
        DECLINE_MESSAGES[behaviour],
        decline_code=decline_code,
        charge=charge_id,
    )
    return Outcome(error.status, {"error": error.body})


def _charge_by_id(db: sqlite3.Connection, charge_id: str) -> dict[str, Any]:
    row = db.execute("SELECT * FROM charges WHERE id = ?", (charge_id,)).fetchone()
    if row is None:
        raise invalid_request(
            "resource_missing", f"No such charge: '{charge_id}'", "charge", HTTP_NOT_FOUND
        )
    return charge_json(row)


def _idempotent(
    ledger: Ledger,
    key: str,
    path: str,
    params: dict[str, Any],
    work: Callable[[sqlite3.Connection], Outcome],
) -> Outcome:
    """Replay the answer stored under ``key``, else do ``work`` and store its answer with it."""
    digest = fingerprint(path, params)
    with ledger.transaction() as db:
        stored = _replay(db, key, digest)
        if stored is not None:
            return stored
        outcome = work(db)
        if outcome.status in STORED_STATUSES:
            _remember(db, key, digest, outcome)
        return outcome


def create_charge(ledger: Ledger, request: ChargeRequest, key: str) -> Outcome:
    """Charge ``request.source`` once per idempotency ``key``.

    Raises:
        ApiError: Bad input (no such token, token used, key reused with other parameters).
    """
    params = {
        "source": request.source,
        "amount": request.amount,
        "currency": request.currency,
        "metadata": request.metadata,
    }
    return _idempotent(ledger, key, "/v1/charges", params, lambda db: _charge(db, request, key))


def _refund(db: sqlite3.Connection, request: RefundRequest, key: str) -> Outcome:
    """Refund ``request.amount`` (or what is left) of a succeeded charge."""
    charge = _charge_by_id(db, request.charge)
    if charge["status"] != "succeeded":
        raise invalid_request(
            "charge_not_refundable", "Only a succeeded charge can be refunded.", "charge"
        )
    left = charge["amount"] - charge["amount_refunded"]
    if left == 0:
        raise invalid_request(
            "charge_already_refunded", "The charge has already been refunded.", "charge"
        )
    amount = left if request.amount is None else request.amount
    if amount > left:
        raise invalid_request(
            "amount_too_large",
            f"Refund amount ({amount}) is greater than the unrefunded amount ({left}).",
            "amount",
        )
    refund_id = new_id("re")
    db.execute(
        "INSERT INTO refunds (id, charge, amount, currency, idempotency_key, created) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (refund_id, charge["id"], amount, charge["currency"], key, int(time.time())),
    )
    db.execute(
        "UPDATE charges SET amount_refunded = amount_refunded + ? WHERE id = ?",
        (amount, charge["id"]),
    )
    row = db.execute("SELECT * FROM refunds WHERE id = ?", (refund_id,)).fetchone()
    return Outcome(HTTP_OK, refund_json(row))


def create_refund(ledger: Ledger, request: RefundRequest, key: str) -> Outcome:
    """Refund a charge once per idempotency ``key``.

    Raises:
        ApiError: Bad input (no such charge, not refundable, more than is left).
    """
    params = {"charge": request.charge, "amount": request.amount}
    return _idempotent(ledger, key, "/v1/refunds", params, lambda db: _refund(db, request, key))


def get_charge(ledger: Ledger, charge_id: str) -> dict[str, Any]:
    """The charge ``charge_id`` as it is now (refunds included).

    Raises:
        ApiError: 404 when there is none.
    """
    with ledger.transaction() as db:
        return _charge_by_id(db, charge_id)
