"""Redis Streams adapter, shaped by FastStream's measured behaviour (docs/operations.md, bus notes).

- Groups are created at `0` before FastStream starts, so a new group reads history.
- Each group has a live batch subscriber and a reclaiming subscriber
  (`min_idle_time`): a consumer that died holding entries does not strand them.
- `max_records` is always set, so one consumer never swallows the whole backlog.
- Records are plain stream entries (`data` = the JSON, `key`, and one field per
  header), so producers and readers need no Lifeline code.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from functools import partial
from typing import Any, Self, cast

import redis.asyncio as aioredis
import structlog
from faststream.redis import RedisBroker, StreamSub
from redis.exceptions import RedisError, ResponseError
from redis.typing import EncodableT, FieldT

from lifeline_bus.dead_letters import DLQ_TOPIC, dlq_metadata, record_dead_letter
from lifeline_bus.errors import BusUnavailableError
from lifeline_bus.linger import linger
from lifeline_bus.messages import CONSUMER_BATCH, BatchHandler, Delivery, LagReading, OutMessage
from lifeline_bus.metrics import BATCH_SECONDS, CONSUMED, PUBLISHED, REDELIVERED
from lifeline_bus.policy import settle
from lifeline_bus.redis_packing import connection_options

# redis' stubs type stream fields as an invariant dict of their own key and value types.
_Fields = dict[FieldT, EncodableT]

log = structlog.get_logger("lifeline.bus")
_RESERVED = {b"data", b"key"}


async def _skip_decode(*_: Any) -> None:
    """Bodies are read from the raw entry by the handler, not by FastStream.

    A coroutine, because FastStream runs a plain function decoder in a worker thread:
    one thread hop per batch (8.7 % of snapshot's CPU under single-event traffic).
    """
    return None


async def _raw_safe_parse(message: Any, original: Any) -> Any:
    """Let FastStream parse a stand-in, keeping the raw entry for the handler.

    FastStream's own stream parser JSON-dumps every field and dies on bytes that are
    not UTF-8, before any handler could dead-letter them; garbage must reach the
    handler intact so it can go to the DLQ with its original bytes.
    """
    # One stand-in entry whatever the batch's size: FastStream parses each entry of a batch
    # (and raises and catches a JSON error on each empty one); acks and the handler read the
    # raw entry's ids, restored below, so the stand-in's length does not matter. `0` is
    # valid JSON, so nothing is raised.
    stand_in = [{b"data": b"0"}] if isinstance(message["data"], list) else {b"data": b"0"}
    parsed = await original({**message, "data": stand_in})
    parsed.raw_message = message
    return parsed


class _StreamSub(StreamSub):
    """FastStream's subscription, handed out as is instead of as a deep copy.

    FastStream reads its subscription through `add_prefix(broker prefix)` about eight
    times per `XREADGROUP` and four per `XAUTOCLAIM`, and every call deep-copies it (15 µs
    each on the project's machine, 2–3 % of trace-store's CPU in a burst). Lifeline's
    broker has no prefix, and the copy of an unprefixed subscription equals the original;
    nothing writes to what is handed out.
    """

    def add_prefix(self, prefix: str) -> Self:
        return self if not prefix else super().add_prefix(prefix)


def _delivery(topic: str, entry_id: bytes, fields: dict[bytes, bytes], count: int) -> Delivery:
    headers = {k.decode(): v.decode(errors="replace") for k, v in fields.items() if k not in _RESERVED}
    value = fields.get(b"data")
    if value is None:  # an entry published by FastStream itself, or garbage
        value = fields.get(b"__data__", b"")
    key = fields.get(b"key")
    return Delivery(topic=topic, id=entry_id.decode(), value=value,
                    key=key.decode(errors="replace") if key else None,
                    headers=headers, delivery_count=count)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def stream_lag(client: aioredis.Redis, topic: str, group: str) -> LagReading | None:
    """The group's lag on one stream, or None when the stream or group does not exist yet.

    `XINFO GROUPS` gives the group's `lag` (entries not yet delivered to the group) and
    `pending` (delivered, not acknowledged); the oldest pending entry's idle time comes
    from `XPENDING … - + 1`.
    """
    try:
        groups = await client.xinfo_groups(topic)
    except aioredis.ResponseError:
        return None
    info = next((g for g in groups if _text(g.get("name")) == group), None)
    if info is None:
        return None
    lag = info.get("lag")
    if lag is None and info.get("entries-read") is not None:  # lag unknown after deletions
        lag = max(0, int(await client.xlen(topic)) - int(info["entries-read"]))
    pending = int(info.get("pending") or 0)
    oldest = 0.0
    if pending:
        first = await client.xpending_range(topic, group, min="-", max="+", count=1)
        if first:
            oldest = int(first[0]["time_since_delivered"]) / 1000
    return LagReading(topic, group, None if lag is None else int(lag), pending, oldest)


class RedisStreamsBus:
    """The default bus: Redis (or Valkey) streams with consumer groups."""

    kind = "redis"

    def __init__(self, url: str, *, consumer: str, maxlen: int = 1_000_000,
                 reclaim_idle_ms: int = 15_000, max_deliveries: int = 5,
                 graceful_timeout: float = 10.0, linger_ms: float = 0.0) -> None:
        self._url = url
        self._linger_s = linger_ms / 1000
        self._consumer = consumer
        self._maxlen = maxlen
        self._reclaim_idle_ms = reclaim_idle_ms
        self._max_deliveries = max_deliveries
        packing = connection_options(url)  # commands packed by hiredis (redis_packing.py)
        self._client: aioredis.Redis = aioredis.from_url(url, socket_timeout=5,
                                                          socket_connect_timeout=2, **packing)
        self._broker = RedisBroker(url, graceful_timeout=graceful_timeout,
                                   logger=logging.getLogger("lifeline.faststream"),
                                   log_level=logging.DEBUG, **packing)
        self._groups: list[tuple[str, str]] = []
        self._stopping = asyncio.Event()
        self._watchdog: asyncio.Task[None] | None = None
        self.started = False

    @property
    def client(self) -> aioredis.Redis:
        """The raw client, for admin reads such as lag (XINFO) in services."""
        return self._client

    def consume(self, topic: str, group: str, handler: BatchHandler, *,
                max_records: int = CONSUMER_BATCH) -> None:
        # The delivered message, read from FastStream's context directly: a `Context("message")`
        # parameter made fast_depends resolve it in a worker thread, a thread hop per batch.
        current_message = partial(self._broker.context.get_local, "message")
        self._groups.append((topic, group))

        async def dead_letter(delivery: Delivery, reason: str) -> None:
            await self.dead_letter(delivery, reason, group)

        @self._broker.subscriber(
            stream=_StreamSub(topic, group=group, consumer=self._consumer, batch=True,
                             max_records=max_records, polling_interval=100),
            parser=_raw_safe_parse, decoder=_skip_decode,
        )
        async def live(_: Any) -> None:
            message = current_message()
            raw = message.raw_message
            batch = [_delivery(topic, i, f, 1) for i, f in zip(raw["message_ids"], raw["data"],
                                                                strict=True)]
            CONSUMED.labels(topic, group).inc(len(batch))
            with BATCH_SECONDS.labels(topic, group).time():
                await settle(handler, batch, dead_letter=dead_letter, stopping=self._stopping)
            await linger(len(batch), max_records, self._linger_s, message.ack)

        @self._broker.subscriber(
            stream=_StreamSub(topic, group=group, consumer=f"{self._consumer}-reclaim",
                             min_idle_time=self._reclaim_idle_ms, max_records=10,
                             polling_interval=1000),
            parser=_raw_safe_parse, decoder=_skip_decode,
        )
        async def reclaim(_: Any) -> None:
            message = current_message()
            raw = message.raw_message
            count = await message.get_delivery_count()
            delivery = _delivery(topic, raw["message_ids"][0], raw["data"], count)
            REDELIVERED.labels(topic, group).inc()
            log.info("consumer.reclaimed", topic=topic, group=group, delivery=delivery.id,
                     delivery_count=count)
            if count > self._max_deliveries:
                await dead_letter(delivery, f"delivered {count} times without being settled")
                return
            await settle(handler, [delivery], dead_letter=dead_letter, stopping=self._stopping)

    @property
    def consumed(self) -> list[tuple[str, str]]:
        """(topic, group) of every registered consumer, for lag monitoring."""
        return list(self._groups)

    def declare(self, *topics: str) -> None:
        """Streams need no declaration: XADD creates them."""

    async def _ensure_groups(self) -> None:
        for topic, group in self._groups:
            try:
                await self._client.xgroup_create(topic, group, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    async def start(self) -> None:
        self._stopping.clear()
        try:
            await self._ensure_groups()
            await self._broker.start()
        except (RedisError, OSError) as exc:
            raise BusUnavailableError(f"cannot start Redis bus at {self._url}: {exc}") from exc
        self.started = True
        if self._groups and self._watchdog is None:
            self._watchdog = asyncio.create_task(self._watch(), name="redis-bus-watchdog")

    async def _watch(self) -> None:
        """Revive subscribers FastStream stopped for good (NOGROUP after a flush or an
        empty restart, #2611/#2945): recreate the groups and restart the broker."""
        while not self._stopping.is_set():
            await asyncio.sleep(1.0)
            if self._stopping.is_set() or self.consumers_running():
                continue
            log.warning("bus.subscriber_dead", action="recreating groups and restarting")
            try:
                await self._broker.stop()
                await self._ensure_groups()
                await self._broker.start()
                log.info("bus.subscribers_restarted")
            except (RedisError, OSError) as exc:
                log.warning("bus.restart_failed", error=str(exc))

    async def stop(self) -> None:
        self._stopping.set()
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watchdog
            self._watchdog = None
        await self._broker.stop()
        await self._client.aclose()

    async def publish(self, topic: str, messages: Sequence[OutMessage]) -> None:
        if not messages:
            return
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                for m in messages:
                    fields: dict[str, Any] = {"data": m.value, "key": m.key, **m.headers}
                    pipe.xadd(topic, cast(_Fields, fields), maxlen=self._maxlen, approximate=True)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            raise BusUnavailableError(f"publish to {topic}: {exc}") from exc
        PUBLISHED.labels(topic).inc(len(messages))

    async def dead_letter(self, delivery: Delivery, reason: str, group: str) -> None:
        fields: dict[str, Any] = {"data": delivery.value, **dlq_metadata(delivery, reason, group)}
        if delivery.key:
            fields["key"] = delivery.key
        try:
            await self._client.xadd(DLQ_TOPIC, cast(_Fields, fields), maxlen=self._maxlen, approximate=True)
        except (RedisError, OSError) as exc:
            raise BusUnavailableError(f"dead-letter to {DLQ_TOPIC}: {exc}") from exc
        record_dead_letter(delivery, reason, group)

    async def ping(self) -> bool:
        try:
            return bool(await self._client.ping())
        except (RedisError, OSError):
            return False

    async def lag(self, topic: str, group: str) -> LagReading | None:
        if self._stopping.is_set():
            return None  # its connections are closing: a reading now would reopen them
        try:
            return await stream_lag(self._client, topic, group)
        except RedisError as exc:
            raise BusUnavailableError(f"cannot read the lag of {group} on {topic}: {exc!r}") from exc

    def consumers_running(self) -> bool:
        return all(getattr(s, "running", False) for s in self._broker.subscribers)
