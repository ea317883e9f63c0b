"""User DTOs: ``UserCreate`` (registration), ``UserUpdate`` (admin), ``UserRead``."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
import uuid
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, model_validator

from agora_identity.models.user import Role

PASSWORD_MIN = 8
PASSWORD_MAX = 128
NAME_MAX = 200
EMAIL_MAX = 320
"""Longest address accepted anywhere (RFC 5321: 64 for the local part, @, 255 for the domain)."""
MAX_ROLES = len(Role)
NO_CONTROL_CHARACTERS = r"^[^\x00-\x1f\x7f]*$"
"""Text that reaches a query: PostgreSQL refuses NUL, and no address or filter needs the others."""


def normalise_email(value: str) -> str:
    """Trim and lower-case an address so one mailbox means one account."""
    return value.strip().lower()


def check_password_policy(value: str) -> str:
    """Require 8-128 characters with a lower-case letter, an upper-case letter and a digit.

    Raises:
        ValueError: Naming every rule the password breaks.
    """
    broken = []
    if not re.search(r"[a-z]", value):
        broken.append("a lower-case letter")
    if not re.search(r"[A-Z]", value):
        broken.append("an upper-case letter")
    if not re.search(r"\d", value):
        broken.append("a digit")
    if broken:
        raise ValueError("password must contain " + ", ".join(broken))
    return value


def check_printable(value: str) -> str:
    """Refuse control characters (NUL, escapes, line breaks) in a display name, and trim it.

    Raises:
        ValueError: The name contains a control character or is blank.
    """
    if any(unicodedata.category(char) in {"Cc", "Cs"} for char in value):
        raise ValueError("must not contain control characters")
    if not value.strip():
        raise ValueError("must not be blank")
    return value.strip()


Email = Annotated[EmailStr, AfterValidator(normalise_email)]
FullName = Annotated[
    str,
    Field(min_length=1, max_length=NAME_MAX, examples=["Ada Lovelace"]),
    AfterValidator(check_printable),
]
Password = Annotated[
    str,
    Field(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX, examples=["Correct-Horse-9"]),
    AfterValidator(check_password_policy),
]


class UserCreate(BaseModel):
    """Registration request."""

    model_config = ConfigDict(extra="forbid")

    email: Email = Field(examples=["ada@example.com"])
    password: Password
    full_name: FullName

    @model_validator(mode="after")
    def _password_not_email(self) -> UserCreate:
        if self.email.split("@", 1)[0] in self.password.lower():
            raise ValueError("password must not contain the e-mail address")
        return self


class UserUpdate(BaseModel):
    """Admin change of a user's roles or active flag (omitted fields stay as they are)."""

    model_config = ConfigDict(extra="forbid")

    roles: list[Role] | None = Field(default=None, min_length=1, max_length=MAX_ROLES)
    is_active: bool | None = None


class UserRead(BaseModel):
    """A user as the API shows it (never the password hash)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    full_name: str
    roles: list[str]
    is_active: bool
    created_at: dt.datetime
    updated_at: dt.datetime


class UserFilter(BaseModel):
    """Admin list filters."""

    model_config = ConfigDict(frozen=True)

    email: str | None = None
    role: Role | None = None
    is_active: bool | None = None
