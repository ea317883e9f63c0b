"""One process serving both SMTP (aiosmtpd) and the web view (uvicorn) on one event loop."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import uvicorn
from aiosmtpd.smtp import SMTP, Envelope, Session

from agora_cli.infra.ports import LOOPBACK
from agora_cli.mailsink.store import MailStore, envelope_headers
from agora_cli.mailsink.web import create_app

logger = logging.getLogger("agora.mailsink")
SMTP_HOSTNAME = "agora-mailsink"


class MaildirHandler:
    """aiosmtpd handler storing every message it is given in the Maildir."""

    def __init__(self, store: MailStore) -> None:
        """Store into ``store``."""
        self.store = store

    async def handle_DATA(  # noqa: N802 - the name aiosmtpd calls
        self, _server: SMTP, _session: Session, envelope: Envelope
    ) -> str:
        """Store the message with its envelope; answer ``250`` once it is on disk."""
        content = envelope.original_content or b""
        raw = envelope_headers(envelope.mail_from, list(envelope.rcpt_tos)) + content
        key = self.store.add(raw)
        logger.info("stored %s from %s to %s", key, envelope.mail_from, envelope.rcpt_tos)
        return "250 Message accepted for delivery"


async def serve(
    smtp_port: int, http_port: int, maildir: Path, host: str = LOOPBACK, *, web: bool = True
) -> None:
    """Run the SMTP server and the web view until SIGINT/SIGTERM.

    Uvicorn installs the signal handlers; once it returns the SMTP server is closed too.

    Args:
        smtp_port: SMTP port.
        http_port: HTTP port of ``/mail``.
        maildir: Maildir directory (created if missing).
        host: Address both servers bind.
        web: Serve the mail over HTTP; False leaves only ``/health`` (production profile).
    """
    store = MailStore(maildir)
    handler = MaildirHandler(store)
    loop = asyncio.get_running_loop()
    smtp = await loop.create_server(
        lambda: SMTP(handler, hostname=SMTP_HOSTNAME), host=host, port=smtp_port
    )
    logger.info("smtp on %s:%d, maildir %s", host, smtp_port, maildir)
    config = uvicorn.Config(
        create_app(store, web=web), host=host, port=http_port, log_level="info", access_log=False
    )
    try:
        await uvicorn.Server(config).serve()
    finally:
        smtp.close()
        await smtp.wait_closed()
