"""The Maildir the sink writes to, its arrival-order index, and the parsing of stored messages."""

from __future__ import annotations

import email.policy
import mailbox
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

ENVELOPE_FROM = "X-Agora-Envelope-From"
ENVELOPE_TO = "X-Agora-Envelope-To"


@dataclass(frozen=True)
class MailRecord:
    """One received message as the web view and the JSON API show it.

    Attributes:
        id: Maildir key of the message.
        sender: ``From`` header, else the SMTP envelope sender.
        to: ``To`` header, else the SMTP envelope recipients.
        subject: ``Subject`` header (empty when missing).
        date: ISO 8601 time from the ``Date`` header, else the delivery time.
        text: The ``text/plain`` body, if any.
        html: The ``text/html`` body, if any (never trusted: rendered sandboxed).
        received: Delivery time in seconds since the epoch (for newest-first ordering).
    """

    id: str
    sender: str
    to: str
    subject: str
    date: str
    text: str | None
    html: str | None
    received: float

    def as_json(self) -> dict[str, Any]:
        """The JSON object of the API (``from`` rather than ``sender``)."""
        return {
            "id": self.id,
            "from": self.sender,
            "to": self.to,
            "subject": self.subject,
            "date": self.date,
            "text": self.text,
            "html": self.html,
        }


def envelope_headers(mail_from: str | None, rcpt_tos: list[str]) -> bytes:
    """Header lines recording the SMTP envelope, prepended to the stored message."""
    sender = (mail_from or "").replace("\r", "").replace("\n", "")
    recipients = ", ".join(r.replace("\r", "").replace("\n", "") for r in rcpt_tos)
    return f"{ENVELOPE_FROM}: {sender}\r\n{ENVELOPE_TO}: {recipients}\r\n".encode()


def _part(message: EmailMessage, subtype: str) -> str | None:
    """The decoded body of the preferred ``text/<subtype>`` part, or None."""
    body = message.get_body(preferencelist=(subtype,))
    if body is None:
        return None
    content = body.get_content()
    return content.replace("\r\n", "\n") if isinstance(content, str) else None


def _date(message: EmailMessage, received: float) -> str:
    """The ``Date`` header as ISO 8601, else the delivery time."""
    raw = message.get("Date")
    if raw:
        try:
            return parsedate_to_datetime(str(raw)).isoformat()
        except (TypeError, ValueError):
            pass
    return datetime.fromtimestamp(received, UTC).isoformat()


def parse_message(key: str, raw: bytes, received: float) -> MailRecord:
    """Turn the stored bytes of one message into a :class:`MailRecord`.

    Args:
        key: The Maildir key.
        raw: The message as stored (envelope headers first).
        received: Delivery time in seconds since the epoch.
    """
    message = email.message_from_bytes(raw, _class=EmailMessage, policy=email.policy.default)
    return MailRecord(
        id=key,
        sender=str(message.get("From") or message.get(ENVELOPE_FROM) or ""),
        to=str(message.get("To") or message.get(ENVELOPE_TO) or ""),
        subject=str(message.get("Subject") or ""),
        date=_date(message, received),
        text=_part(message, "plain"),
        html=_part(message, "html"),
        received=received,
    )


@dataclass(frozen=True)
class MailPage:
    """One page of the mailbox, newest first, with the size of the whole mailbox.

    Attributes:
        records: The messages of the page (fewer than asked on the last page).
        total: How many messages the mailbox holds.
    """

    records: list[MailRecord]
    total: int


