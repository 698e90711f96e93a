"""Write JSON Schemas and an AsyncAPI 3.0 document generated from the models.

    python -m lifeline_events.schema_export [OUT_DIR]      (default: schema/)

Producers without Lifeline code validate against these files, so they are derived
from the same pydantic models every service uses, never written by hand. Output is
sorted and indented, so regenerating without a model change gives no diff.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from .envelope import Event, NewEvent
from .registry import CURRENT_SCHEMA_VERSIONS, EVENT_TYPES
from .state import SessionState
from .topics import LIFECYCLE_EVENT_TYPES, TOPIC_DLQ, TOPIC_EVENTS, TOPIC_LIFECYCLE, TOPIC_TURNS

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
_COMPONENT_REF = "#/components/schemas/{model}"

DEAD_LETTER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "DeadLetter",
    "description": "A message that could not be processed, with the reason and the "
    "original bytes (written by the bus library; extra diagnostic fields allowed).",
    "properties": {
        "reason": {"type": "string"},
        "original": {"type": "string", "description": "the original message body"},
        "topic": {"type": "string"},
        "attempts": {"type": "integer", "minimum": 0},
    },
    "required": ["reason", "original"],
    "additionalProperties": True,
}


def _dump(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
    )


def standalone_schema(model: type[BaseModel]) -> dict[str, Any]:
    """One model's JSON Schema with its own ``$defs`` and the 2020-12 dialect."""
    return {"$schema": JSON_SCHEMA_DIALECT, **model.model_json_schema()}


def _message_name(event_type: str) -> str:
    return EVENT_TYPES[event_type].__name__


def _typed_envelope(event_type: str) -> dict[str, Any]:
    """``Event`` narrowed to one ``event_type`` and its payload model."""
    return {
        "title": f"{_message_name(event_type)}Event",
        "allOf": [
            {"$ref": _COMPONENT_REF.format(model="Event")},
            {
                "type": "object",
                "properties": {
                    "event_type": {"const": event_type},
                    "schema_version": {"const": CURRENT_SCHEMA_VERSIONS[event_type]},
                    "payload": {"$ref": _COMPONENT_REF.format(model=_message_name(event_type))},
                },
            },
        ],
    }


def _message(name: str, schema: str, summary: str) -> dict[str, Any]:
    return {
        "name": name,
        "title": name,
        "summary": summary,
        "contentType": "application/json",
        "payload": {"$ref": _COMPONENT_REF.format(model=schema)},
        "headers": {
            "type": "object",
            "properties": {"traceparent": {"type": "string", "description": "W3C trace"}},
        },
        "bindings": {
            "kafka": {"key": {"type": "string", "description": "session_id"},
                      "bindingVersion": "0.5.0"}
        },
    }


def _channel(address: str, description: str, names: Sequence[str]) -> dict[str, Any]:
    return {
        "address": address,
        "description": description,
        "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in names},
    }


def _operation(action: str, channel: str, names: Sequence[str], summary: str) -> dict[str, Any]:
    return {
        "action": action,
        "summary": summary,
        "channel": {"$ref": f"#/channels/{channel}"},
        "messages": [{"$ref": f"#/channels/{channel}/messages/{name}"} for name in names],
    }


def asyncapi_document() -> dict[str, Any]:
    """The AsyncAPI 3.0 document for the four topics."""
    models: list[type[BaseModel]] = [NewEvent, Event, *EVENT_TYPES.values()]
    _, top = models_json_schema(
        [(model, "validation") for model in models], ref_template=_COMPONENT_REF
    )
    schemas: dict[str, Any] = dict(top.get("$defs", {}))
    messages: dict[str, Any] = {
        "NewEvent": _message("NewEvent", "NewEvent", "An event as a producer submits it"),
        "DeadLetter": _message("DeadLetter", "DeadLetter", "A poison message and its reason"),
    }
    schemas["DeadLetter"] = DEAD_LETTER_SCHEMA
    for event_type, model in sorted(EVENT_TYPES.items()):
        schemas[f"{model.__name__}Event"] = _typed_envelope(event_type)
        messages[model.__name__] = _message(
            model.__name__, f"{model.__name__}Event", f"An accepted {event_type} event"
        )
    all_events = [_message_name(t) for t in sorted(EVENT_TYPES)]
    lifecycle = [_message_name(t) for t in sorted(LIFECYCLE_EVENT_TYPES)]
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Lifeline events",
            "version": "1.0.0",
            "description": "Topics of the Lifeline event backbone. Key = session_id; "
            "per session, events are in gapless seq order.",
        },
        "defaultContentType": "application/json",
        "channels": {
            "turns": _channel(TOPIC_TURNS, "Producers' raw events for ingest", ["NewEvent"]),
            "events": _channel(TOPIC_EVENTS, "Every accepted event, in seq order", all_events),
            "lifecycle": _channel(TOPIC_LIFECYCLE, "Services' announcements", lifecycle),
            "dlq": _channel(TOPIC_DLQ, "Poison messages with reasons", ["DeadLetter"]),
        },
        "operations": {
            "produceTurn": _operation("send", "turns", ["NewEvent"], "Submit an event"),
            "consumeEvents": _operation("receive", "events", all_events, "Project the log"),
            "consumeLifecycle": _operation("receive", "lifecycle", lifecycle, "React"),
            "consumeDeadLetters": _operation("receive", "dlq", ["DeadLetter"], "Inspect"),
        },
        "components": {"schemas": schemas, "messages": messages},
    }


def write_all(out_dir: Path) -> list[Path]:
    """Write every schema file and the AsyncAPI document; return the paths written."""
    files: dict[Path, dict[str, Any]] = {
        out_dir / "new_event.schema.json": standalone_schema(NewEvent),
        out_dir / "event.schema.json": standalone_schema(Event),
        out_dir / "session_state.schema.json": standalone_schema(SessionState),
        out_dir / "asyncapi.json": asyncapi_document(),
    }
    for event_type, model in EVENT_TYPES.items():
        files[out_dir / "payloads" / f"{event_type}.schema.json"] = standalone_schema(model)
    for path, document in files.items():
        _dump(path, document)
    return sorted(files)


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry: ``python -m lifeline_events.schema_export [OUT_DIR]``."""
    args = list(sys.argv[1:] if argv is None else argv)
    out_dir = Path(args[0]) if args else Path("schema")
    for path in write_all(out_dir):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
