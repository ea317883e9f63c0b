"""The notification service's app factory (``agora_notification.main:create_app``, ``--factory``).

When ``AGORA_BROKER_URL`` is set the chassis keeps an unconnected broker in the app's state;
the consumer subscribes on it here, before start-up, and the chassis connects it at start-up and
closes it at shutdown. Without a broker the consumer subscribes to nothing, but the admin API can
still list, replay and purge dead letters.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI
from starlette.applications import Starlette

from agora_chassis.app import create_service_app
from agora_chassis.audit_api import audit_router
from agora_chassis.messaging import RetryPolicy
from agora_chassis.messaging import admin as dead_letters
from agora_chassis.state import attach_extras, service_extras, service_state
from agora_notification.api import deps, notifications
from agora_notification.events.subscriber import build_consumer
from agora_notification.repositories.notifications import NotificationRepository
from agora_notification.repositories.recipients import RecipientRepository
from agora_notification.services.mailer import Mailer, SmtpConfig
from agora_notification.services.notifications import Notifier
from agora_notification.settings import NotificationSettings


@dataclass(slots=True)
class NotificationState:
    """What notification keeps beside the chassis state.

    Attributes:
        notifier: Sends the mails the consumer's handlers ask for.
    """

    notifier: Notifier


def notification_state(app: Starlette) -> NotificationState:
    """Notification's own resources of the app."""
    return service_extras(app, NotificationState)


def create_app(settings: NotificationSettings | None = None) -> FastAPI:
    """Build the notification service.

    Args:
        settings: Settings to use; read from the environment when omitted.

    Returns:
        The application.
    """
    settings = settings or NotificationSettings()
    app = create_service_app(
        settings,
        title="Agora notification",
        routers=[notifications.router, dead_letters.router, audit_router(deps.auditor)],
    )
    state = service_state(app)
    notifier = Notifier(
        state.sessionmaker,
        NotificationRepository,
        RecipientRepository,
        Mailer(SmtpConfig.from_settings(settings)),
    )
    attach_extras(app, NotificationState(notifier))
    state.consumer = build_consumer(
        state.messaging.broker,
        state.sessionmaker,
        notifier,
        retry=RetryPolicy.from_settings(settings),
    )
    return app
