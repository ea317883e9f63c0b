"""Password hashing with pwdlib: Argon2id for new hashes, bcrypt accepted for old ones.

Hashing is deliberately slow, so it runs in a worker thread to keep the event loop responsive.
"""

import asyncio

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from pwdlib.hashers.bcrypt import BcryptHasher

_hasher = PasswordHash((Argon2Hasher(), BcryptHasher()))

# Verified when the account does not exist, so a wrong e-mail costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("not-a-real-password-0")


async def hash_password(password: str) -> str:
    """Hash a password for storage.

    Args:
        password: The plain password (never logged).

    Returns:
        An Argon2id hash string.
    """
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password: str, password_hash: str | None) -> tuple[bool, str | None]:
    """Check a password against a stored hash in constant-ish time.

    Args:
        password: The presented password.
        password_hash: The stored hash, or ``None`` when the account is unknown.

    Returns:
        ``(valid, new_hash)``; ``new_hash`` is set when the stored hash should be upgraded.
    """
    if password_hash is None:
        await asyncio.to_thread(_hasher.verify, password, _DUMMY_HASH)
        return False, None
    return await asyncio.to_thread(_hasher.verify_and_update, password, password_hash)
