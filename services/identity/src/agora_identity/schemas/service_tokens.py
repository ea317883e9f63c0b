"""Client-credentials DTOs (OAuth2 ``grant_type=client_credentials``, RFC 6749 §4.4)."""

from typing import Literal

from pydantic import BaseModel, Field

CLIENT_ID_MAX = 64
CLIENT_SECRET_MAX = 256
SCOPE_MAX = 512


class ClientCredentialsGrant(BaseModel):
    """The token request form; the client may authenticate in it or with HTTP Basic."""

    grant_type: Literal["client_credentials"]
    scope: str = Field(default="", max_length=SCOPE_MAX, description="Space-separated scopes")
    client_id: str | None = Field(default=None, max_length=CLIENT_ID_MAX)
    client_secret: str | None = Field(
        default=None, max_length=CLIENT_SECRET_MAX, json_schema_extra={"format": "password"}
    )

    @property
    def scopes(self) -> list[str]:
        """The requested scopes."""
        return self.scope.split()


class ServiceToken(BaseModel):
    """The token response: no refresh token (the client asks again with its credentials)."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 token type
    expires_in: int = Field(description="Seconds until the token expires")
    scope: str = Field(description="The granted scopes, space-separated")
