"""Brokers are chosen by URL; channels are named from the CloudEvent type."""

import pytest
from faststream.kafka import KafkaBroker
from faststream.nats import NatsBroker
from faststream.rabbit import RabbitBroker

from agora_chassis.messaging import channel_name, make_broker
from agora_chassis.messaging.broker import stream_for


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("nats://127.0.0.1:4222", NatsBroker),
        ("amqp://guest:guest@127.0.0.1:5672/", RabbitBroker),
        ("amqps://u:p@rabbit.example:5671/", RabbitBroker),
        ("kafka://127.0.0.1:9092,127.0.0.1:9093", KafkaBroker),
    ],
)
def test_make_broker_known_scheme_returns_matching_broker(url: str, expected: type) -> None:
    assert isinstance(make_broker(url), expected)


@pytest.mark.parametrize("url", ["redis://127.0.0.1:6379", "127.0.0.1:4222", ""])
def test_make_broker_unknown_scheme_raises_value_error(url: str) -> None:
    with pytest.raises(ValueError, match="unsupported broker URL scheme"):
        make_broker(url)


def test_channel_name_event_type_is_prefixed() -> None:
    assert channel_name("user.registered") == "agora.user.registered"


def test_stream_for_event_type_covers_its_domain() -> None:
    assert stream_for("user.registered") == ("AGORA_USER", "agora.user.>")
