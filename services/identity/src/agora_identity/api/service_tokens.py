"""``POST /api/v1/auth/service-token``: the OAuth2 client-credentials grant for services."""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated

from fastapi import APIRouter, Depends, Form, status
from fastapi.security import HTTPBasic, HTTPBasicCredentials

from agora_chassis.openapi import problem_responses
from agora_identity.api.deps import ServiceTokens
from agora_identity.schemas.service_tokens import ClientCredentialsGrant, ServiceToken

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])

_basic = HTTPBasic(auto_error=False, description="The client id and secret (RFC 6749 §2.3.1).")


@router.post(
    "/service-token",
    response_model=ServiceToken,
    # 400: a scope the client is not registered for; 401: unknown client or wrong secret;
    # 503: the grant is audited in the database.
    responses=problem_responses(
        status.HTTP_400_BAD_REQUEST,
        status.HTTP_401_UNAUTHORIZED,
        HTTPStatus.UNPROCESSABLE_ENTITY,
        status.HTTP_503_SERVICE_UNAVAILABLE,
    ),
)
async def service_token(
    form: Annotated[ClientCredentialsGrant, Form()],
    basic: Annotated[HTTPBasicCredentials | None, Depends(_basic)],
    service: ServiceTokens,
) -> ServiceToken:
    """Client-credentials grant: a registered service exchanges its id and secret for a token.

    The client authenticates with HTTP Basic or with ``client_id``/``client_secret`` in the form.
    """
    client_id = basic.username if basic else form.client_id or ""
    secret = basic.password if basic else form.client_secret or ""
    return await service.issue(client_id, secret, form.scopes)
