"""The welcome e-mail: record it, send it, and keep its status true to what happened.

Status bookkeeping runs in its own short transactions (not the consumer's), so a failed try is
still recorded after the consumer rolls back its transaction to retry. A notification already
``sent`` is not sent again, even if the consumer's commit of the inbox row failed afterwards.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import aiosmtplib
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agora_chassis.messaging import PermanentFailure
from agora_contracts.envelope import CloudEvent
from agora_contracts.identity import UserRegisteredV1
from agora_notification.models import NotificationStatus
from agora_notification.repositories.notifications import NotificationRepository
from agora_notification.services.mailer import Mailer
from agora_notification.services.templates import TemplateRenderer

logger = logging.getLogger(__name__)

WELCOME_TEMPLATE = "welcome"
WELCOME_SUBJECT = "Welcome to Agora"
SMTP_PERMANENT = 500


def refused_for_good(error: Exception) -> bool:
    """Whether the relay refused the address with a permanent (5xx) reply: retrying cannot help."""
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        return all(refusal.code >= SMTP_PERMANENT for refusal in error.recipients)
    return isinstance(error, aiosmtplib.SMTPRecipientRefused) and error.code >= SMTP_PERMANENT


class Notifier:
    """Sends the service's notifications and records each in ``notifications``."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        notifications: Callable[[AsyncSession], NotificationRepository],
        mailer: Mailer,
        renderer: TemplateRenderer | None = None,
    ) -> None:
        """Bind the notifier to its database, relay and templates.

        Args:
            sessionmaker: Opens the status-bookkeeping transactions.
            notifications: Builds a transaction's notifications repository (given by the wiring).
            mailer: Delivers the messages.
            renderer: Renders the templates (default: the packaged ones).
        """
        self.sessionmaker = sessionmaker
        self.notifications = notifications
        self.mailer = mailer
        self.renderer = renderer or TemplateRenderer()

    async def send_welcome(
        self, _session: AsyncSession, payload: UserRegisteredV1, event: CloudEvent
    ) -> None:
        """Event handler for ``user.registered``: send the welcome e-mail once.

        Args:
            _session: The consumer's transaction (holds the inbox row; unused here).
            payload: The registered user.
            event: The envelope; its id identifies the notification.

        Raises:
            PermanentFailure: The relay refused the address for good (5xx); dead-lettered at once.
            aiosmtplib.SMTPException: Sending failed; the consumer retries, then dead-letters.
        """
        recipient = str(payload.email)
        async with self.sessionmaker() as session, session.begin():
            row = await self.notifications(session).start_attempt(
                event_id=event.id,
                recipient=recipient,
                template=WELCOME_TEMPLATE,
                subject=WELCOME_SUBJECT,
            )
            already_sent = row.status == NotificationStatus.SENT
            notification_id = row.id
        if already_sent:
            logger.info("welcome for event %s was already sent", event.id)
            return
        body = self.renderer.render(
            WELCOME_TEMPLATE, {"full_name": payload.full_name, "email": recipient}
        )
        try:
            await self.mailer.send(recipient, WELCOME_SUBJECT, body)
        except Exception as exc:
            await self._finish(event.id, NotificationStatus.FAILED)
            if refused_for_good(exc):
                raise PermanentFailure(f"{recipient} refused: {exc}") from exc
            raise
        await self._finish(event.id, NotificationStatus.SENT)
        # A business event without the address (personal data): the id leads to the row.
        logger.info(
            "notification %s sent (template %s, event %s)",
            notification_id,
            WELCOME_TEMPLATE,
            event.id,
        )

    async def _finish(self, event_id: str, status: NotificationStatus) -> None:
        async with self.sessionmaker() as session, session.begin():
            await self.notifications(session).finish(event_id, status)
