"""Registration, login, refresh-token rotation with reuse detection, and logout.

Business events are logged at INFO with the user id, never the e-mail: a failed login for an
unknown e-mail carries :func:`email_marker` instead, which lets one process's lines about the same
address be grouped without revealing it.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import uuid
from dataclasses import dataclass
from typing import NoReturn

from agora_chassis.db import utcnow
from agora_chassis.errors import TooManyRequests
from agora_chassis.ids import new_id
from agora_chassis.outbox import build_event
from agora_contracts.identity import UserRegisteredV1
from agora_identity.models import AuditEvent, RefreshToken, Role, User
from agora_identity.repositories.tokens import RefreshTokenRepository
from agora_identity.repositories.users import DuplicateEmailError, UserRepository
from agora_identity.schemas.auth import TokenPair
from agora_identity.schemas.user import UserCreate, normalise_email
from agora_identity.services.audit import Auditor
from agora_identity.services.errors import (
    EmailTaken,
    InvalidCredentials,
    InvalidRefreshToken,
    LoginRateLimited,
)
from agora_identity.services.passwords import hash_password, verify_password
from agora_identity.services.throttle import Throttle
from agora_identity.services.tokens import (
    TokenIssuer,
    granted_scopes,
    hash_refresh_token,
    refreshed_scopes,
)

logger = logging.getLogger(__name__)

EVENT_SOURCE = "/agora/identity"
UNKNOWN_ADDRESS = "unknown"
MARKER_KEY_BYTES = 32
MARKER_HEX_CHARS = 16
# Per process, never stored: markers group one process's log lines and cannot be reversed by
# hashing a list of candidate addresses.
_MARKER_KEY = secrets.token_bytes(MARKER_KEY_BYTES)


def email_marker(email: str) -> str:
    """A non-reversible stand-in for ``email`` in log lines (keyed hash, stable per process).

    Args:
        email: The normalised e-mail.

    Returns:
        Hex digits.
    """
    return hmac.new(_MARKER_KEY, email.encode(), hashlib.sha256).hexdigest()[:MARKER_HEX_CHARS]


@dataclass
class AuthService:
    """The authentication use cases, within one transaction."""

    users: UserRepository
    tokens: RefreshTokenRepository
    auditor: Auditor
    issuer: TokenIssuer
    throttle: Throttle

    async def register(self, data: UserCreate) -> User:
        """Create a customer account and announce it with a ``user.registered`` event.

        Raises:
            TooManyRequests: This address has registered too many accounts lately.
            EmailTaken: The e-mail is already registered.
        """
        await self.throttle.registration_attempt(self._address)
        password_hash = await hash_password(data.password)
        user = User(
            id=new_id(),
            email=data.email,
            full_name=data.full_name,
            password_hash=password_hash,
            roles=[Role.CUSTOMER.value],
        )
        try:
            await self.users.add(user)
        except DuplicateEmailError as exc:
            raise EmailTaken("An account with this e-mail already exists.") from exc
        payload = UserRegisteredV1(
            user_id=user.id, email=user.email, full_name=user.full_name, registered_at=utcnow()
        )
        event = build_event(payload, source=EVENT_SOURCE, subject=str(user.id))
        self.users.add_event(event)
        await self.auditor.record(AuditEvent.REGISTERED, user_id=user.id)
        logger.info("user registered", extra={"user_id": str(user.id)})
        return user

    async def login(self, email: str, password: str, scopes: list[str]) -> TokenPair:
        """Check credentials and start a new refresh-token family.

        Raises:
            LoginRateLimited: Too many attempts from this address or for this account.
            InvalidCredentials: Unknown e-mail, wrong password, or inactive account.
        """
        email = normalise_email(email)
        await self._check_login_limits(email)
        user = await self.users.get_by_email(email)
        valid, new_hash = await verify_password(password, user.password_hash if user else None)
        if user is None or not valid or not user.is_active:
            await self._login_failed(email, user, valid)
        if new_hash:
            user.password_hash = new_hash
        await self.throttle.login_succeeded(email, self._address)
        await self.auditor.record(AuditEvent.LOGIN_SUCCEEDED, user_id=user.id)
        logger.info("login succeeded", extra={"user_id": str(user.id)})
        scopes = granted_scopes(user.roles, scopes)
        return await self._issue(user, new_id(), scopes)

    async def _login_failed(self, email: str, user: User | None, valid: bool) -> NoReturn:
        reason = "unknown_email" if user is None else "bad_password" if not valid else "inactive"
        await self.auditor.record(
            AuditEvent.LOGIN_FAILED, user_id=user.id if user else None, email=email, reason=reason
        )
        who = {"user_id": str(user.id)} if user else {"email_marker": email_marker(email)}
        logger.info("login failed (%s)", reason, extra={"reason": reason, **who})
        raise InvalidCredentials("Incorrect e-mail or password.")

    async def refresh(self, presented: str) -> TokenPair:
        """Rotate a refresh token; a token presented twice revokes its whole family.

        Raises:
            InvalidRefreshToken: Unknown, expired, revoked or reused token, or inactive user.
        """
        record = await self.tokens.get_for_update(hash_refresh_token(presented))
        if record is None:
            await self.auditor.record(AuditEvent.REFRESH_REFUSED, reason="unknown")
            raise InvalidRefreshToken("The refresh token is not valid.")
        now = utcnow()
        if record.used_at is not None:
            revoked = await self.tokens.revoke_family(record.family_id, now)
            await self.auditor.record(
                AuditEvent.REFRESH_REUSE_DETECTED,
                user_id=record.user_id,
                family_id=str(record.family_id),
                revoked=revoked,
            )
            logger.info(
                "refresh token reuse detected; session revoked",
                extra={"user_id": str(record.user_id), "family_id": str(record.family_id)},
            )
            raise InvalidRefreshToken("The refresh token was already used; the session is revoked.")
        user = await self.users.get(record.user_id)
        reason = self._refusal_reason(record, user)
        if reason or user is None:
            await self.tokens.revoke_family(record.family_id, now)
            await self.auditor.record(
                AuditEvent.REFRESH_REFUSED, user_id=record.user_id, reason=reason
            )
            raise InvalidRefreshToken("The refresh token is not valid.")
        record.used_at = now
        await self.auditor.record(AuditEvent.TOKEN_REFRESHED, user_id=user.id)
        scopes = refreshed_scopes(user.roles, record.scopes)
        return await self._issue(user, record.family_id, scopes)

    async def logout(self, presented: str) -> None:
        """Revoke the refresh-token family of ``presented``; unknown tokens are ignored."""
        record = await self.tokens.get_for_update(hash_refresh_token(presented))
        if record is None:
            return
        await self.tokens.revoke_family(record.family_id, utcnow())
        await self.auditor.record(AuditEvent.LOGGED_OUT, user_id=record.user_id)

    @staticmethod
    def _refusal_reason(record: RefreshToken, user: User | None) -> str | None:
        if record.revoked_at is not None:
            return "revoked"
        if record.expires_at <= utcnow():
            return "expired"
        if user is None or not user.is_active:
            return "inactive"
        return None

    @property
    def _address(self) -> str:
        return self.auditor.context.client_ip or UNKNOWN_ADDRESS

    async def _check_login_limits(self, email: str) -> None:
        try:
            await self.throttle.login_attempt(email, self._address)
        except TooManyRequests as exc:
            await self.auditor.record(AuditEvent.LOGIN_RATE_LIMITED, email=email)
            logger.info("login rate limited", extra={"email_marker": email_marker(email)})
            raise LoginRateLimited(
                exc.retry_after, "Too many login attempts; try again later."
            ) from exc

    async def _issue(self, user: User, family_id: uuid.UUID, scopes: list[str]) -> TokenPair:
        refresh_token, record = self.issuer.refresh_token(user, family_id, scopes)
        await self.tokens.add(record)
        return self.issuer.pair(self.issuer.access_token(user, scopes), refresh_token)
