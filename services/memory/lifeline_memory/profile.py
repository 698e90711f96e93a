"""A person's profile: a pure, recency-weighted fold of their sealed session digests.

The reference time is the person's own latest session, never the clock, so a re-run
a month later gives the same bytes; sessions are summed in one fixed order and every
float is rounded, so the content hash depends only on the digests and the policy.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from .canonical import parse_iso, r4, r6, sha256_of
from .digest import ALGORITHM
from .facts import fold_facts
from .policy import Policy
from .rules import SEVERITY_RANK
from .summary import profile_summary
from .texts import label_for

SCORED_KINDS = {"error": "errors", "strength": "strengths", "skill_tag": "skills"}
MAX_ITEMS_PER_KIND = 64
MAX_SESSIONS_LISTED = 20
INTENT_SHARE = 0.6


def select_sessions(
    digests: Iterable[dict[str, Any]], policy: Policy, forgotten: frozenset[str] = frozenset()
) -> list[dict[str, Any]]:
    """The digests a profile folds, oldest first: one per session (the furthest sealed),
    not forgotten, the most recent N."""
    by_session: dict[str, dict[str, Any]] = {}
    for d in digests:
        have = by_session.get(d["session_id"])
        if have is None or _rank(d) > _rank(have):
            by_session[d["session_id"]] = d
    kept = [d for d in by_session.values() if d["session_id"] not in forgotten and d.get("finished_at")]
    kept.sort(key=lambda d: (d["finished_at"], d["session_id"]))
    return kept[-policy.max_sessions :]


def _rank(d: dict[str, Any]) -> tuple[bool, int, str]:
    return (d["status"] == "finished", d["through_seq"], sha256_of(d))


def build_profile(
    tenant_id: str,
    person_id: str,
    digests: Iterable[dict[str, Any]],
    policy: Policy,
    forgotten: frozenset[str] = frozenset(),
) -> dict[str, Any] | None:
    """The profile (with ``content_hash``), or ``None`` when no session remains."""
    sessions = select_sessions(digests, policy, forgotten)
    if not sessions:
        return None
    as_of = max(parse_iso(d["finished_at"]) for d in sessions)
    weights = [_weight(as_of, parse_iso(d["finished_at"]), policy.half_life_days) for d in sessions]
    scored = {kind: _score_kind(kind, sessions, weights, policy) for kind in SCORED_KINDS}
    _mark_conflicts(scored["error"], scored["strength"])
    flags = _flags(sessions, weights, policy)
    profile: dict[str, Any] = {
        "person_id": person_id,
        "tenant_id": tenant_id,
        "as_of": sessions[-1]["finished_at"],
        "algorithm": ALGORITHM,
        "settings_hash": policy.settings_hash,
        "sessions_count": len(sessions),
        "top_errors": _top(scored["error"], policy.top_k),
        "top_strengths": _top(scored["strength"], policy.top_k),
        "skill_tags": _top(scored["skill_tag"], policy.top_k),
        "compliance_flags": [f["code"] for f in flags][:256],
        **{plural: scored[kind][:MAX_ITEMS_PER_KIND] for kind, plural in SCORED_KINDS.items()},
        "flags": flags[:MAX_ITEMS_PER_KIND],
        "facts": fold_facts(sessions, as_of, policy.fact_stale_days, policy.evidence_per_item),
        "sessions": [_session_entry(d, w) for d, w in zip(sessions, weights, strict=True)][::-1][
            :MAX_SESSIONS_LISTED
        ],
    }
    profile["summary"] = profile_summary(profile, sessions, policy)
    profile["content_hash"] = profile_hash(profile)
    return profile


def profile_hash(profile: dict[str, Any]) -> str:
    """SHA-256 of the canonical profile without ``version``, ``consolidated_at`` or itself."""
    return sha256_of(
        {k: v for k, v in profile.items() if k not in ("version", "consolidated_at", "content_hash")}
    )


def _weight(as_of: datetime, finished: datetime, half_life_days: float) -> float:
    age_days = (as_of - finished).total_seconds() / 86400
    return r6(0.5 ** (age_days / half_life_days))


def _opportunities(d: dict[str, Any]) -> int:
    return d["user_turns"] if d["user_turns"] > 0 else max(d["turns"], 1)


def _gather(kind: str, sessions: Sequence[dict[str, Any]]) -> dict[str, list[tuple[int, dict[str, Any]]]]:
    """code → [(session index, digest item)], sessions oldest first."""
    out: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for k, d in enumerate(sessions):
        for item in d["items"][kind]:
            out.setdefault(item["code"], []).append((k, item))
    return out


def _evidence(
    sessions: Sequence[dict[str, Any]], seen: list[tuple[int, dict[str, Any]]], limit: int
) -> list[dict[str, Any]]:
    """The ``limit`` most recent references, newest session first."""
    out: list[dict[str, Any]] = []
    for k, item in reversed(seen):
        for r in item["refs"]:
            if len(out) >= limit:
                return out
            out.append({"session_id": sessions[k]["session_id"], **r})
    return out


def _score_kind(
    kind: str, sessions: Sequence[dict[str, Any]], weights: Sequence[float], policy: Policy
) -> list[dict[str, Any]]:
    total_wo = sum(w * _opportunities(d) for d, w in zip(sessions, weights, strict=True))
    last = len(sessions) - 1
    recent = set(range(max(0, len(sessions) - policy.dormant_after_sessions), len(sessions)))
    items = []
    for code, seen in _gather(kind, sessions).items():
        n_total = sum(item["n"] for _, item in seen)
        w_sum = sum(weights[k] * item["n"] for k, item in seen)
        rate = w_sum / total_wo if total_wo > 0 else 0.0
        frequent = len(seen) >= policy.min_sessions or n_total >= policy.min_occurrences
        items.append(
            {
                "code": code,
                "label": label_for(code, policy.labels),
                "weight": r4(w_sum),
                "rate": r4(rate),
                "occurrences": n_total,
                "sessions": len(seen),
                "first_seen": min(item["first_at"] for _, item in seen),
                "last_seen": max(item["last_at"] for _, item in seen),
                "trend": _trend(seen, sessions, weights, w_sum, total_wo, last, policy.trend_ratio),
                "intent": _intent(seen, weights),
                "frequent": frequent,
                "dormant": not any(k in recent for k, _ in seen),
                "conflict": False,
                "net": None,
                "evidence": _evidence(sessions, seen, policy.evidence_per_item),
                "_w": w_sum,
                "_rate": rate,
            }
        )
    items.sort(key=lambda i: (-i["_w"], -i["_rate"], i["code"]))
    for i in items:
        del i["_w"], i["_rate"]
    return items


def _trend(
    seen: list[tuple[int, dict[str, Any]]],
    sessions: Sequence[dict[str, Any]],
    weights: Sequence[float],
    w_sum: float,
    total_wo: float,
    last: int,
    ratio: float,
) -> str:
    """The latest session's rate against the weighted rate of every earlier one."""
    if not any(k < last for k, _ in seen):
        return "new"
    n_last = next((item["n"] for k, item in seen if k == last), 0)
    o_last = _opportunities(sessions[last])
    r_last = n_last / o_last
    denominator = total_wo - weights[last] * o_last
    if denominator <= 0:
        return "steady"
    r_prev = (w_sum - weights[last] * n_last) / denominator
    if r_last > r_prev * ratio:
        return "worsening"
    if r_last < r_prev / ratio:
        return "improving"
    return "steady"


