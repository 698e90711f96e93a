"""deploy/k8s renders for every overlay and every object is valid Kubernetes, offline."""

from __future__ import annotations

import pytest
import yaml
from kubernetes_validate import validate
from kubernetes_validate.utils import SchemaNotFoundError

from tests.unit.deploy.k8s import KUBERNETES_VERSIONS, OVERLAYS, ROOT, of_kind, render


def test_there_are_dev_and_prod_overlays() -> None:
    """The issue's two overlays exist (a new one is picked up by every test here)."""
    assert {"dev", "prod"} <= set(OVERLAYS)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_is_valid_for_the_pinned_kubernetes(overlay: str, version: str) -> None:
    """Each rendered object passes strict schema validation (unknown fields are errors)."""
    custom = []
    for obj in render(overlay):
        try:
            validate(obj, version, strict=True)
        except SchemaNotFoundError:
            custom.append(obj["kind"])
    assert sorted(custom) == ["PrometheusRule", "ServiceMonitor"], f"unexpected custom resources {custom}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_service_has_deployment_service_pdb(overlay: str) -> None:
    """Deployment, Service and PodDisruptionBudget per service, all selecting the same pods."""
    deployments = of_kind(overlay, "Deployment")
    services, budgets = of_kind(overlay, "Service"), of_kind(overlay, "PodDisruptionBudget")
    assert set(deployments) == set(services) == set(budgets)
    for name, deployment in deployments.items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        for selector in (deployment["spec"]["selector"]["matchLabels"], services[name]["spec"]["selector"],
                         budgets[name]["spec"]["selector"]["matchLabels"]):
            assert selector.items() <= labels.items(), f"{name}: a selector misses its pods"
        assert budgets[name]["spec"]["maxUnavailable"] == 1, "minAvailable would block drains at 1 replica"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_service_monitor_scrapes_every_service(overlay: str) -> None:
    """The ServiceMonitor selects every Service and scrapes their `http` port's /metrics."""
    (monitor,) = of_kind(overlay, "ServiceMonitor").values()
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    selector = monitor["spec"]["selector"]["matchLabels"]
    for name, service in of_kind(overlay, "Service").items():
        assert selector.items() <= service["metadata"]["labels"].items(), f"{name} is not scraped"
        assert [p["name"] for p in service["spec"]["ports"]] == ["http"]
    assert monitor["spec"]["endpoints"] == [{"port": "http", "path": "/metrics", "interval": "15s"}]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_dashboards_configmap_holds_every_dashboard(overlay: str) -> None:
    """Every file of deploy/grafana/dashboards is in the sidecar-labelled ConfigMap, unchanged."""
    dashboards = of_kind(overlay, "ConfigMap")["lifeline-dashboards"]
    assert dashboards["metadata"]["labels"]["grafana_dashboard"] == "1"
    files = {p.name: p.read_text() for p in (ROOT / "deploy/grafana/dashboards").glob("*.json")}
    assert dashboards["data"] == files, "deploy/grafana/kustomization.yaml must list every dashboard"


def test_prod_ships_no_credentials_and_pins_images() -> None:
    """prod renders no Secret (it comes from the secret manager) and no image without a release tag."""
    assert not of_kind("prod", "Secret")
    for name, deployment in of_kind("prod", "Deployment").items():
        spec = deployment["spec"]["template"]["spec"]
        for container in spec["containers"] + spec["initContainers"]:
            image = container["image"]
            assert ":" in image and not image.endswith((":dev", ":latest")), f"{name}: {image}"
        assert deployment["spec"]["replicas"] >= 2, f"{name}: one replica cannot survive a node drain"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_prometheus_rule_is_the_alerts_file(overlay: str) -> None:
    """The PrometheusRule carries exactly deploy/prometheus/alerts.yml's groups (no drift)."""
    (rule,) = of_kind(overlay, "PrometheusRule").values()
    alerts = yaml.safe_load((ROOT / "deploy/prometheus/alerts.yml").read_text())
    assert rule["spec"]["groups"] == alerts["groups"], "regenerate deploy/k8s/base/alerts.yaml"
