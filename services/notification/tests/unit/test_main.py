"""The app factory subscribes the consumer only when a broker is configured."""

from __future__ import annotations

from agora_notification.main import create_app
from agora_notification.settings import NotificationSettings


def test_create_app_with_broker_subscribes_user_registered() -> None:
    app = create_app(NotificationSettings(environment="test", broker_url="nats://127.0.0.1:4222"))

    assert app.state.consumer is not None
    assert app.state.consumer.group == "notification"
    assert set(app.state.consumer.routes) == {"user.registered"}


def test_create_app_without_broker_has_no_consumer() -> None:
    app = create_app(NotificationSettings(environment="test", broker_url=None))

    assert app.state.consumer is None
