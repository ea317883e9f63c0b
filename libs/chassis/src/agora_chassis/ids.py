"""Time-ordered identifiers: every primary key and event id is a UUIDv7.

UUIDv7 keeps B-tree inserts at the right edge of the index (uuid4 scatters them), and sorts by
creation time. ``uuid-utils`` supplies it until the standard library's ``uuid.uuid7`` (3.14).
"""

import uuid

from uuid_utils import compat


def new_id() -> uuid.UUID:
    """Return a new UUIDv7 as a standard-library ``uuid.UUID``.

    Returns:
        A time-ordered UUID, unique across processes and hosts.
    """
    return compat.uuid7()
