"""One async client per peer service, and the one error pair they raise.

    LifelineError
    ├── TransientError
    │   └── PeerUnavailableError   the peer did not answer (or refused our service key): retry
    └── PeerRefusedError           the peer answered and said no: status, title, detail

httpx's exceptions never leave this package. A consumer retries a
`PeerUnavailableError` (it is never a reason to dead-letter); the HTTP edge answers
503 for it and the peer's own status for a `PeerRefusedError`.
"""

from lifeline_clients.errors import PeerRefusedError, PeerUnavailableError
from lifeline_clients.ingest import IngestClient
from lifeline_clients.memory import MemoryClient
from lifeline_clients.replay import ReplayClient

__all__ = ["IngestClient", "MemoryClient", "PeerRefusedError", "PeerUnavailableError", "ReplayClient"]
