"""The service's e-mails: record each, send it once, and keep its status true to what happened.

* ``user.registered``: the user joins the ``recipients`` projection (in its own transaction,
  committed before the welcome is sent, so a failing welcome never holds back the user's order
  e-mails; the upsert is idempotent, a retry writes the same row) and gets the welcome e-mail.
* ``order.paid`` / ``order.cancelled``: the buyer, found in ``recipients`` by the receipt's
  ``buyer_id``, gets the confirmation or the cancellation (with the reason). An event without a
  receipt (an older producer) has nothing to show and is skipped. A buyer not known yet fails
  the try (:class:`UnknownRecipient`): the broker delivers it again later, and after the last
  try it is dead-lettered for an operator to replay.

Status bookkeeping runs in its own short transactions (not the consumer's), so a failed try is
still recorded after the consumer rolls back its transaction to retry. A notification already
``sent`` is not sent again, even if the consumer's commit of the inbox row failed afterwards.

What "once" means: the welcome is keyed by its event id. An order's e-mails are keyed by the
order and the template, so the same fact under a second event id is not sent twice either.
Ordering emits one final event per order and the inbox drops redeliveries, so a second id should
not happen; the key is a cheap guard. It does not serialise two such events handled at the same
moment (each could find the row pending and send): that needs the duplicate to race the first.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiosmtplib
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agora_chassis.messaging import PermanentFailure
from agora_contracts.envelope import CloudEvent
from agora_contracts.identity import UserRegisteredV1
from agora_contracts.ordering import OrderCancelledV1, OrderPaidV1, OrderReceipt
from agora_notification.models import NotificationStatus
from agora_notification.repositories.notifications import NotificationRepository
from agora_notification.repositories.recipients import RecipientRepository
from agora_notification.services.mailer import Mailer
from agora_notification.services.receipts import receipt_context
from agora_notification.services.templates import TemplateRenderer

logger = logging.getLogger(__name__)

SMTP_PERMANENT = 500


@dataclass(frozen=True)
class MailKind:
    """A kind of e-mail: its template and subject line."""

    template: str
    subject: str


WELCOME = MailKind("welcome", "Welcome to Agora")
ORDER_PAID = MailKind("order_paid", "Your Agora order is confirmed")
ORDER_CANCELLED = MailKind("order_cancelled", "Your Agora order was cancelled")


class UnknownRecipient(LookupError):
    """The buyer is not in ``recipients`` (yet): the try fails, to be retried later."""


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
        recipients: Callable[[AsyncSession], RecipientRepository],
        mailer: Mailer,
        renderer: TemplateRenderer | None = None,
    ) -> None:
        """Bind the notifier to its database, relay and templates.

        Args:
            sessionmaker: Opens the status-bookkeeping transactions.
            notifications: Builds a transaction's notifications repository (given by the wiring).
            recipients: Builds a transaction's recipients repository (given by the wiring).
            mailer: Delivers the messages.
            renderer: Renders the templates (default: the packaged ones).
        """
        self.sessionmaker = sessionmaker
        self.notifications = notifications
        self.recipients = recipients
        self.mailer = mailer
        self.renderer = renderer or TemplateRenderer()

    async def send_welcome(
        self, _session: AsyncSession, payload: UserRegisteredV1, event: CloudEvent
    ) -> None:
        """Event handler for ``user.registered``: record the recipient, send the welcome once.

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
            await self.recipients(session).upsert(
                user_id=payload.user_id,
                email=recipient,
                full_name=payload.full_name,
                registered_at=payload.registered_at,
            )
        context = {"full_name": payload.full_name, "email": recipient}
        await self._send_once(WELCOME, recipient, context, event)

    async def send_order_paid(
        self, session: AsyncSession, payload: OrderPaidV1, event: CloudEvent
    ) -> None:
        """Event handler for ``order.paid``: the order confirmation, once per order.

        Raises:
            UnknownRecipient: The buyer is not known yet; retried, then dead-lettered.
            PermanentFailure: The relay refused the address for good (5xx).
            aiosmtplib.SMTPException: Sending failed; the consumer retries, then dead-letters.
        """
        await self._send_order_mail(session, ORDER_PAID, payload.order_id, payload.receipt, event)

    async def send_order_cancelled(
        self, session: AsyncSession, payload: OrderCancelledV1, event: CloudEvent
    ) -> None:
        """Event handler for ``order.cancelled``: the cancellation with its reason, once per order.

        Raises:
            UnknownRecipient: The buyer is not known yet; retried, then dead-lettered.
            PermanentFailure: The relay refused the address for good (5xx).
            aiosmtplib.SMTPException: Sending failed; the consumer retries, then dead-letters.
        """
        await self._send_order_mail(
            session,
            ORDER_CANCELLED,
            payload.order_id,
            payload.receipt,
            event,
            reason=payload.reason,
        )

    async def _send_order_mail(
        self,
        session: AsyncSession,
        kind: MailKind,
        order_id: uuid.UUID,
        receipt: OrderReceipt | None,
        event: CloudEvent,
        **extra: str,
    ) -> None:
        if receipt is None:
            logger.warning(
                "%s %s (order %s) carries no receipt: no e-mail", event.type, event.id, order_id
            )
            return
        buyer = await self.recipients(session).get(receipt.buyer_id)
        if buyer is None:
            raise UnknownRecipient(
                f"buyer {receipt.buyer_id} of order {order_id} is not among the recipients "
                "(no user.registered applied for that user yet)"
            )
        context = {
            "full_name": buyer.full_name,
            "order_id": str(order_id),
            **receipt_context(receipt),
            **extra,
        }
        await self._send_once(kind, buyer.email, context, event, order_id=order_id)

    async def _send_once(
        self,
        kind: MailKind,
        recipient: str,
        context: Mapping[str, Any],
        event: CloudEvent,
        order_id: uuid.UUID | None = None,
    ) -> None:
        """Record the attempt, send unless already sent, and record how it went."""
        async with self.sessionmaker() as session, session.begin():
            row = await self.notifications(session).start_attempt(
                event_id=event.id,
                recipient=recipient,
                template=kind.template,
                subject=kind.subject,
                order_id=order_id,
            )
            already_sent = row.status == NotificationStatus.SENT
            notification_id = row.id
        if already_sent:
            logger.info(
                "notification %s (template %s, event %s) was already sent",
                notification_id,
                kind.template,
                event.id,
            )
            return
        body = self.renderer.render(kind.template, dict(context))
        try:
            await self.mailer.send(recipient, kind.subject, body)
        except Exception as exc:
            await self._finish(notification_id, NotificationStatus.FAILED)
            if refused_for_good(exc):
                raise PermanentFailure(f"{recipient} refused: {exc}") from exc
            raise
        await self._finish(notification_id, NotificationStatus.SENT)
        # A business event without the address (personal data): the id leads to the row.
        logger.info(
            "notification %s sent (template %s, event %s)",
            notification_id,
            kind.template,
            event.id,
        )

    async def _finish(self, notification_id: uuid.UUID, status: NotificationStatus) -> None:
        async with self.sessionmaker() as session, session.begin():
            await self.notifications(session).finish(notification_id, status)
