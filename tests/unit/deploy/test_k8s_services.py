"""deploy/k8s wires each service as it runs: real settings, its documented port, probes, drain, migrations."""

from __future__ import annotations

import re
from typing import Any

import pytest

from lifeline_bus.lag import LAG
from lifeline_servicekit.migrate import SCHEMAS, migrations_of
from tests.unit.deploy.k8s import (
    CONSUMER_GROUPS,
    DESIGN_PORTS,
    OVERLAYS,
    ROOT,
    container_env,
    of_kind,
    settings_class,
)

CASES = [(overlay, service) for overlay in OVERLAYS for service in DESIGN_PORTS]


def _pod(overlay: str, service: str) -> dict[str, Any]:
    deployment = of_kind(overlay, "Deployment")[service]
    return dict(deployment["spec"]["template"]["spec"])


@pytest.mark.parametrize(("overlay", "service"), CASES)
def test_lifeline_variables_are_real_settings_and_parse(overlay: str, service: str) -> None:
    """Every LIFELINE_* a container gets (ConfigMap, Secret, env) is a field of its settings and parses."""
    cls = settings_class(service)
    pod = _pod(overlay, service)
    for container in pod["containers"] + pod["initContainers"]:
        env = {k: v for k, v in container_env(overlay, container).items() if k.startswith("LIFELINE_")}
        unknown = sorted(k for k in env if k[len("LIFELINE_"):].lower() not in cls.model_fields)
        assert not unknown, f"{service}/{container['name']}: {cls.__name__} has no {unknown}"
        settings = cls(**{k[len("LIFELINE_"):].lower(): v for k, v in env.items() if v is not None})
        assert settings.host == "0.0.0.0"


@pytest.mark.parametrize(("overlay", "service"), CASES)
def test_ports_match_the_design(overlay: str, service: str) -> None:
    """Container port, LIFELINE_PORT, Service port and the settings default are the documented port."""
    port = DESIGN_PORTS[service]
    (container,) = _pod(overlay, service)["containers"]
    assert container["ports"] == [{"name": "http", "containerPort": port}]
    assert container_env(overlay, container)["LIFELINE_PORT"] == str(port)
    assert settings_class(service).model_fields["port"].default == port
    (service_port,) = of_kind(overlay, "Service")[service]["spec"]["ports"]
    assert (service_port["port"], service_port["targetPort"]) == (port, "http")


@pytest.mark.parametrize(("overlay", "service"), CASES)
def test_urls_name_services_of_the_render_on_their_ports(overlay: str, service: str) -> None:
    """LIFELINE_<X>_URL of another Lifeline service is http://<its Service>:<its port>."""
    services = of_kind(overlay, "Service")
    (container,) = _pod(overlay, service)["containers"]
    for key, value in container_env(overlay, container).items():
        target = re.fullmatch(r"http://([a-z]+):(\d+)", value or "")
        if key.endswith("_URL") and target and target.group(1) in DESIGN_PORTS:
            assert target.group(1) in services, f"{service}: {key} names no Service"
            assert int(target.group(2)) == DESIGN_PORTS[target.group(1)], f"{service}: {key} port"


@pytest.mark.parametrize(("overlay", "service"), CASES)
def test_probes_and_drain(overlay: str, service: str) -> None:
    """Readiness on /ready, liveness on /health, and preStop + drain fit in the grace period."""
    pod = _pod(overlay, service)
    (container,) = pod["containers"]
    assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    settings = settings_class(service)(**{k[len("LIFELINE_"):].lower(): v for k, v in
                                          container_env(overlay, container).items()
                                          if k.startswith("LIFELINE_SHUTDOWN_") and v is not None})
    drain = float(pre_stop[1]) + settings.shutdown_ready_delay_s + settings.shutdown_grace_s
    assert drain + 5 <= pod["terminationGracePeriodSeconds"], "SIGKILL would cut the drain short"
    requests = container["resources"]["requests"]
    assert {"cpu", "memory"} <= set(requests) and "memory" in container["resources"]["limits"]


@pytest.mark.parametrize(("overlay", "service"), CASES)
def test_migrations_run_in_an_init_container(overlay: str, service: str) -> None:
    """The init container migrates this service's schema with the service's own image."""
    pod = _pod(overlay, service)
    (init,) = pod["initContainers"]
    assert init["command"] == ["python", "-m", "lifeline_servicekit.migrate", service]
    assert init["image"] == pod["containers"][0]["image"]
    assert list(migrations_of(service).glob("*.sql")), f"{service} ships no migrations"


def test_migrate_knows_each_services_schema() -> None:
    """`lifeline_servicekit.migrate`'s schema per service is the one the service's app migrates."""
    for service in DESIGN_PORTS:
        source = (ROOT / f"services/{service}/lifeline_{service}/app.py").read_text()
        assert f'open_database(settings, "{SCHEMAS[service]}"' in source, service


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_consumers_scale_on_their_lag(overlay: str) -> None:
    """Each consumer's HPA reads its own group's lag gauge and never exceeds the partition count."""
    autoscalers = of_kind(overlay, "HorizontalPodAutoscaler")
    partitions = int(of_kind(overlay, "ConfigMap")["lifeline-settings"]["data"]["LIFELINE_BUS_PARTITIONS"])
    for service, group in CONSUMER_GROUPS.items():
        spec = autoscalers[service]["spec"]
        assert spec["scaleTargetRef"]["name"] == service
        (metric,) = spec["metrics"]
        assert metric["external"]["metric"]["name"] == LAG._name
        assert metric["external"]["metric"]["selector"]["matchLabels"]["group"] == group
        package = ROOT / f"services/{service}/lifeline_{service}"
        sources = "".join(p.read_text() for p in package.glob("*.py"))
        assert f'"{group}"' in sources, f"{service} consumes with no group named {group}"
        assert 1 <= spec["minReplicas"] <= spec["maxReplicas"] <= partitions
