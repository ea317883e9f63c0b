"""``/api/v1/auth``: register, token (OAuth2 password grant), refresh, logout."""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated

from fastapi import APIRouter, Form, status

from agora_chassis.openapi import problem_responses
from agora_identity.api.deps import Auth
from agora_identity.schemas.auth import PasswordGrant, RefreshRequest, TokenPair
from agora_identity.schemas.user import UserCreate, UserRead

# Every route reads or writes the database: 503 when it is down.
router = APIRouter(
    prefix="/api/v1/auth",
    tags=["auth"],
    responses=problem_responses(status.HTTP_503_SERVICE_UNAVAILABLE),
)


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    response_model=UserRead,
    responses=problem_responses(
        status.HTTP_409_CONFLICT, HTTPStatus.UNPROCESSABLE_ENTITY, status.HTTP_429_TOO_MANY_REQUESTS
    ),
)
async def register(data: UserCreate, auth: Auth) -> object:
    """Create a customer account (e-mail is normalised to lower case; limited per address)."""
    return await auth.register(data)


@router.post(
    "/token",
    response_model=TokenPair,
    responses=problem_responses(status.HTTP_401_UNAUTHORIZED, status.HTTP_429_TOO_MANY_REQUESTS),
)
async def token(form: Annotated[PasswordGrant, Form()], auth: Auth) -> TokenPair:
    """OAuth2 password grant: exchange e-mail (``username``) and password for tokens."""
    return await auth.login(form.username, form.password, form.scopes)


@router.post(
    "/refresh", response_model=TokenPair, responses=problem_responses(status.HTTP_401_UNAUTHORIZED)
)
async def refresh(body: RefreshRequest, auth: Auth) -> TokenPair:
    """Rotate a refresh token. Presenting a used one revokes its whole family."""
    return await auth.refresh(body.refresh_token)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(body: RefreshRequest, auth: Auth) -> None:
    """Revoke the session (refresh-token family) the token belongs to."""
    await auth.logout(body.refresh_token)
