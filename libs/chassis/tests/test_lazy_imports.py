"""What a service never uses is never imported: RabbitMQ and Kafka support on NATS, the OTLP
exporter without an exporter, gRPC reflection until it is served (memory and start-up time,
ADR 0013). Each check runs in a fresh interpreter: this test process has imported everything."""

from __future__ import annotations

import json
import subprocess
import sys

from grpc_reflection.v1alpha import reflection

from agora_chassis.grpc_server import REFLECTION_SERVICE
from agora_chassis.messaging.broker import is_rabbit, make_broker

UNUSED_BY_A_NATS_SERVICE = (
    "faststream.rabbit",
    "faststream.kafka",
    "aio_pika",
    "aiokafka",
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "grpc_reflection.v1alpha.reflection",
)

# Builds a service app on NATS, exporting no spans, as `agora up` runs one, with everything a
# service may import from the chassis (messaging, consumers with retries, the gRPC server).
BUILD_A_SERVICE = """
import json, sys
import agora_chassis.grpc_server, agora_chassis.messaging
from agora_chassis.app import create_service_app
from agora_chassis.settings import ServiceSettings
settings = ServiceSettings(broker_url="nats://127.0.0.1:4222", otel_exporter="none")
create_service_app(settings, title="lazy", routers=[])
print(json.dumps(sorted(m for m in sys.argv[1:] if m in sys.modules)))
"""


def imported_after(script: str, modules: tuple[str, ...]) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", script, *modules],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    found: list[str] = json.loads(result.stdout.splitlines()[-1])
    return found


def test_a_service_on_nats_imports_no_other_broker_nor_the_otlp_exporter() -> None:
    assert imported_after(BUILD_A_SERVICE, UNUSED_BY_A_NATS_SERVICE) == []


def test_the_reflection_service_name_is_grpc_reflections_own() -> None:
    assert REFLECTION_SERVICE == reflection.SERVICE_NAME


def test_rabbitmq_and_kafka_brokers_are_still_made_and_told_apart() -> None:
    assert is_rabbit(make_broker("amqp://guest:guest@127.0.0.1:5672/"))
    assert not is_rabbit(make_broker("kafka://127.0.0.1:9092"))
    assert not is_rabbit(make_broker("nats://127.0.0.1:4222"))
