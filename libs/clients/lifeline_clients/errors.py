"""The two ways a call to a peer service fails, rooted at `lifeline_common.errors`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lifeline_common.errors import LifelineError, TransientError

if TYPE_CHECKING:
    from lifeline_clients._http import PeerResponse


class PeerUnavailableError(TransientError):
    """The peer did not answer, answered 5xx, or refused our service key.

    A transient condition from the caller's point of view: the same request may well
    succeed later, so consumers retry (never dead-letter) and the API answers 503.
    """


class PeerRefusedError(LifelineError):
    """The peer answered and refused the request; carries its problem document."""

    def __init__(self, status: int, title: str, detail: str = "", **extra: Any) -> None:
        super().__init__(detail or title)
        self.status, self.title, self.detail, self.extra = status, title, detail, extra

    @classmethod
    def from_response(cls, response: PeerResponse, what: str) -> PeerRefusedError:
        """Keep the peer's status, title and detail (and its `errors`/`field`, if any)."""
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        detail = body.get("detail") or response.text[:500]
        extra = {k: v for k, v in body.items() if k in ("errors", "field")}
        return cls(response.status_code, body.get("title") or f"{what} failed", f"{what}: {detail}", **extra)
