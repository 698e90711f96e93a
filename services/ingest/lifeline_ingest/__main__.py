"""`python -m lifeline_ingest`: serve ingest with uvicorn (SIGTERM drains, then exits).

Scale out by running more ingest processes (each its own port or behind a balancer):
seq stays gapless across them (the log's seq and turn constraints) and one of them
leads the relay.
"""

import uvicorn

from lifeline_ingest.app import build_app
from lifeline_ingest.settings import IngestSettings


def main() -> None:
    settings = IngestSettings()
    uvicorn.run(build_app(settings), host=settings.host, port=settings.port, log_config=None,
                timeout_graceful_shutdown=int(settings.shutdown_grace_s), access_log=False)


if __name__ == "__main__":
    main()