def _intent(seen: list[tuple[int, dict[str, Any]]], weights: Sequence[float]) -> str | None:
    """The dominant intent (share ≥ 0.6 of the weighted turns), else ``None``."""
    per: dict[str, float] = {}
    for k, item in seen:
        for intent, n in item["intents"].items():
            per[intent] = per.get(intent, 0.0) + weights[k] * n
    total = sum(per.values())
    if total <= 0:
        return None
    intent, w = min(per.items(), key=lambda kv: (-kv[1], kv[0]))
    return intent or None if w / total >= INTENT_SHARE else None


def _mark_conflicts(errors: list[dict[str, Any]], strengths: list[dict[str, Any]]) -> None:
    """A code frequent as both error and strength stays in both lists, marked, with ``net``."""
    by_code = {s["code"]: s for s in strengths if s["frequent"]}
    for e in errors:
        s = by_code.get(e["code"])
        if e["frequent"] and s is not None:
            net = r4(s["weight"] - e["weight"])
            e.update(conflict=True, net=net)
            s.update(conflict=True, net=net)


def _top(items: list[dict[str, Any]], k: int) -> list[str]:
    return [i["code"] for i in items if i["frequent"]][:k]


def _flags(
    sessions: Sequence[dict[str, Any]], weights: Sequence[float], policy: Policy
) -> list[dict[str, Any]]:
    """Every flag seen at least once: compliance needs no support threshold."""
    severities = policy.severities
    recent = set(range(max(0, len(sessions) - policy.recent_flag_sessions), len(sessions)))
    flags = []
    for code, seen in _gather("flag", sessions).items():
        w_sum = sum(weights[k] * item["n"] for k, item in seen)
        severity = severities.get(code, "medium")
        flags.append(
            {
                "code": code,
                "label": policy.rule_label(code) or label_for(code, policy.labels),
                "severity": severity,
                "weight": r4(w_sum),
                "occurrences": sum(item["n"] for _, item in seen),
                "sessions": len(seen),
                "first_seen": min(item["first_at"] for _, item in seen),
                "last_seen": max(item["last_at"] for _, item in seen),
                "status": "recent" if any(k in recent for k, _ in seen) else "historical",
                "sources": sorted({s for _, item in seen for s in item["sources"]}),
                "evidence": _evidence(sessions, seen, policy.evidence_per_item),
                "_w": w_sum,
            }
        )
    flags.sort(key=lambda f: (-SEVERITY_RANK[f["severity"]], -f["_w"], f["code"]))
    for f in flags:
        del f["_w"]
    return flags


def _session_entry(d: dict[str, Any], weight: float) -> dict[str, Any]:
    return {
        "session_id": d["session_id"],
        "finished_at": d["finished_at"],
        "weight": r4(weight),
        "turns": d["turns"],
        "user_turns": d["user_turns"],
        "status": d["status"],
        "summary": d["summary"],
    }
