"""Starlette's CORS middleware, without its per-request work for requests that name no origin.

Only browsers send `Origin`; service-to-service and producer traffic (nearly every request)
does not. For those Starlette still parses the request headers into a `Headers`, wraps
`send` in a partial and rebuilds the response headers through `MutableHeaders`, only to add
`Vary: Origin`. This subclass adds the same `Vary` (merged into an existing one, as
Starlette does) straight on the header list, and hands every request that carries an
`Origin` to Starlette unchanged, so preflights and allowed/refused origins answer as before.
"""

from __future__ import annotations

from fastapi.middleware.cors import CORSMiddleware
from starlette.types import Message, Receive, Scope, Send

_VARY = b"vary"


def vary_origin(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """`headers` with `Origin` added to `Vary` exactly as Starlette's `MutableHeaders` does
    it: every `vary` entry folded into one, at the first one's place (else appended)."""
    values = [value for key, value in headers if key == _VARY]
    merged = (_VARY, b", ".join([*values, b"Origin"]))
    if not values:
        return [*headers, merged]
    first = next(i for i, (key, _) in enumerate(headers) if key == _VARY)
    kept = [header for header in headers if header[0] != _VARY]
    kept.insert(first, merged)
    return kept


class LeanCORSMiddleware(CORSMiddleware):
    """`CORSMiddleware` with a direct path for requests without `Origin` (module docstring)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or any(key == b"origin" for key, _ in scope["headers"]):
            await super().__call__(scope, receive, send)
            return

        async def send_vary(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = vary_origin(list(message.get("headers", [])))
            await send(message)

        await self.app(scope, receive, send_vary)
