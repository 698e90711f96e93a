"""Everything a Lifeline HTTP service shares: settings, auth, errors, health, shutdown."""

from lifeline_servicekit.app import ReadinessCheck, create_app
from lifeline_servicekit.auth import Principal, require_scope
from lifeline_servicekit.bus import bus_from_settings, lag_monitor
from lifeline_servicekit.checks import bus_check, database_check, open_database
from lifeline_servicekit.problems import ProblemError
from lifeline_servicekit.settings import ServiceSettings

__all__ = [
    "Principal",
    "ProblemError",
    "ReadinessCheck",
    "ServiceSettings",
    "bus_check",
    "bus_from_settings",
    "create_app",
    "database_check",
    "lag_monitor",
    "open_database",
    "require_scope",
]
