"""Who the service writes to: a projection of identity's users, fed by ``user.registered``."""

import datetime as dt
import uuid

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from agora_notification.models.base import Base
from agora_notification.models.notification import EMAIL_LENGTH

FULL_NAME_LENGTH = 200


class Recipient(Base):
    """A user's address and name, keyed by identity's user id.

    Access tokens carry no address, and the order events name the buyer by id only, so the
    service keeps its own copy of what ``user.registered`` told it.
    """

    __tablename__ = "recipients"

    user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(EMAIL_LENGTH))
    full_name: Mapped[str] = mapped_column(String(FULL_NAME_LENGTH))
    registered_at: Mapped[dt.datetime]
