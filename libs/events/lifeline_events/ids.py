"""Event id generation."""

from __future__ import annotations

import uuid

from uuid_utils import compat


def new_event_id() -> uuid.UUID:
    """Return a fresh UUID v7 as a stdlib ``uuid.UUID``.

    v7 ids sort by creation time, so they index well in Postgres and read in order in
    logs; returning the stdlib type keeps ``uuid_utils`` an implementation detail.
    """
    return compat.uuid7()
