"""The session explorer: a build-free page under `/ui/` and the `config.json` it starts from.

The page is static files shipped inside this package (plain ES modules, no npm step), so
`make install` is all it needs. It talks to every service's public API straight from the
browser (servicekit's CORS setting allows trace-store's origin); this module only tells
it where those services are. No API key passes through here: the user pastes one into
the page, which keeps it in the tab's sessionStorage.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from lifeline_tracestore.settings import TraceStoreSettings

UI_DIR = Path(__file__).parent / "ui"
DASHBOARDS = {"ingest": "lifeline-overview", "replay": "lifeline-recovery",
              "tracestore": "lifeline-traces", "memory": "lifeline-memory",
              "snapshot": "lifeline-overview", "governance": "lifeline-overview"}

router = APIRouter(tags=["explorer"], include_in_schema=False)


def explorer_config(settings: TraceStoreSettings, own_origin: str) -> dict[str, Any]:
    """Service base URLs and link patterns for the page (no secrets: the page is public)."""
    grafana = settings.grafana_url.rstrip("/")
    peers = {
        "ingest": settings.ingest_url,
        "replay": settings.replay_url,
        "snapshot": settings.snapshot_url,
        "memory": settings.memory_url or settings.explorer_memory_url,
        "governance": settings.governance_url,
        "tracestore": own_origin,
        **settings.explorer_urls,
    }
    return {
        "services": {name: url.rstrip("/") for name, url in peers.items()},
        "jaeger_trace_url": settings.jaeger_trace_url,
        "grafana": {name: f"{grafana}/d/{uid}" for name, uid in DASHBOARDS.items()} if grafana else {},
    }


@router.get("/ui/config.json")
async def config(request: Request) -> dict[str, Any]:
    """Where the explorer finds the services: trace-store's own peer settings."""
    return explorer_config(request.app.state.settings, str(request.base_url))


@router.get("/ui")
async def ui_root() -> RedirectResponse:
    return RedirectResponse("/ui/")


def mount_explorer(app: FastAPI) -> None:
    """Serve the page's files; routes above (config.json) are matched before the mount."""
    app.include_router(router)
    app.mount("/ui", StaticFiles(directory=UI_DIR, html=True), name="explorer")
