"""Real servers for tests and for `make run`: Redis (valkey), PostgreSQL, Kafka (tansu).

Each `start_*` returns a `RunningServer` once the server answers its own protocol;
the servers run in their own process groups and cannot outlive this process.
`servers_from_env_or_start` applies the test-suite policy the README describes.
"""

from lifeline_servers.policy import (
    ENV_VARS,
    KINDS,
    describe,
    server_from_env_or_start,
    servers_from_env_or_start,
    source_for,
)
from lifeline_servers.postgres import start_postgres
from lifeline_servers.probes import free_port, port_is_free
from lifeline_servers.running import (
    RunningServer,
    ServerError,
    ServerNotControllableError,
    ServerStartError,
)
from lifeline_servers.tansu import ensure_kafka_topics, start_tansu
from lifeline_servers.valkey import start_valkey

__all__ = [
    "ENV_VARS",
    "KINDS",
    "RunningServer",
    "ServerError",
    "ServerNotControllableError",
    "ServerStartError",
    "describe",
    "ensure_kafka_topics",
    "free_port",
    "port_is_free",
    "server_from_env_or_start",
    "servers_from_env_or_start",
    "source_for",
    "start_postgres",
    "start_tansu",
    "start_valkey",
]
