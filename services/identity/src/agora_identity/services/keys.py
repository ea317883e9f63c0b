"""Ed25519 signing keys for access tokens, and the JWKS that publishes their public halves.

Each key lives in ``<keys_dir>/<kid>.pem``. Kids start with a UTC timestamp, so the newest key
(the last by name) signs; every key in the directory is published, so tokens signed before a
rotation stay verifiable until the old file is removed (after the access-token lifetime).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm

from agora_chassis.auth import UnknownKeyError

logger = logging.getLogger(__name__)

ALGORITHM = "EdDSA"
ACCESS_TOKEN_TYPE = "at+jwt"  # noqa: S105 - RFC 9068 media type of access tokens
KEY_FILE_MODE = 0o600
KEY_DIR_MODE = 0o700


class NoSigningKeyError(RuntimeError):
    """Raised when no signing key exists and none may be generated (production)."""


@dataclass(frozen=True)
class SigningKey:
    """One private key and its id."""

    kid: str
    private_key: Ed25519PrivateKey

    def public_jwk(self) -> dict[str, Any]:
        """The public key as a JWK with ``kid``, ``alg`` and ``use``."""
        jwk: dict[str, Any] = json.loads(OKPAlgorithm.to_jwk(self.private_key.public_key()))
        return {**jwk, "kid": self.kid, "alg": ALGORITHM, "use": "sig"}


def new_kid() -> str:
    """A key id that sorts by creation time."""
    return f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"


def generate_key(directory: Path) -> SigningKey:
    """Create a new Ed25519 key file (mode 0600) in ``directory``.

    Args:
        directory: The keys directory (created with mode 0700 if missing).

    Returns:
        The new key; it becomes the signing key.
    """
    directory.mkdir(parents=True, exist_ok=True, mode=KEY_DIR_MODE)
    key = SigningKey(new_kid(), Ed25519PrivateKey.generate())
    pem = key.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path = directory / f"{key.kid}.pem"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, KEY_FILE_MODE)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    logger.info("generated signing key %s", key.kid)
    return key


def _read_key(path: Path) -> SigningKey:
    private_key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(private_key, Ed25519PrivateKey):
        raise NoSigningKeyError(f"{path.name} is not an Ed25519 private key")
    return SigningKey(path.stem, private_key)


class KeyStore:
    """The service's signing keys, oldest first."""

    def __init__(self, keys: list[SigningKey]) -> None:
        if not keys:
            raise NoSigningKeyError("at least one signing key is required")
        self._keys = keys

    @classmethod
    def load(cls, directory: Path, *, create_if_empty: bool) -> KeyStore:
        """Load every ``*.pem`` key in ``directory``.

        Args:
            directory: Where the keys live.
            create_if_empty: Generate a first key when there is none (development only).

        Returns:
            The key store.

        Raises:
            NoSigningKeyError: No key exists and none may be created.
        """
        paths = sorted(directory.glob("*.pem")) if directory.is_dir() else []
        keys = [_read_key(path) for path in paths]
        if not keys and create_if_empty:
            keys = [generate_key(directory)]
        if not keys:
            raise NoSigningKeyError(f"no signing key in {directory} (set AGORA_JWT_KEYS_DIR)")
        return cls(keys)

    @property
    def current(self) -> SigningKey:
        """The key new tokens are signed with."""
        return self._keys[-1]

    def sign(self, claims: dict[str, Any]) -> str:
        """Sign access-token claims with the current key.

        Args:
            claims: Registered and private claims.

        Returns:
            The compact JWS.
        """
        key = self.current
        headers = {"kid": key.kid, "typ": ACCESS_TOKEN_TYPE}
        return jwt.encode(claims, key.private_key, algorithm=ALGORITHM, headers=headers)

    def jwks(self) -> dict[str, list[dict[str, Any]]]:
        """The JSON Web Key Set with every public key (newest first)."""
        return {"keys": [key.public_jwk() for key in reversed(self._keys)]}


class LocalKeySource:
    """Identity verifies its own tokens straight from its key store (no HTTP hop to itself)."""

    def __init__(self, store: KeyStore) -> None:
        self._keys = {key["kid"]: jwt.PyJWK(key) for key in store.jwks()["keys"]}

    async def get_key(self, kid: str) -> jwt.PyJWK:
        """Return the public key ``kid``.

        Raises:
            UnknownKeyError: No key has this id.
        """
        try:
            return self._keys[kid]
        except KeyError:
            raise UnknownKeyError(kid) from None

    async def aclose(self) -> None:
        """Nothing to release."""
