"""Where the CLI finds its API key and service URLs.

Precedence: command-line options, then the environment, then `.lifeline/stack.env`
(written by `make run`; looked up from the current directory upwards), then the
default ports of a local stack.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULTS = {
    "LIFELINE_API_KEY": "",
    "LIFELINE_SNAPSHOT_URL": "http://127.0.0.1:8003",
    "LIFELINE_REPLAY_URL": "http://127.0.0.1:8002",
    "LIFELINE_INGEST_URL": "http://127.0.0.1:8001",
}


@dataclass(frozen=True)
class CliConfig:
    api_key: str
    snapshot_url: str
    replay_url: str
    ingest_url: str
    source: str = "defaults"


def parse_env_file(text: str) -> dict[str, str]:
    """`KEY=value` lines (optionally `export KEY=value`, quoted values, # comments)."""
    out: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        out[key.strip()] = value
    return out


def find_stack_env(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        candidate = folder / ".lifeline" / "stack.env"
        if candidate.is_file():
            return candidate
    return None


def load_config(
    environ: Mapping[str, str], *, cwd: Path, stack_env: Path | None = None, **options: str | None
) -> CliConfig:
    """Merge options > environment > stack.env > defaults; `options` use lower-case names."""
    path = stack_env or find_stack_env(cwd)
    from_file = parse_env_file(path.read_text()) if path and path.is_file() else {}
    values = {}
    for name, default in DEFAULTS.items():
        option = options.get(name.removeprefix("LIFELINE_").lower())
        values[name] = option or environ.get(name) or from_file.get(name) or default
    return CliConfig(
        api_key=values["LIFELINE_API_KEY"],
        snapshot_url=values["LIFELINE_SNAPSHOT_URL"],
        replay_url=values["LIFELINE_REPLAY_URL"],
        ingest_url=values["LIFELINE_INGEST_URL"],
        source=str(path) if from_file else "environment",
    )
