"""Servers in Docker containers through testcontainers, used when an engine answers.

Host ports are bound explicitly (a free port we pick) rather than left to Docker, so
a container that is killed and started again comes back on the same port, and
`restart()` keeps the URL every client holds.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lifeline_servers.probes import free_port, kafka_metadata, postgres_select_1, redis_ping
from lifeline_servers.process import wait_until
from lifeline_servers.running import RunningServer, ServerStartError

REDIS_IMAGE = "redis:7-alpine"
POSTGRES_IMAGE = "postgres:16-alpine"
KAFKA_IMAGE = "confluentinc/cp-kafka:7.6.0"


def docker_engine_available(timeout: float = 3.0) -> bool:
    """True only when a Docker engine answers a ping: a `docker` client on PATH with
    no daemon behind it (as on our dev machines) is not enough."""
    try:
        import docker

        client = docker.from_env(timeout=int(max(1, timeout)))
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


class ContainerControl:
    """Drives one started testcontainers container through kill and restart."""

    log_path: Path | None = None

    def __init__(self, name: str, container: Any, ready: Callable[[], bool]) -> None:
        self.name = name
        self.container = container
        self.ready = ready

    def _docker(self) -> Any:
        return self.container.get_wrapped_container()

    def start(self) -> None:
        self._docker().start()
        if not wait_until(self.ready, 60.0, interval=0.2):
            logs = self._docker().logs(tail=40).decode(errors="replace")
            raise ServerStartError(f"{self.name} container did not answer in 60s\n{logs}")

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._docker().stop(timeout=10)

    def kill(self) -> None:
        self._docker().kill()

    def is_running(self) -> bool:
        try:
            container = self._docker()
            container.reload()
            return container.status == "running"
        except Exception:
            return False

    def remove(self) -> None:
        with contextlib.suppress(Exception):
            self.container.stop()


def _started(container: Any, name: str) -> Any:
    try:
        return container.start()
    except Exception as exc:
        raise ServerStartError(f"cannot start {name} container: {exc}") from exc


def start_redis_container() -> RunningServer:
    from testcontainers.community.redis import RedisContainer

    port = free_port()
    container = _started(RedisContainer(REDIS_IMAGE).with_bind_ports(6379, port), "redis")
    control = ContainerControl("redis", container, lambda: redis_ping("127.0.0.1", port))
    return RunningServer("redis", f"redis://127.0.0.1:{port}", "container", control, REDIS_IMAGE)


def start_postgres_container() -> RunningServer:
    from testcontainers.community.postgres import PostgresContainer

    port = free_port()
    container = PostgresContainer(
        POSTGRES_IMAGE, username="postgres", password="postgres", dbname="postgres", driver=None
    ).with_bind_ports(5432, port)
    container = _started(container, "postgres")
    url = f"postgresql://postgres:postgres@127.0.0.1:{port}/postgres"
    control = ContainerControl("postgres", container, lambda: postgres_select_1(url))
    return RunningServer("postgres", url, "container", control, POSTGRES_IMAGE)


def start_kafka_container() -> RunningServer:
    from testcontainers.community.kafka import KafkaContainer

    port = free_port()
    container = KafkaContainer(KAFKA_IMAGE).with_kraft().with_bind_ports(9093, port)
    container = _started(container, "kafka")
    bootstrap = f"127.0.0.1:{port}"
    control = ContainerControl("kafka", container, lambda: isinstance(kafka_metadata(bootstrap), list))
    return RunningServer("kafka", f"kafka://{bootstrap}", "container", control, KAFKA_IMAGE)
