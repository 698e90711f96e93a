"""The services `make run` starts: a service joins the stack by being declared here.

A declared service whose module is not importable yet is skipped with a note, so a
service can be declared before it is written.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServiceSpec:
    """One service process: `python -m <module>` listening on `port`.

    `env_name` is the variable that carries its base URL to users (stack.env) and
    to the other services (replay finds ingest's log through LIFELINE_INGEST_URL).
    """

    name: str
    module: str
    port: int
    env_name: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


# Planned, to be declared by each service as it lands (same shape):
#   replay 8002, snapshot 8003, memory 8004, governance 8005 (LIFELINE_<NAME>_URL),
#   tracestore 8006 (LIFELINE_TRACESTORE_URL).
SERVICES: list[ServiceSpec] = [
    ServiceSpec(name="ingest", module="lifeline_ingest", port=8001, env_name="LIFELINE_INGEST_URL"),
    ServiceSpec(name="replay", module="lifeline_replay", port=8002, env_name="LIFELINE_REPLAY_URL"),
    ServiceSpec(name="snapshot", module="lifeline_snapshot", port=8003, env_name="LIFELINE_SNAPSHOT_URL"),
    ServiceSpec(name="memory", module="lifeline_memory", port=8004, env_name="LIFELINE_MEMORY_URL"),
    ServiceSpec(name="governance", module="lifeline_governance", port=8005,
                env_name="LIFELINE_GOVERNANCE_URL"),
    ServiceSpec(name="tracestore", module="lifeline_tracestore", port=8006,
                env_name="LIFELINE_TRACESTORE_URL"),
]


def parse_service(text: str) -> ServiceSpec:
    """`NAME=MODULE:PORT` (from --service) → a spec; its env name is LIFELINE_<NAME>_URL."""
    name, _, rest = text.partition("=")
    module, _, port = rest.rpartition(":")
    if not (name and module and port.isdigit()):
        raise ValueError(f"--service {text!r}: expected NAME=MODULE:PORT")
    return ServiceSpec(name, module, int(port), f"LIFELINE_{name.upper()}_URL")
