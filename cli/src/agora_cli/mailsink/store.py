"""The Maildir the sink writes to, and the parsing of stored messages into plain records."""

from __future__ import annotations

import email.policy
import mailbox
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


class MailStore:
    """The Maildir under ``directory``; every call opens it afresh, so it is always current."""

    def __init__(self, directory: Path) -> None:
        """Create the Maildir (``cur``, ``new``, ``tmp``, parents too) where missing."""
        self.directory = directory
        for sub in ("cur", "new", "tmp"):
            (directory / sub).mkdir(mode=0o700, parents=True, exist_ok=True)

    def _maildir(self) -> mailbox.Maildir:
        return mailbox.Maildir(self.directory, create=True)

    def add(self, raw: bytes) -> str:
        """Store one message atomically (tmp then rename); return its key."""
        return self._maildir().add(raw)

    def _record(self, box: mailbox.Maildir, key: str) -> MailRecord | None:
        try:
            received = box.get_message(key).get_date()
            raw = box.get_bytes(key)
        except (KeyError, FileNotFoundError):
            return None  # unknown, or deleted meanwhile
        return parse_message(key, raw, received)

    def list(self) -> list[MailRecord]:
        """Every stored message, newest first."""
        box = self._maildir()
        records = [self._record(box, key) for key in box.keys()]  # noqa: SIM118 - Maildir API
        found = [record for record in records if record is not None]
        return sorted(found, key=lambda record: (record.received, record.id), reverse=True)

    def get(self, key: str) -> MailRecord | None:
        """The message ``key``, or None when there is none."""
        return self._record(self._maildir(), key)

    def clear(self) -> int:
        """Delete every message; return how many there were."""
        box = self._maildir()
        keys = list(box.keys())
        for key in keys:
            box.discard(key)
        return len(keys)
