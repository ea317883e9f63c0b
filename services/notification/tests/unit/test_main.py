"""The app factory subscribes the consumer only when a broker is configured."""

from __future__ import annotations

from agora_chassis.state import service_state
from agora_notification.main import create_app
from agora_notification.settings import NotificationSettings

CONSUMED = {"user.registered", "order.paid", "order.cancelled"}


def test_create_app_with_broker_subscribes_each_consumed_event() -> None:
    app = create_app(NotificationSettings(environment="test", broker_url="nats://127.0.0.1:4222"))
    state = service_state(app)

    assert state.consumer is not None
    assert state.consumer.group == "notification"
    assert set(state.consumer.routes) == CONSUMED
    assert state.messaging.broker is not None
    assert len(state.messaging.broker.subscribers) == len(CONSUMED)


def test_create_app_without_broker_keeps_a_replay_only_consumer() -> None:
    app = create_app(NotificationSettings(environment="test", broker_url=None))
    state = service_state(app)

    assert state.messaging.broker is None
    assert state.consumer is not None
    assert state.consumer.broker is None  # nothing subscribed; dead letters can be replayed
    assert set(state.consumer.routes) == CONSUMED
