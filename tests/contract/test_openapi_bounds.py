"""Every integer a client can send to any service is bounded to 64 bits in the schema.

An unbounded integer parameter reaches asyncpg or orjson and fails there as a 500;
bounded in the schema it is a 422 naming the parameter. The check reads each service's
OpenAPI (built without starting anything), so a new route cannot forget the bound.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any

import pytest

MAX_INT64 = 2**63 - 1
SERVICES = ["ingest", "replay", "snapshot", "memory", "governance", "tracestore"]


def _openapi(service: str) -> dict[str, Any]:
    app_module = importlib.import_module(f"lifeline_{service}.app")
    return app_module.build_app().openapi()


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref:
        name = ref.rsplit("/", 1)[-1]
        return spec["components"]["schemas"][name]
    return schema


def _integers(spec: dict[str, Any], schema: dict[str, Any], where: str,
              seen: set[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every integer schema reachable from `schema` (request side), with its path."""
    ref = schema.get("$ref")
    if ref:
        if ref in seen:
            return
        seen = {*seen, ref}
    schema = _resolve(spec, schema)
    if schema.get("type") == "integer":
        yield where, schema
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(key, []):
            yield from _integers(spec, sub, where, seen)
    for name, sub in schema.get("properties", {}).items():
        yield from _integers(spec, sub, f"{where}.{name}", seen)
    if isinstance(schema.get("items"), dict):
        yield from _integers(spec, schema["items"], f"{where}[]", seen)
    if isinstance(schema.get("additionalProperties"), dict):
        yield from _integers(spec, schema["additionalProperties"], f"{where}{{}}", seen)


def _request_integers(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method, op in item.items():
            route = f"{method.upper()} {path}"
            for param in op.get("parameters", []):
                yield from _integers(spec, param.get("schema", {}),
                                     f"{route} ?{param['name']}", set())
            for media in op.get("requestBody", {}).get("content", {}).values():
                yield from _integers(spec, media.get("schema", {}), f"{route} body", set())


def _within(bound: float | None, limit: int) -> bool:
    """A bound pydantic may print as a float (2**63-1 becomes 9.223372036854776e18)."""
    if bound is None:
        return False
    return bound <= (float(limit) if isinstance(bound, float) else limit)


def _negated(bound: float | None) -> float | None:
    """-1 - bound: a lower bound of at least -2**63 becomes an upper one of at most 2**63-1."""
    return None if bound is None else -1 - bound


@pytest.mark.parametrize("service", SERVICES)
def test_every_request_integer_is_bounded_to_64_bits(service: str) -> None:
    """No query, path or body integer of the service is open-ended."""
    unbounded = [
        where for where, schema in _request_integers(_openapi(service))
        if not _within(schema.get("maximum", schema.get("exclusiveMaximum")), MAX_INT64)
        or not _within(_negated(schema.get("minimum", schema.get("exclusiveMinimum"))), MAX_INT64)
    ]
    assert unbounded == []
