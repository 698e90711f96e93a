"""Serving a service: each service's `__main__.py` is `serve(build_app, Settings)`.

Blue-green friendly shutdown: on SIGTERM `/ready` answers 503 (`draining`) at once, so a
balancer stops sending new work; `shutdown_ready_delay_s` later uvicorn drains (stop
accepting, finish in-flight requests, run the lifespan's shutdown) within the service's
`shutdown_grace_s`. A second SIGTERM (or SIGINT) skips the delay. SIGHUP is ignored and
logged: settings are read once at start, so a reload is a restart (README, operations).
Logging is structlog's, so uvicorn's own log config and access log are off (the
observability middleware records requests).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any, TypeVar

import structlog
import uvicorn
from fastapi import FastAPI

from lifeline_servicekit.settings import ServiceSettings

S = TypeVar("S", bound=ServiceSettings)
log = structlog.get_logger("lifeline.serve")


class _DrainingServer(uvicorn.Server):
    """uvicorn that turns /ready to 503 before it starts to shut down."""

    def __init__(self, config: uvicorn.Config, app: FastAPI, delay_s: float) -> None:
        super().__init__(config)
        self._app, self._delay_s = app, delay_s

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._delay_s <= 0 or getattr(self._app.state, "draining", False):
            super().handle_exit(sig, frame)
            return
        self._app.state.draining = True
        log.info("shutdown.ready_off", signal=signal.Signals(sig).name, drain_in_s=self._delay_s)
        timer = threading.Timer(self._delay_s, super().handle_exit, args=(sig, frame))
        timer.daemon = True
        timer.start()


def _ignore_sighup(signum: int, frame: FrameType | None) -> None:
    log.info("sighup.ignored", reason="settings are read at start: restart the process to reload")


def serve(build_app: Callable[[S], FastAPI], settings_type: type[S], **uvicorn_options: Any) -> None:
    """Read the settings from the environment, build the app and serve it until SIGTERM.

    `uvicorn_options` are passed through (replay turns off WebSocket per-message deflate).
    """
    settings = settings_type()
    app = build_app(settings)
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_config=None,
                            timeout_graceful_shutdown=int(settings.shutdown_grace_s), access_log=False,
                            **uvicorn_options)
    signal.signal(signal.SIGHUP, _ignore_sighup)
    _DrainingServer(config, app, settings.shutdown_ready_delay_s).run()
