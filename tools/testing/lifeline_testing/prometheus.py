"""A real Prometheus (Debian's `prometheus` package) scraping test services, for dashboard tests.

It runs as its own process with its own config and data directory on a free port;
the machine's `prometheus` system service, if any, is never touched.
"""

from __future__ import annotations

import math
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import yaml

from lifeline_servers import free_port

INSTALL_HINT = "Prometheus is not installed: apt-get install -y prometheus (Debian's package)"


def prometheus_binary() -> str:
    """The `prometheus` executable; raises with the install hint when absent."""
    found = shutil.which("prometheus", path=f"{os.environ.get('PATH', '')}:/usr/bin:/usr/local/bin")
    if found is None:
        raise RuntimeError(INSTALL_HINT)
    return found


class PrometheusServer:
    """`targets` maps a job name to the `host:port` addresses it scrapes (every second)."""

    def __init__(self, targets: Mapping[str, Sequence[str]], work_dir: Path, *,
                 scrape_interval: str = "1s") -> None:
        self.port = free_port()
        self.work_dir = work_dir
        self._targets = targets
        self._interval = scrape_interval
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _config(self) -> Path:
        config = {"global": {"scrape_interval": self._interval, "evaluation_interval": self._interval},
                  "scrape_configs": [{"job_name": job, "static_configs": [{"targets": list(addresses)}]}
                                     for job, addresses in self._targets.items()]}
        path = self.work_dir / "prometheus.yml"
        path.write_text(yaml.safe_dump(config))
        return path

    def start(self, timeout: float = 30.0) -> PrometheusServer:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        args = [prometheus_binary(), f"--config.file={self._config()}",
                f"--storage.tsdb.path={self.work_dir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"]
        log = open(self.work_dir / "prometheus.log", "ab")
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = (self.work_dir / "prometheus.log").read_text()[-2000:]
                raise RuntimeError(f"prometheus exited: {tail}")
            try:
                if httpx.get(self.url + "/-/ready", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"prometheus not ready after {timeout}s")

    async def query(self, expr: str) -> list[dict[str, Any]]:
        """The instant-query result vector of `expr` (raises on a PromQL error)."""
        async with httpx.AsyncClient(base_url=self.url, timeout=10) as client:
            r = await client.get("/api/v1/query", params={"query": expr})
        body = r.json()
        if body.get("status") != "success":
            raise AssertionError(f"PromQL error in {expr!r}: {body.get('error')}")
        result = body["data"]["result"]
        return result if isinstance(result, list) else [{"metric": {}, "value": result}]

    async def finite_values(self, expr: str) -> list[float]:
        """The finite sample values `expr` returns now (NaN shows as no data in Grafana)."""
        values = [float(s["value"][1]) for s in await self.query(expr)]
        return [v for v in values if math.isfinite(v)]

    async def targets_health(self) -> dict[str, str]:
        async with httpx.AsyncClient(base_url=self.url, timeout=10) as client:
            active = (await client.get("/api/v1/targets")).json()["data"]["activeTargets"]
        return {t["labels"]["job"]: t["health"] for t in active}

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)

    def __enter__(self) -> PrometheusServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
