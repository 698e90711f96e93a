"""Everything a Lifeline HTTP service shares: settings, auth, errors, health, shutdown,
the edge's parameters (`params`), typed dependencies (`deps`) and serving (`serve`).

A service is built the same way every time (ingest, replay, snapshot, trace-store):

    # deps.py — what the routes use, as one dataclass
    @dataclass(frozen=True)
    class MemoryDeps:
        settings: MemorySettings
        pool: asyncpg.Pool
    Deps = Annotated[MemoryDeps, Depends(deps_of(MemoryDeps))]

    # app.py — the composition root, the only place that names concrete adapters
    async def _wire(settings) -> MemoryDeps: ...        # build adapters, register consumers
    def build_app(settings=None) -> FastAPI:
        @asynccontextmanager
        async def lifespan(app):
            deps = await _wire(settings); provide(app, deps)
            ...start workers...; try: yield; finally: ...stop them, close the pool...
        return create_app(service=..., settings=settings, lifespan=lifespan,
                          routers=[router], readiness=_readiness)
    def _readiness(app):                                # database_check, bus_check, …
        return [database_check(lambda: deps_from(app, MemoryDeps).pool)]

    # api.py — routes take the typed deps and the shared parameters
    async def read(deps: Deps, session_id: SessionId, principal: Reader,
                   tenant_id: TenantParam = None):
        tenant = tenant_for(principal, tenant_id)       # 403 when crossing tenants
        ... raise session_not_found(session_id) ...

    # __main__.py
    serve(build_app, MemorySettings)

Errors: raise the service's own errors (errors.py, rooted at lifeline_common's
LifelineError and one of its kinds); the problem handlers map kinds to statuses.
"""

from lifeline_servicekit.app import ReadinessCheck, create_app
from lifeline_servicekit.auth import Principal, has_scope, require_scope
from lifeline_servicekit.bus import bus_from_settings, lag_monitor
from lifeline_servicekit.checks import bus_check, bus_checks, bus_joined_check, database_check, open_database
from lifeline_servicekit.deps import deps_from, deps_of, provide
from lifeline_servicekit.params import (
    ID_PATTERN,
    MAX_INT64,
    SaneDatetime,
    SessionId,
    TenantParam,
    forwarded_authorization,
    sane_instant,
    session_not_found,
    tenant_for,
)
from lifeline_servicekit.persons import SessionPerson, require_person, require_unscoped, sees_person
from lifeline_servicekit.problems import ProblemError
from lifeline_servicekit.serve import serve
from lifeline_servicekit.settings import ServiceSettings
from lifeline_servicekit.tenancy import OPERATOR_SCOPE

__all__ = [
    "ID_PATTERN",
    "MAX_INT64",
    "OPERATOR_SCOPE",
    "Principal",
    "ProblemError",
    "ReadinessCheck",
    "SaneDatetime",
    "ServiceSettings",
    "SessionId",
    "SessionPerson",
    "TenantParam",
    "bus_check",
    "bus_checks",
    "bus_from_settings",
    "bus_joined_check",
    "create_app",
    "database_check",
    "deps_from",
    "deps_of",
    "forwarded_authorization",
    "has_scope",
    "lag_monitor",
    "open_database",
    "provide",
    "require_person",
    "require_scope",
    "require_unscoped",
    "sane_instant",
    "sees_person",
    "serve",
    "session_not_found",
    "tenant_for",
]
