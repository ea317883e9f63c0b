"""The app factory subscribes the consumer only when a broker is configured."""

from __future__ import annotations

from agora_notification.main import create_app
from agora_notification.settings import NotificationSettings


def test_create_app_with_broker_subscribes_user_registered() -> None:
    app = create_app(NotificationSettings(environment="test", broker_url="nats://127.0.0.1:4222"))

    assert app.state.consumer is not None
    assert app.state.consumer.group == "notification"
    assert set(app.state.consumer.routes) == {"user.registered"}
    assert len(app.state.broker.subscribers) == 1


def test_create_app_without_broker_keeps_a_replay_only_consumer() -> None:
    app = create_app(NotificationSettings(environment="test", broker_url=None))

    assert app.state.broker is None
    assert app.state.consumer.broker is None  # nothing subscribed; dead letters can be replayed
    assert set(app.state.consumer.routes) == {"user.registered"}
