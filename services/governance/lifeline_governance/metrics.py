"""governance's Prometheus metrics (spec §B.6): decisions by rule, the "abort" counters
(quarantines, failovers), anomalies, job runs and routing latency."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import Counter, Gauge, Histogram

from lifeline_governance.records import DecisionRecord

DECISIONS = Counter("lifeline_governance_decisions_total", "Decisions written.", ["kind", "rule"])
QUARANTINES = Counter("lifeline_governance_quarantines_total", "Placements quarantined.", ["intent"])
FAILOVERS = Counter(
    "lifeline_governance_failovers_total", "Automatic failovers to a new PRIMARY.", ["intent"]
)
ANOMALIES = Counter("lifeline_governance_anomalies_total", "Score-drop anomalies detected.")
JOB_RUNS = Counter("lifeline_governance_job_runs_total", "LifecycleJob ticks by outcome.", ["outcome"])
JOB_SECONDS = Histogram(
    "lifeline_governance_job_seconds",
    "Duration of one LifecycleJob tick.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
ROUTING_SECONDS = Histogram(
    "lifeline_governance_routing_seconds",
    "Routing answer latency (in process).",
    buckets=(0.00001, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01),
)
TABLE_AGE = Gauge("lifeline_governance_routing_table_age_seconds", "Seconds since the routing table loaded.")
EFFECTIVE_SCORE = Gauge(
    "lifeline_governance_effective_score",
    "Last EffectiveScore per registered placement.",
    ["intent", "model", "state"],
)
SUCCESS_RATE = Gauge(
    "lifeline_governance_success_rate",
    "Last window success rate per registered placement.",
    ["intent", "model", "state"],
)


def observe_decisions(records: Iterable[DecisionRecord]) -> None:
    for r in records:
        DECISIONS.labels(r.kind, r.rule).inc()
        if r.to_state == "QUARANTINED" and r.from_state != "QUARANTINED":
            QUARANTINES.labels(r.intent).inc()
        if r.rule == "failover":
            FAILOVERS.labels(r.intent).inc()
        if r.kind == "anomaly":
            ANOMALIES.inc()
