"""The simulator's ledger: tokens, charges, refunds and idempotency keys in one SQLite file.

No card number and no CVC is ever written here: a token row keeps the brand, the last four digits,
the expiry and the behaviour of its test card.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

LEDGER_FILE = "ledger.sqlite3"
DB_TIMEOUT_SECONDS = 5.0
SCHEMA = """
CREATE TABLE IF NOT EXISTS tokens (
    id TEXT PRIMARY KEY,
    brand TEXT NOT NULL,
    last4 TEXT NOT NULL,
    exp_month INTEGER NOT NULL,
    exp_year INTEGER NOT NULL,
    behaviour TEXT NOT NULL,
    used INTEGER NOT NULL DEFAULT 0,
    created INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS charges (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    token TEXT NOT NULL,
    amount INTEGER NOT NULL,
    currency TEXT NOT NULL,
    status TEXT NOT NULL,
    decline_code TEXT,
    amount_refunded INTEGER NOT NULL DEFAULT 0,
    idempotency_key TEXT,
    metadata TEXT NOT NULL DEFAULT '{}',
    created INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS refunds (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    charge TEXT NOT NULL REFERENCES charges (id),
    amount INTEGER NOT NULL,
    currency TEXT NOT NULL,
    idempotency_key TEXT,
    created INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS refunds_charge ON refunds (charge);
CREATE TABLE IF NOT EXISTS idempotency_keys (
    key TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    status INTEGER NOT NULL,
    body TEXT NOT NULL,
    created INTEGER NOT NULL
);
"""


def charge_json(row: sqlite3.Row) -> dict[str, Any]:
    """A charge row as the API's ``charge`` object."""
    return {
        "id": row["id"],
        "object": "charge",
        "amount": row["amount"],
        "amount_refunded": row["amount_refunded"],
        "currency": row["currency"],
        "status": row["status"],
        "paid": row["status"] == "succeeded",
        "refunded": row["status"] == "succeeded" and row["amount_refunded"] == row["amount"],
        "failure_code": "card_declined" if row["decline_code"] else None,
        "decline_code": row["decline_code"],
        "source": row["token"],
        "idempotency_key": row["idempotency_key"],
        "metadata": json.loads(row["metadata"]),
        "created": row["created"],
    }


def refund_json(row: sqlite3.Row) -> dict[str, Any]:
    """A refund row as the API's ``refund`` object."""
    return {
        "id": row["id"],
        "object": "refund",
        "charge": row["charge"],
        "amount": row["amount"],
        "currency": row["currency"],
        "status": "succeeded",
        "idempotency_key": row["idempotency_key"],
        "created": row["created"],
    }


class Ledger:
    """The SQLite file of one simulator; each operation opens its own short transaction."""

    def __init__(self, directory: Path) -> None:
        """Create ``directory`` and the tables when missing."""
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.file = directory / LEDGER_FILE
        connection = sqlite3.connect(self.file, timeout=DB_TIMEOUT_SECONDS)
        try:
            connection.executescript(SCHEMA)  # commits on its own, one statement at a time
        finally:
            connection.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A connection in one write transaction (``BEGIN IMMEDIATE``), committed on success.

        Taking the write lock up front makes "look the key up, then charge" one step even if two
        processes ever shared the file.
        """
        connection = sqlite3.connect(self.file, timeout=DB_TIMEOUT_SECONDS, isolation_level=None)
        connection.row_factory = sqlite3.Row
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")
        finally:
            connection.close()

    def charges(self) -> list[dict[str, Any]]:
        """Every charge, newest first."""
        with self.transaction() as db:
            rows = db.execute("SELECT * FROM charges ORDER BY seq DESC")
            return [charge_json(row) for row in rows]

    def refunds(self) -> list[dict[str, Any]]:
        """Every refund, newest first."""
        with self.transaction() as db:
            rows = db.execute("SELECT * FROM refunds ORDER BY seq DESC")
            return [refund_json(row) for row in rows]

    def clear(self) -> None:
        """Forget every token, charge, refund and idempotency key."""
        with self.transaction() as db:
            db.execute("DELETE FROM refunds")
            db.execute("DELETE FROM charges")
            db.execute("DELETE FROM tokens")
            db.execute("DELETE FROM idempotency_keys")
