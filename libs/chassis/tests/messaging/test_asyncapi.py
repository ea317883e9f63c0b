"""AsyncAPI documents are built from the declared channels: real names, envelope, payload schema."""

from __future__ import annotations

import importlib.metadata
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]  # no stubs; only the tests parse YAML

from agora_chassis.messaging import asyncapi
from agora_chassis.messaging.asyncapi import ServiceChannels, render_asyncapi
from agora_contracts.identity import UserRegisteredV1

CHANNEL = "agora.user.registered"
PUBLISHER = ServiceChannels(service="producer", publishes=(UserRegisteredV1,))
CONSUMER = ServiceChannels(service="consumer", consumes=(UserRegisteredV1,))


def render(channels: ServiceChannels) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(render_asyncapi(channels, "1.2.3"))
    return document


def resolve(document: dict[str, Any], ref: str) -> dict[str, Any]:
    """Follow a local ``#/a/b`` reference."""
    node: dict[str, Any] = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def only_operation(
    document: dict[str, Any], address: str = CHANNEL
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The one operation on ``address``, and the schema of its message's payload."""
    (operation,) = [
        operation
        for operation in document["operations"].values()
        if resolve(document, operation["channel"]["$ref"])["address"] == address
    ]
    message = resolve(document, resolve(document, operation["messages"][0]["$ref"])["$ref"])
    return operation, resolve(document, message["payload"]["$ref"])


def test_render_asyncapi_publisher_sends_on_the_real_channel() -> None:
    document = render(PUBLISHER)

    operation, _ = only_operation(document)

    assert operation["action"] == "send"
    assert resolve(document, operation["channel"]["$ref"])["address"] == CHANNEL


def test_render_asyncapi_consumer_receives_on_the_real_channel() -> None:
    document = render(CONSUMER)

    operation, _ = only_operation(document)

    assert operation["action"] == "receive"
    assert resolve(document, operation["channel"]["$ref"])["address"] == CHANNEL


@pytest.mark.parametrize("channels", [PUBLISHER, CONSUMER], ids=["publisher", "consumer"])
def test_render_asyncapi_message_is_envelope_with_payload_as_data(
    channels: ServiceChannels,
) -> None:
    document = render(channels)

    _, envelope = only_operation(document)
    data = resolve(document, envelope["properties"]["data"]["$ref"])

    assert envelope["properties"]["type"]["const"] == "user.registered"
    assert envelope["properties"]["dataschema"]["const"] == "urn:agora:events:user.registered:v1"
    assert {"id", "source", "type", "time", "dataschema", "data"} <= set(envelope["required"])
    assert list(data["properties"]) == ["user_id", "email", "full_name", "registered_at"]
    assert data["examples"][0]["email"] == "ada@example.com"


def test_render_asyncapi_consumer_documents_its_dead_letter_channel() -> None:
    document = render(CONSUMER)

    operation, envelope = only_operation(document, "agora.deadletter.consumer")

    assert operation["action"] == "send"
    assert "x-dead-letter-id" in resolve(document, operation["channel"]["$ref"])["description"]
    assert "specversion" in envelope["properties"]
    assert len(render(PUBLISHER)["operations"]) == 1  # a pure publisher has no dead letters


def test_render_asyncapi_describes_rabbitmq_and_kafka_names() -> None:
    info = render(PUBLISHER)["info"]

    assert (info["title"], info["version"]) == ("Agora producer", "1.2.3")
    assert "exchange `agora.events`" in info["description"]
    assert "Kafka (topic = channel" in info["description"]


def test_render_asyncapi_same_declaration_same_text() -> None:
    assert render_asyncapi(PUBLISHER, "1") == render_asyncapi(PUBLISHER, "1")


def test_render_asyncapi_no_channels_documents_none() -> None:
    document = render(ServiceChannels(service="quiet"))

    assert not document.get("channels")
    assert not document.get("operations")


def test_main_prints_the_named_declaration_with_its_package_version(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    versions: list[str] = []

    def version(distribution: str) -> str:
        versions.append(distribution)
        return "7.0"

    monkeypatch.setattr(importlib.metadata, "version", version)
    target = f"{__name__}:CONSUMER"

    assert asyncapi.main([target]) == 0

    printed = yaml.safe_load(capsys.readouterr().out)
    assert (printed["info"]["title"], printed["info"]["version"]) == ("Agora consumer", "7.0")
    assert versions == [__name__.split(".", 1)[0].replace("_", "-")]


def test_main_without_a_module_attribute_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert asyncapi.main(["agora_identity.channels"]) == 2
    assert "usage:" in capsys.readouterr().err
