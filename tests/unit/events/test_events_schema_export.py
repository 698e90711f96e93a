"""Generated JSON Schema and AsyncAPI: complete, self-consistent, reproducible."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lifeline_events import EVENT_TYPES, TOPIC_DLQ, TOPIC_EVENTS, TOPIC_LIFECYCLE, TOPIC_TURNS
from lifeline_events.schema_export import asyncapi_document, main


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


def _resolve(document: dict, ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def test_main_writes_every_schema(tmp_path: Path) -> None:
    """main() writes envelope, state, per-payload schemas and asyncapi.json."""
    assert main([str(tmp_path)]) == 0
    names = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.json")}
    expected = {"new_event.schema.json", "event.schema.json", "session_state.schema.json",
                "asyncapi.json", *(f"payloads/{t}.schema.json" for t in EVENT_TYPES)}
    assert names == expected
    new_event = json.loads((tmp_path / "new_event.schema.json").read_text())
    assert new_event["$schema"].endswith("2020-12/schema")
    assert new_event["additionalProperties"] is False


def test_output_is_reproducible(tmp_path: Path) -> None:
    """Running the export twice gives identical bytes (no diff without a model change)."""
    main([str(tmp_path / "a")])
    main([str(tmp_path / "b")])
    for path in (tmp_path / "a").rglob("*.json"):
        assert path.read_bytes() == (tmp_path / "b" / path.relative_to(tmp_path / "a")).read_bytes()


def test_envelope_schema_ties_payload_to_event_type(tmp_path: Path) -> None:
    """The envelope schema has one if/then per event type pointing at its payload."""
    main([str(tmp_path)])
    schema = json.loads((tmp_path / "event.schema.json").read_text())
    rules = {
        r["if"]["properties"]["event_type"]["const"]: r["then"]["properties"]["payload"]["$ref"]
        for r in schema["allOf"]
    }
    assert set(rules) == set(EVENT_TYPES)
    assert rules["turn.recorded"] == "#/$defs/TurnRecorded"
    for ref in _refs(schema):
        _resolve(schema, ref)


def test_asyncapi_has_the_four_topics() -> None:
    """AsyncAPI 3.0 channels carry the four topic addresses."""
    doc = asyncapi_document()
    assert doc["asyncapi"] == "3.0.0"
    addresses = {c["address"] for c in doc["channels"].values()}
    assert addresses == {TOPIC_TURNS, TOPIC_EVENTS, TOPIC_LIFECYCLE, TOPIC_DLQ}


def test_asyncapi_events_channel_has_a_message_per_event_type() -> None:
    """lifeline.events.v1 lists one message per event type, typed by its payload."""
    doc = asyncapi_document()
    messages = doc["channels"]["events"]["messages"]
    assert set(messages) == {model.__name__ for model in EVENT_TYPES.values()}
    turn_schema = _resolve(doc, _resolve(doc, messages["TurnRecorded"]["$ref"])["payload"]["$ref"])
    assert turn_schema["allOf"][1]["properties"]["event_type"] == {"const": "turn.recorded"}


def test_asyncapi_refs_all_resolve() -> None:
    """Every $ref in the AsyncAPI document points at something inside it."""
    doc = asyncapi_document()
    refs = _refs(doc)
    assert refs
    for ref in refs:
        _resolve(doc, ref)
