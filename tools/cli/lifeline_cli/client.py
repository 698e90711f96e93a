"""A small synchronous HTTP client that turns every failure into a `CliError`.

A problem+json answer becomes "<title> (<status>): <detail>", so the user sees what
the service said; a service that does not answer says which URL was tried.
"""

from __future__ import annotations

from typing import Any

import httpx


class CliError(Exception):
    """Printed as the command's error; the command exits non-zero."""

    def __init__(
        self, message: str, status: int | None = None, problem: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.problem = problem or {}


def problem_of(response: httpx.Response) -> CliError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    title = body.get("title") or response.reason_phrase or "Request failed"
    detail = body.get("detail") or response.text[:500]
    return CliError(f"{title} ({response.status_code}): {detail}", response.status_code, body)


class Api:
    def __init__(self, base_url: str, api_key: str, *, timeout: float = 60.0) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.base_url = base_url.rstrip("/")
        self.http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout)

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *_: object) -> None:
        self.http.close()

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise CliError(f"cannot reach {self.base_url}: {exc}") from exc
        if response.status_code >= 400:
            raise problem_of(response)
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.call(method, path, **kwargs)
        return response.json() if response.content else {}
