"""Bus errors as callers see them; redis and aiokafka classes never leave the adapter."""

from lifeline_common.errors import LifelineError, TransientError


class BusError(LifelineError):
    """The bus refused an operation for a reason retrying will not fix."""


class BusUnavailableError(BusError, TransientError):
    """The bus cannot be reached right now; the caller keeps its work and retries."""
