"""`python -m lifeline_snapshot`: serve snapshot with uvicorn (SIGTERM drains, then exits)."""

import uvicorn

from lifeline_snapshot.app import build_app
from lifeline_snapshot.settings import SnapshotSettings


def main() -> None:
    settings = SnapshotSettings()
    uvicorn.run(build_app(settings), host=settings.host, port=settings.port, log_config=None,
                timeout_graceful_shutdown=int(settings.shutdown_grace_s), access_log=False)


if __name__ == "__main__":
    main()
