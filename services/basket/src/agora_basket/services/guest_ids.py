"""Opaque, signed guest basket ids: ``<uuid7 hex>.<HMAC-SHA256, base64url>``.

A shopper who is not signed in gets one with the first answer; the client sends it back in the
``X-Basket-Id`` header or the ``basket_id`` cookie. The signature makes ids unguessable from one
another and unforgeable without the secret, so a guest can reach no basket but the one issued to
them. The id carries no personal data and no expiry: the basket behind it expires in Redis.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid

from agora_basket.services.errors import InvalidGuestId
from agora_chassis.ids import new_id

SEPARATOR = "."
UUID_HEX_LENGTH = 32
MAX_ID_LENGTH = 128
"""Longer values are refused before any HMAC is computed."""


class GuestIds:
    """Issues guest basket ids and verifies the ones clients send back.

    Args:
        secret: The HMAC key (``AGORA_GUEST_SECRET``).
    """

    def __init__(self, secret: bytes) -> None:
        if not secret:
            raise ValueError("the guest id secret must not be empty")
        self._secret = secret

    def issue(self) -> str:
        """A new signed guest id.

        Returns:
            The id, safe in a header or a cookie.
        """
        guest = new_id().hex
        return f"{guest}{SEPARATOR}{self._sign(guest)}"

    def verify(self, value: str) -> str:
        """The guest behind a signed id.

        Args:
            value: The id as the client sent it.

        Returns:
            The guest's id (32 hexadecimal digits), the owner of a guest basket.

        Raises:
            InvalidGuestId: Malformed, or its signature does not verify (constant time).
        """
        if len(value) > MAX_ID_LENGTH:
            raise InvalidGuestId
        guest, _, signature = value.partition(SEPARATOR)
        if len(guest) != UUID_HEX_LENGTH or not hmac.compare_digest(signature, self._sign(guest)):
            raise InvalidGuestId
        try:
            uuid.UUID(hex=guest)
        except ValueError:
            raise InvalidGuestId from None
        return guest

    def _sign(self, guest: str) -> str:
        digest = hmac.new(self._secret, guest.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
