"""The bus adapter: Redis Streams or Kafka behind one port, through FastStream."""

from lifeline_bus.errors import BusError, BusUnavailableError
from lifeline_bus.factory import bus_kind, create_bus
from lifeline_bus.messages import CONSUMER_BATCH, BatchHandler, Delivery, LagReading, OutMessage
from lifeline_bus.ports import Bus

__all__ = [
    "CONSUMER_BATCH",
    "BatchHandler",
    "Bus",
    "BusError",
    "BusUnavailableError",
    "Delivery",
    "LagReading",
    "OutMessage",
    "bus_kind",
    "create_bus",
]
