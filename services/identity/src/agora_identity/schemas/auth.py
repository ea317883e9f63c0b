"""Token DTOs (OAuth2 token response, refresh and logout requests)."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

REFRESH_TOKEN_MAX = 256


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
