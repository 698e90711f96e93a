"""The bus a service gets from its settings, named after the service in its groups."""

from lifeline_bus import Bus, create_bus
from lifeline_bus.lag import LagMonitor
from lifeline_servicekit.settings import ServiceSettings


def bus_from_settings(settings: ServiceSettings, service: str) -> Bus:
    return create_bus(
        settings.effective_bus_url,
        consumer=f"{service}-{settings.instance_id}",
        partitions=settings.bus_partitions,
        graceful_timeout=settings.shutdown_grace_s,
        reclaim_idle_ms=settings.bus_reclaim_idle_ms,
        session_timeout_ms=settings.kafka_session_timeout_ms,
        linger_ms=settings.bus_linger_ms,
    )


def lag_monitor(settings: ServiceSettings, bus: Bus) -> LagMonitor:
    """Lag gauges for every consumer registered on `bus` (call after `consume`)."""
    return LagMonitor(bus, bus.consumed, interval_s=settings.lag_interval_s)