# The index: one row per message in arrival order. ``seq`` is the rowid, so "newest first" walks
# the table's own B-tree backwards and a page reads ``per_page`` rows, never the whole mailbox.
SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    path TEXT NOT NULL,
    received REAL NOT NULL
)
"""
INDEX_FILE = "index.sqlite3"
DB_TIMEOUT_SECONDS = 5.0
SUBDIRS = ("new", "cur")
# Maildir appends ":2,<flags>" to a file name once a reader has seen it; the key is what precedes.
INFO_SEPARATOR = ":"


def _key_of(filename: str) -> str:
    return filename.split(INFO_SEPARATOR, 1)[0]


class MailStore:
    """Messages as Maildir files, listed through a SQLite index of their arrival order.

    The files stay a plain Maildir (any mail tool reads them); the index makes a page of the
    newest messages cost the same with ten or a hundred thousand of them. Opening the store
    reconciles the index with the directory once (messages stored before the index existed, files
    removed by hand), so only that start-up step is proportional to the mailbox.
    """

    def __init__(self, directory: Path) -> None:
        """Create the Maildir (``cur``, ``new``, ``tmp``, parents too) and update its index."""
        self.directory = directory
        for sub in ("cur", "new", "tmp"):
            (directory / sub).mkdir(mode=0o700, parents=True, exist_ok=True)
        self.index_file = directory / INDEX_FILE
        with self._db() as db:
            db.execute(SCHEMA)
        self.reconcile()

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        """A connection in one transaction; the index is rebuilt from the files if ever lost, so
        a commit need not wait for the disk."""
        connection = sqlite3.connect(self.index_file, timeout=DB_TIMEOUT_SECONDS)
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            with connection:
                yield connection
        finally:
            connection.close()

    def _files(self) -> dict[str, str]:
        """Every message file as ``key -> path relative to the Maildir`` (one directory listing)."""
        found: dict[str, str] = {}
        for sub in SUBDIRS:
            with os.scandir(self.directory / sub) as entries:
                for entry in entries:
                    if entry.is_file() and not entry.name.startswith("."):
                        found[_key_of(entry.name)] = f"{sub}/{entry.name}"
        return found

    def reconcile(self) -> int:
        """Index the files it lacks (oldest first, by delivery time) and forget vanished ones.

        Returns:
            How many messages were added to the index.
        """
        files = self._files()
        with self._db() as db:
            indexed = {key for (key,) in db.execute("SELECT key FROM messages")}
            gone = indexed - files.keys()
            db.executemany("DELETE FROM messages WHERE key = ?", [(key,) for key in gone])
            missing = [
                (key, path, (self.directory / path).stat().st_mtime)
                for key, path in files.items()
                if key not in indexed
            ]
            missing.sort(key=lambda row: (row[2], row[0]))
            db.executemany("INSERT INTO messages (key, path, received) VALUES (?, ?, ?)", missing)
        return len(missing)

    def add(self, raw: bytes) -> str:
        """Store one message atomically (tmp then rename), then index it; return its key."""
        key = mailbox.Maildir(self.directory, create=True).add(raw)
        path = f"new/{key}"
        received = (self.directory / path).stat().st_mtime
        with self._db() as db:
            db.execute(
                "INSERT INTO messages (key, path, received) VALUES (?, ?, ?)", (key, path, received)
            )
        return key

    def _read(self, key: str, path: str, received: float) -> MailRecord | None:
        """Parse the file at ``path``; None when it was removed meanwhile."""
        try:
            raw = (self.directory / path).read_bytes()
        except FileNotFoundError:
            return None
        return parse_message(key, raw, received)

    def page(self, page: int, per_page: int) -> MailPage:
        """The ``page``-th (from 1) group of ``per_page`` messages, newest first.

        Reads ``per_page`` index rows and as many files, whatever the size of the mailbox.
        """
        with self._db() as db:
            total = int(db.execute("SELECT count(*) FROM messages").fetchone()[0])
            rows = db.execute(
                "SELECT key, path, received FROM messages ORDER BY seq DESC LIMIT ? OFFSET ?",
                (per_page, (page - 1) * per_page),
            ).fetchall()
        records = [self._read(key, path, received) for key, path, received in rows]
        return MailPage([record for record in records if record is not None], total)

    def get(self, key: str) -> MailRecord | None:
        """The message ``key``, or None when there is none."""
        with self._db() as db:
            row = db.execute(
                "SELECT key, path, received FROM messages WHERE key = ?", (key,)
            ).fetchone()
        return None if row is None else self._read(*row)

    def clear(self) -> int:
        """Delete every message; return how many there were."""
        files = self._files()
        for path in files.values():
            (self.directory / path).unlink(missing_ok=True)
        with self._db() as db:
            db.execute("DELETE FROM messages")
        return len(files)
