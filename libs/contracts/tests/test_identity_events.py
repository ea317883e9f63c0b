"""Contract tests: identity's events, their examples and the CloudEvents envelope."""

import datetime as dt
import uuid

import pytest
from pydantic import ValidationError

from agora_contracts.envelope import CloudEvent
from agora_contracts.identity import UserRegisteredV1


def test_user_registered_schema_examples_validate() -> None:
    examples = UserRegisteredV1.model_json_schema()["examples"]
    assert examples
    for example in examples:
        assert UserRegisteredV1.model_validate(example).email == example["email"]


def test_user_registered_names_type_and_versioned_schema() -> None:
    assert UserRegisteredV1.event_type == "user.registered"
    assert UserRegisteredV1.schema_uri() == "urn:agora:events:user.registered:v1"


def test_user_registered_unknown_field_is_refused() -> None:
    example = UserRegisteredV1.model_json_schema()["examples"][0]
    with pytest.raises(ValidationError, match="Extra inputs"):
        UserRegisteredV1.model_validate(example | {"password": "nope"})


def test_user_registered_invalid_email_is_refused() -> None:
    example = UserRegisteredV1.model_json_schema()["examples"][0]
    with pytest.raises(ValidationError, match="email"):
        UserRegisteredV1.model_validate(example | {"email": "not-an-address"})


def test_cloudevent_round_trips_through_json() -> None:
    payload = UserRegisteredV1(
        user_id=uuid.uuid4(),
        email="ada@example.com",
        full_name="Ada",
        registered_at=dt.datetime.now(dt.UTC),
    )
    event = CloudEvent(
        id=str(uuid.uuid4()),
        source="/agora/identity",
        type=payload.event_type,
        time=dt.datetime.now(dt.UTC),
        dataschema=payload.schema_uri(),
        data=payload.model_dump(mode="json"),
    )
    again = CloudEvent.model_validate_json(event.model_dump_json())
    assert again == event
    assert UserRegisteredV1.model_validate(again.data) == payload


def test_cloudevent_other_spec_version_is_refused() -> None:
    with pytest.raises(ValidationError, match="specversion"):
        CloudEvent.model_validate(
            {
                "specversion": "0.3",
                "id": "1",
                "source": "/x",
                "type": "t",
                "time": "2026-11-23T00:00:00Z",
                "dataschema": "urn:x",
            }
        )
