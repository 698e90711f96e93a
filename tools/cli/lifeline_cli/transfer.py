"""Export and import with progress bars: the bundle streams to and from disk in chunks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
from rich.progress import BarColumn, DownloadColumn, Progress, SpinnerColumn, TextColumn, TransferSpeedColumn

from lifeline_cli.client import Api, CliError, problem_of
from lifeline_cli.render import err

CHUNK = 256 * 1024


def _progress(enabled: bool) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=err,
        disable=not enabled,
        transient=True,
    )


def export_to(api: Api, session: str, target: Path, *, show_progress: bool) -> dict[str, Any]:
    """Stream the session's bundle into `target`; a summary of what was written."""
    written = 0
    try:
        with api.http.stream("GET", f"/v1/sessions/{session}/export") as response:
            if response.status_code >= 400:
                response.read()
                raise problem_of(response)
            with _progress(show_progress) as progress, target.open("wb") as fh:
                task = progress.add_task(f"export {session}", total=None)
                for chunk in response.iter_bytes(CHUNK):
                    fh.write(chunk)
                    written += len(chunk)
                    progress.update(task, advance=len(chunk))
    except CliError:
        raise
    except Exception as exc:
        raise CliError(f"export failed after {written} bytes: {exc}") from exc
    bundle = orjson.loads(target.read_bytes())
    return {
        "session_id": session,
        "file": str(target),
        "bytes": written,
        "events": len(bundle["events"]),
        "snapshots": len(bundle["snapshots"]),
        "redactions": bundle["redactions"],
    }


def _chunks(path: Path, progress: Progress, task: Any) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            progress.update(task, advance=len(chunk))
            yield chunk


def import_from(api: Api, source: Path, *, preserve_turn_id: bool, show_progress: bool) -> dict[str, Any]:
    """Upload a bundle file; the sandbox session the service created."""
    if not source.is_file():
        raise CliError(f"no such bundle file: {source}")
    size = source.stat().st_size
    with _progress(show_progress) as progress:
        task = progress.add_task(f"import {source.name}", total=size)
        return api.json(
            "POST",
            "/v1/sessions/import",
            content=_chunks(source, progress, task),
            params={"preserveTurnId": str(preserve_turn_id).lower()},
            headers={"content-type": "application/json", "content-length": str(size)},
        )
