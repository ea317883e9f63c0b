"""The CloudEvents 1.0 envelope every Agora event travels in (structured JSON mode)."""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field


class EventPayload(BaseModel):
    """Base of every event payload.

    Subclasses set ``event_type`` (the CloudEvents ``type``, e.g. ``user.registered``) and
    ``version``; together they name the schema (``dataschema``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_type: ClassVar[str]
    version: ClassVar[int] = 1

    @classmethod
    def schema_uri(cls) -> str:
        """The ``dataschema`` URI for this payload and version."""
        return f"urn:agora:events:{cls.event_type}:v{cls.version}"


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 envelope with Agora's extension attributes.

    Attributes:
        id: UUIDv7 of this event; consumers deduplicate on it.
        source: The producing service, e.g. ``/agora/identity``.
        type: What happened, e.g. ``user.registered``.
        time: When it happened (UTC).
        subject: The aggregate the event is about (events are ordered per subject).
        dataschema: Payload schema and version.
        traceparent: W3C trace context of the producing request.
        correlationid: The request id the event was caused by.
        data: The payload, valid against ``dataschema``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    specversion: Literal["1.0"] = "1.0"
    id: str
    source: str
    type: str
    time: dt.datetime
    subject: str | None = None
    datacontenttype: Literal["application/json"] = "application/json"
    dataschema: str
    traceparent: str | None = None
    correlationid: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)
