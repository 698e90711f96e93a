"""`python -m lifeline_replay`: serve replay with uvicorn (SIGTERM drains, then exits)."""

import uvicorn

from lifeline_replay.app import build_app
from lifeline_replay.settings import ReplaySettings


def main() -> None:
    settings = ReplaySettings()
    # per-message deflate costs more CPU than it saves on small JSON messages
    uvicorn.run(build_app(settings), host=settings.host, port=settings.port, log_config=None,
                timeout_graceful_shutdown=int(settings.shutdown_grace_s), access_log=False,
                ws_per_message_deflate=False)


if __name__ == "__main__":
    main()
