"""Serving a service: each service's `__main__.py` is `serve(build_app, Settings)`.

uvicorn drains on SIGTERM (stop accepting, finish in-flight requests, run the lifespan's
shutdown) within the service's `shutdown_grace_s`. Logging is structlog's, so uvicorn's
own log config and access log are off (the observability middleware records requests).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import uvicorn
from fastapi import FastAPI

from lifeline_servicekit.settings import ServiceSettings

S = TypeVar("S", bound=ServiceSettings)


def serve(build_app: Callable[[S], FastAPI], settings_type: type[S], **uvicorn_options: Any) -> None:
    """Read the settings from the environment, build the app and serve it until SIGTERM.

    `uvicorn_options` are passed through (replay turns off WebSocket per-message deflate).
    """
    settings = settings_type()
    uvicorn.run(build_app(settings), host=settings.host, port=settings.port, log_config=None,
                timeout_graceful_shutdown=int(settings.shutdown_grace_s), access_log=False,
                **uvicorn_options)
