"""The declared channels (the AsyncAPI document's source) are what the consumer subscribes to."""

from __future__ import annotations

from agora_chassis.state import service_state
from agora_notification.events.subscriber import CHANNELS, CONSUMER_GROUP
from agora_notification.main import create_app
from agora_notification.settings import NotificationSettings


def test_channels_consumes_exactly_the_consumer_routes() -> None:
    app = create_app(NotificationSettings(environment="test", broker_url="nats://127.0.0.1:4222"))

    declared = {payload.event_type: payload for payload in CHANNELS.consumes}
    routes = {
        event_type: route.payload_class
        for event_type, route in service_state(app).consumer.routes.items()
    }

    assert declared == routes
    assert CHANNELS.service == CONSUMER_GROUP
