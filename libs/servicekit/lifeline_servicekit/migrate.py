"""`python -m lifeline_servicekit.migrate [SERVICE]`: apply one service's migrations, then exit.

Every service already migrates its schema at start-up under the advisory lock
(`lifeline_store.migrations`). On Kubernetes the same step also runs as each pod's init
container (deploy/k8s): a release's schema change is applied before any new pod of the
release serves, a failing migration shows as `Init:Error` on one pod instead of a
crash-looping fleet, and the old pods keep serving meanwhile. The lock makes the
first init container of a rollout apply the migrations and every later one (and every
app start) find nothing left to do, so "once per release" holds however many pods start.

SERVICE defaults to `LIFELINE_SERVICE`, which the image sets (Dockerfile).
"""

from __future__ import annotations

import asyncio
import importlib.resources
import os
import sys
from pathlib import Path

from lifeline_servicekit.settings import ServiceSettings
from lifeline_store import apply_migrations, create_pool

SCHEMAS: dict[str, str] = {"ingest": "ingest", "replay": "replay", "snapshot": "snapshot",
                           "memory": "memory", "governance": "governance", "tracestore": "traces"}
"""Each service's schema, as its app.py passes it to `open_database` (a unit test holds them equal)."""


def migrations_of(service: str) -> Path:
    """The migrations folder shipped inside the service's package."""
    return Path(str(importlib.resources.files(f"lifeline_{service}") / "migrations"))


async def migrate(service: str, settings: ServiceSettings) -> list[str]:
    """Apply `service`'s pending migrations; return the names applied now (empty when up to date)."""
    if service not in SCHEMAS:
        raise SystemExit(f"unknown service {service!r}; one of {sorted(SCHEMAS)}")
    pool = await create_pool(settings.database_url, min_size=1, max_size=1,
                             application_name=f"lifeline-migrate-{service}")
    try:
        return await apply_migrations(pool, SCHEMAS[service], migrations_of(service))
    finally:
        await pool.close()


def main(argv: list[str] | None = None) -> int:
    """Entry point: prints what it applied, so the init container's log says what a release changed."""
    args = sys.argv[1:] if argv is None else argv
    service = args[0] if args else os.environ.get("LIFELINE_SERVICE", "")
    applied = asyncio.run(migrate(service, ServiceSettings()))
    print(f"{service}: applied {applied}" if applied else f"{service}: schema up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
