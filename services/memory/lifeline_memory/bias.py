"""What the next session should focus on, rendered once per profile version (pure).

Small by construction (≤ 5 items, ≤ 3 cites, ≤ 2 KiB) because replay embeds the raw
body in ``RECOVERY_SYNC``; replay's ``parse_bias`` reads ``focus[].text`` and
``focus[].intent`` and ignores the other keys.
"""

from __future__ import annotations

from typing import Any

from .canonical import dumps, r4
from .texts import day, sentence, times

MAX_BIAS_BYTES = 2048
MAX_CITES = 3
MAX_FLAGS = 2
_TREND_WORDS = {
    "worsening": "getting worse",
    "improving": "improving",
    "steady": "steady",
    "new": "new in the latest session",
}


def _cites(item: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for e in item["evidence"]:
        cite = f"{e['session_id']}#{e['turn_id']}"
        if cite not in out:
            out.append(cite)
        if len(out) == MAX_CITES:
            break
    return out


def _flag_item(f: dict[str, Any]) -> dict[str, Any]:
    text = f"Compliance: avoid {f['label']} (flagged {times(f['occurrences'])}, last {day(f['last_seen'])})"
    return {
        "text": sentence(text),
        "intent": None,
        "kind": "flag",
        "code": f["code"],
        "weight": 1.0,
        "cites": _cites(f),
    }


def _error_item(e: dict[str, Any], sessions_count: int) -> dict[str, Any]:
    text = (
        f"Work on {e['label']}: seen in {e['sessions']} of the last {sessions_count} sessions, "
        f"{_TREND_WORDS[e['trend']]}"
    )
    return {
        "text": sentence(text),
        "intent": e["intent"],
        "kind": "error",
        "code": e["code"],
        "cites": _cites(e),
        "_w": e["weight"],
    }


def _strength_item(s: dict[str, Any]) -> dict[str, Any]:
    plural = "session" if s["sessions"] == 1 else "sessions"
    return {
        "text": sentence(f"Build on {s['label']}: strong in {s['sessions']} {plural}"),
        "intent": s["intent"],
        "kind": "strength",
        "code": s["code"],
        "cites": _cites(s),
        "_w": s["weight"],
    }


def render_bias(profile: dict[str, Any], max_items: int = 5) -> dict[str, Any]:
    """Recent compliance flags (≤ 2, severity first), then frequent non-dormant errors by
    weight, then the top strength; weights are shares of the selected items' weight."""
    max_items = max(1, max_items)
    items: list[dict[str, Any]] = [_flag_item(f) for f in profile["flags"] if f["status"] == "recent"][
        : min(MAX_FLAGS, max_items)
    ]
    for e in profile["errors"]:
        if len(items) >= max_items - 1:
            break
        if e["frequent"] and not e["dormant"]:
            items.append(_error_item(e, profile["sessions_count"]))
    strength = next((s for s in profile["strengths"] if s["frequent"]), None)
    if strength is not None and len(items) < max_items:
        items.append(_strength_item(strength))
    total = sum(i["_w"] for i in items if "_w" in i)
    for i in items:
        if "_w" in i:
            i["weight"] = r4(i.pop("_w") / total) if total > 0 else 0.0
    body = {
        "person_id": profile["person_id"],
        "as_of": profile["as_of"],
        "focus": items,
        "summary": profile["summary"],
        "content_hash": profile["content_hash"],
    }
    return _fit(body)


def _fit(body: dict[str, Any]) -> dict[str, Any]:
    """Shrink until the body (with a version number) fits in 2 KiB: cites, then items, then
    the summary go first."""

    def size() -> int:
        return len(dumps({**body, "version": 2**62}))

    while size() > MAX_BIAS_BYTES and any(len(i["cites"]) > 1 for i in body["focus"]):
        for i in body["focus"]:
            if len(i["cites"]) > 1:
                i["cites"] = i["cites"][:-1]
    while size() > MAX_BIAS_BYTES and body["focus"]:
        body["focus"] = body["focus"][:-1]
    if size() > MAX_BIAS_BYTES:
        body["summary"] = ""
    return body


def order_for_intent(focus: list[dict[str, Any]], intent: str | None) -> list[dict[str, Any]]:
    """With an intent, items of that intent (or none) first, order otherwise kept —
    the rule replay's context assembly applies."""
    if not intent:
        return focus
    return sorted(focus, key=lambda i: i.get("intent") not in (None, intent))
