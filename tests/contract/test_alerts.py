"""deploy/prometheus/alerts.yml is valid, behaves as its unit tests say, and names real metrics."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
_DEFINED = re.compile(r"(?:Counter|Gauge|Histogram|Summary)\(\s*\"(lifeline_[a-z0-9_]+)\"")
_USED = re.compile(r"\b(lifeline_[a-z0-9_]+)")


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    assert binary is not None, "promtool missing: apt-get install -y prometheus (Debian's package ships it)"
    return subprocess.run([binary, *args], cwd=PROMETHEUS, capture_output=True, text=True, check=False)


def test_promtool_checks_the_rules() -> None:
    """The rules parse and their expressions are valid PromQL."""
    run = _promtool("check", "rules", "alerts.yml")
    assert run.returncode == 0, run.stdout + run.stderr


def test_promtool_unit_tests_of_the_alerts_pass() -> None:
    """Relay lag and DLQ growth fire; a quiet reconcile counter does not (alerts_test.yml)."""
    run = _promtool("test", "rules", "alerts_test.yml")
    assert run.returncode == 0, run.stdout + run.stderr


def test_every_metric_an_alert_names_is_defined_by_some_service() -> None:
    """A renamed metric must not leave an alert that can never fire."""
    defined: set[str] = set()
    for path in [*ROOT.glob("libs/*/lifeline_*/**/*.py"), *ROOT.glob("services/*/lifeline_*/**/*.py")]:
        defined.update(_DEFINED.findall(path.read_text()))
    used = {re.sub(r"_(bucket|sum|count)$", "", name) for name in
            _USED.findall((PROMETHEUS / "alerts.yml").read_text())}
    assert used and used <= defined, sorted(used - defined)
