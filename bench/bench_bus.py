"""The bus adapter alone: CPU µs per record to consume, with a handler that does nothing.

Every consumer of the stack pays this per record before any projection work: the
broker read, FastStream's per-batch machinery, building each `Delivery`, the ack. The
figure tells how much of a consumer's CPU per event is the transport, and so what
carrying several events per record would save (docs/performance.md).

Per bus (Valkey streams, then tansu as the Kafka-protocol broker): N records of ~700
bytes (the size of a stack turn event) are published first, then one consumer group
reads them all with the stack's read size (500); CPU is this process's (the consumer
only: publishing is over before the meter starts) and the broker's, over the drain.
Medians of BENCH_REPEATS (default 3). Prints figures; asserts nothing.
"""

from __future__ import annotations

import asyncio
import logging
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping
from pathlib import Path

from bench.cpu import CpuMeter, format_cpu, record, server_pid
from lifeline_bus import Delivery, OutMessage, create_bus
from lifeline_servers import start_tansu, start_valkey
from lifeline_servers.tansu import ensure_kafka_topics

SCALE = float(os.environ.get("BENCH_SCALE", "1"))
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))
N = max(2_000, int(50_000 * SCALE))
VALUE = b'{"event_type":"turn.recorded","payload":{"text":"' + b"x" * 640 + b'"}}'


async def one_run(url: str, broker_pid: int | None) -> dict[str, float]:
    topic = f"bench.bus.{uuid.uuid4().hex[:8]}"
    producer = create_bus(url, consumer="bench-producer")
    if producer.kind == "kafka":
        await ensure_kafka_topics(url.split("://", 1)[1], [topic])
    await producer.start()
    for start in range(0, N, 1000):
        await producer.publish(topic, [OutMessage(key=f"s{i % 200}", value=VALUE,
                                                  headers={"traceparent": f"00-{'a' * 32}-{'b' * 16}-01"})
                                       for i in range(start, min(N, start + 1000))])
    await producer.stop()
    seen = 0
    done = asyncio.Event()

    async def handler(batch: list[Delivery]) -> Mapping[str, str]:
        nonlocal seen
        seen += len(batch)
        if seen >= N:
            done.set()
        return {}

    consumer = create_bus(url, consumer="bench-consumer")
    consumer.consume(topic, "bench", handler, max_records=500)
    pids = {"consumer": os.getpid(), **({"broker": broker_pid} if broker_pid else {})}
    meter = CpuMeter(pids).start()
    started = time.perf_counter()
    await consumer.start()
    await asyncio.wait_for(done.wait(), timeout=300)
    elapsed = time.perf_counter() - started
    meter.stop()
    await consumer.stop()
    return {"records_per_s": N / elapsed, **meter.per_event_us(N)}


async def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="bench-bus-"))
    valkey, tansu = start_valkey(root / "valkey"), start_tansu()
    try:
        for name, server in (("redis", valkey), ("kafka", tansu)):
            runs = [await one_run(server.url, server_pid(server)) for _ in range(REPEATS)]
            med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
            cpu = {k: v for k, v in med.items() if k != "records_per_s"}
            print(f"  {name}: {N:,} records of {len(VALUE)} bytes, read 500 at a time, median of "
                  f"{REPEATS}: {med['records_per_s']:,.0f} records/s consumed\n    {format_cpu(cpu)}",
                  flush=True)
            record("bus", f"consume, {name}", med["records_per_s"], cpu)
    finally:
        tansu.stop()
        valkey.stop()


if __name__ == "__main__":
    # FastStream logs the read a stopping consumer's closed connection interrupts, with a trace
    logging.getLogger("lifeline.faststream").setLevel(logging.CRITICAL)
    print(f"bench_bus: python {sys.version.split()[0]}, scale {SCALE}, {N:,} records")
    asyncio.run(main())
