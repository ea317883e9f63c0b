"""Events as a producer's relay sends them, for consumers' tests."""

from __future__ import annotations

import datetime as dt

from agora_chassis.ids import new_id
from agora_contracts.envelope import CloudEvent, EventPayload


def structured_event(
    payload: EventPayload, *, event_id: str | None = None, source: str = "/agora/tests"
) -> bytes:
    """The structured-mode CloudEvent carrying ``payload`` (a fresh uuid7 id unless given)."""
    event = CloudEvent(
        id=event_id or str(new_id()),
        source=source,
        type=payload.event_type,
        time=dt.datetime.now(dt.UTC),
        dataschema=payload.schema_uri(),
        data=payload.model_dump(mode="json"),
    )
    return event.model_dump_json().encode()
