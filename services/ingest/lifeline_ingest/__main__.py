"""`python -m lifeline_ingest`: serve ingest with uvicorn (SIGTERM drains, then exits)."""

import uvicorn

from lifeline_ingest.app import build_app
from lifeline_ingest.settings import IngestSettings


def main() -> None:
    settings = IngestSettings()
    uvicorn.run(build_app(settings), host=settings.host, port=settings.port, log_config=None,
                timeout_graceful_shutdown=int(settings.shutdown_grace_s), access_log=False)


if __name__ == "__main__":
    main()
