"""The long-term bias the memory service hands replay, read tolerantly (pure).

The answer's shape is read leniently (a list of strings or of `{text, intent}` items
under `focus`, `items` or `bias`, or a `summary` string), so a newer memory service
does not break replay's context window.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class BiasItem:
    """One thing the next session should focus on; `intent` ties it to an intent."""

    text: str
    intent: str | None = None


def parse_bias(body: Any) -> list[BiasItem]:
    """Pure: the bias items of a memory answer, in the order given."""
    if isinstance(body, list):
        raw: list[Any] = body
    elif isinstance(body, dict):
        raw = next((body[k] for k in ("focus", "items", "bias") if isinstance(body.get(k), list)), [])
        if not raw and isinstance(body.get("summary"), str) and body["summary"].strip():
            raw = [body["summary"]]
    else:
        raw = []
    items = []
    for item in raw:
        if isinstance(item, str) and item.strip():
            items.append(BiasItem(item.strip()))
        elif isinstance(item, dict):
            text = item.get("text") or item.get("summary") or item.get("code") or item.get("name")
            if isinstance(text, str) and text.strip():
                intent = item.get("intent")
                items.append(BiasItem(text.strip(), intent if isinstance(intent, str) else None))
    return items
