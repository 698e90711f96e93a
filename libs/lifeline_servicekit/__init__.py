"""Everything a Lifeline HTTP service shares: settings, auth, errors, health, shutdown."""

from lifeline_servicekit.app import ReadinessCheck, create_app
from lifeline_servicekit.auth import Principal, require_scope
from lifeline_servicekit.bus import bus_from_settings
from lifeline_servicekit.problems import ProblemError
from lifeline_servicekit.settings import ServiceSettings

__all__ = [
    "Principal",
    "ProblemError",
    "ReadinessCheck",
    "ServiceSettings",
    "bus_from_settings",
    "create_app",
    "require_scope",
]
