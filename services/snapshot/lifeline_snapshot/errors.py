"""snapshot's errors, rooted at `lifeline_common.errors` (the tree is drawn there).

    SnapshotError
    └── BundleError (InvalidInputError)   an import bundle is invalid: `errors` name the fields

Peer services' failures arrive as lifeline_clients' `PeerUnavailableError` (503) and
`PeerRefusedError` (the peer's own answer, relayed); asyncpg's are mapped by the store.
"""

from __future__ import annotations

from lifeline_common.errors import InvalidInputError, LifelineError

_MAX_DETAIL = 2000


class SnapshotError(LifelineError):
    """Base of snapshot's errors."""


class BundleError(SnapshotError, InvalidInputError):
    """The bundle is not one we can import; `errors` name the fields (`[{"field", "msg"}]`)."""

    title = "Invalid bundle"

    def __init__(self, errors: list[dict[str, str]]) -> None:
        message = "; ".join(f"{e['field']}: {e['msg']}" for e in errors)
        super().__init__(message, errors)
        self.detail = message[:_MAX_DETAIL]  # a bundle can hold thousands of bad events
