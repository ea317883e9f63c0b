"""Events published by the identity service."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import ClassVar

from pydantic import EmailStr, Field

from agora_contracts.envelope import EventPayload


class UserRegisteredV1(EventPayload):
    """A customer account was created.

    Attributes:
        user_id: The new user's id.
        email: Normalised (lower-case) e-mail address.
        full_name: Name to greet the user with.
        registered_at: When the account was created (UTC).
    """

    event_type: ClassVar[str] = "user.registered"
    version: ClassVar[int] = 1

    user_id: uuid.UUID
    email: EmailStr
    full_name: str = Field(min_length=1, max_length=200)
    registered_at: dt.datetime

    model_config = EventPayload.model_config | {
        "json_schema_extra": {
            "examples": [
                {
                    "user_id": "01936d3c-8f3a-7cc2-b6a1-2f0e4c5d6a7b",
                    "email": "ada@example.com",
                    "full_name": "Ada Lovelace",
                    "registered_at": "2026-11-23T09:00:00Z",
                }
            ]
        }
    }
