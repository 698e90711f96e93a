"""`python -m lifeline_ingest`: serve ingest with uvicorn (SIGTERM drains, then exits).

`LIFELINE_WORKERS` > 1 runs several worker processes on the port; seq stays gapless
across them (the session row lock) and one of them leads the relay.
"""

import uvicorn

from lifeline_ingest.app import build_app
from lifeline_ingest.settings import IngestSettings


def main() -> None:
    settings = IngestSettings()
    common = {"host": settings.host, "port": settings.port, "log_config": None,
              "timeout_graceful_shutdown": int(settings.shutdown_grace_s), "access_log": False}
    if settings.workers > 1:
        uvicorn.run("lifeline_ingest.app:build_app", factory=True, workers=settings.workers, **common)
    else:
        uvicorn.run(build_app(settings), **common)


if __name__ == "__main__":
    main()
