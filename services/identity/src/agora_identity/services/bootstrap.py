"""Start-up tasks: make sure the configured admin account exists."""

from __future__ import annotations

import logging

from agora_chassis.ids import new_id
from agora_identity.models import Role, User
from agora_identity.repositories.users import DuplicateEmailError, UserRepository
from agora_identity.schemas.user import normalise_email
from agora_identity.services.passwords import hash_password

logger = logging.getLogger(__name__)

ADMIN_NAME = "Agora Admin"


async def ensure_admin(users: UserRepository, email: str, password: str) -> bool:
    """Create the admin account if it does not exist; an existing account is left alone.

    Args:
        users: Repository in the start-up transaction.
        email: The admin's e-mail.
        password: Password for a newly created account.

    Returns:
        Whether an account was created.
    """
    email = normalise_email(email)
    if await users.get_by_email(email) is not None:
        return False
    user = User(
        id=new_id(),
        email=email,
        full_name=ADMIN_NAME,
        password_hash=await hash_password(password),
        roles=[Role.ADMIN.value, Role.CUSTOMER.value],
    )
    try:
        await users.add(user)
    except DuplicateEmailError:  # another replica created it at the same moment
        return False
    logger.info("created admin account")
    return True
