"""`python -m lifeline_tracestore`: serve the trace store with uvicorn (SIGTERM drains, then exits)."""

import uvicorn

from lifeline_tracestore.app import build_app
from lifeline_tracestore.settings import TraceStoreSettings


def main() -> None:
    settings = TraceStoreSettings()
    uvicorn.run(build_app(settings), host=settings.host, port=settings.port, log_config=None,
                timeout_graceful_shutdown=int(settings.shutdown_grace_s), access_log=False)


if __name__ == "__main__":
    main()
