"""Everything a Lifeline HTTP service shares: settings, auth, errors, health, shutdown,
the edge's parameters (`params`), typed dependencies (`deps`) and serving (`serve`)."""

from lifeline_servicekit.app import ReadinessCheck, create_app
from lifeline_servicekit.auth import Principal, require_scope
from lifeline_servicekit.bus import bus_from_settings, lag_monitor
from lifeline_servicekit.checks import bus_check, database_check, open_database
from lifeline_servicekit.deps import deps_from, deps_of, provide
from lifeline_servicekit.params import (
    ID_PATTERN,
    SessionId,
    TenantParam,
    forwarded_authorization,
    session_not_found,
    tenant_for,
)
from lifeline_servicekit.problems import ProblemError
from lifeline_servicekit.serve import serve
from lifeline_servicekit.settings import ServiceSettings

__all__ = [
    "ID_PATTERN",
    "Principal",
    "ProblemError",
    "ReadinessCheck",
    "ServiceSettings",
    "SessionId",
    "TenantParam",
    "bus_check",
    "bus_from_settings",
    "create_app",
    "database_check",
    "deps_from",
    "deps_of",
    "forwarded_authorization",
    "lag_monitor",
    "open_database",
    "provide",
    "require_scope",
    "serve",
    "session_not_found",
    "tenant_for",
]
