"""Token DTOs (OAuth2 password grant form, token response, refresh and logout requests)."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from agora_identity.schemas.user import EMAIL_MAX, NO_CONTROL_CHARACTERS, PASSWORD_MAX

REFRESH_TOKEN_MAX = 256
SCOPE_MAX = 1024
"""Longest ``scope`` string: far more than every scope there is, far less than a body."""
CLIENT_FIELD_MAX = 256


class PasswordGrant(BaseModel):
    """The OAuth2 password grant form (RFC 6749 §4.3.2), as ``OAuth2PasswordRequestForm`` reads it.

    A form *model* (``Annotated[PasswordGrant, Form()]``) is parsed on the event loop; FastAPI's
    form class is a class dependency, which it would call in its thread pool.

    Every field is bounded: hashing an unbounded password would let one request burn a core,
    and a password longer than registration accepts can never be right anyway.
    """

    grant_type: str | None = Field(default=None, pattern="^password$")
    username: str = Field(
        max_length=EMAIL_MAX, pattern=NO_CONTROL_CHARACTERS, description="The account's e-mail"
    )
    password: str = Field(max_length=PASSWORD_MAX, json_schema_extra={"format": "password"})
    scope: str = Field(
        default="",
        max_length=SCOPE_MAX,
        pattern=NO_CONTROL_CHARACTERS,
        description="Space-separated scopes",
    )
    client_id: str | None = Field(default=None, max_length=CLIENT_FIELD_MAX)
    client_secret: str | None = Field(
        default=None, max_length=CLIENT_FIELD_MAX, json_schema_extra={"format": "password"}
    )

    @property
    def scopes(self) -> list[str]:
        """The requested scopes."""
        return self.scope.split()


class TokenPair(BaseModel):
    """The OAuth2 token response."""

    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 token type
    expires_in: int = Field(description="Seconds until the access token expires")


class RefreshRequest(BaseModel):
    """A refresh token presented for rotation or revocation."""

    model_config = ConfigDict(extra="forbid")

    refresh_token: str = Field(min_length=1, max_length=REFRESH_TOKEN_MAX)
