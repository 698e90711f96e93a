"""Compression of stored blobs: one codec per algorithm, chosen by name.

Whatever writes a blob records the algorithm beside it (a column), so a blob stays
readable after `LIFELINE_COMPRESSION` changes and rows written before compression
existed read as `none`. Blobs under `min_bytes`, and blobs that would not shrink, are
kept as they are (`none`): the frame overhead is not worth it. Pure: no I/O.

Levels favour speed over the last percent (bench/bench_compression.py prints both):
zstd 3, gzip 6, brotli 5, lz4 0 (its frame format). zstd and lz4 frames carry a
content checksum, gzip a CRC-32, so corrupted bytes fail loudly on the way back.

    CompressionError (StoreError)
    ├── UnknownAlgorithmError → InvalidInputError   a name no codec answers to
    └── CorruptBlobError → ConflictError            bytes that do not decompress
"""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

import brotli
import lz4.frame
import orjson
import zstandard

from lifeline_common.errors import ConflictError, InvalidInputError
from lifeline_store.errors import StoreError

Algorithm = Literal["zstd", "gzip", "lz4", "brotli", "none"]
ALGORITHMS: tuple[str, ...] = get_args(Algorithm)
NONE: Algorithm = "none"
DEFAULT_MIN_BYTES = 1024


class CompressionError(StoreError):
    """A blob could not be compressed or decompressed."""


class UnknownAlgorithmError(CompressionError, InvalidInputError):
    """No codec has this name (a setting, or a row written by a newer build)."""

    def __init__(self, algorithm: str) -> None:
        super().__init__(f"unknown compression algorithm {algorithm!r} (known: {', '.join(ALGORITHMS)})")
        self.algorithm = algorithm


class CorruptBlobError(CompressionError, ConflictError):
    """The bytes do not decompress with the algorithm recorded beside them."""

    title = "Stored data corrupted"

    def __init__(self, algorithm: str, reason: str) -> None:
        super().__init__(f"bytes recorded as {algorithm} are corrupted: {reason}")
        self.algorithm = algorithm


_ZSTD_COMPRESSOR = zstandard.ZstdCompressor(level=3, write_checksum=True)
_ZSTD_DECOMPRESSOR = zstandard.ZstdDecompressor()


def _identity(data: bytes) -> bytes:
    return data


def _zstd_decompress(data: bytes) -> bytes:
    # frames written without a content size (streamed) need the streaming reader
    params = zstandard.get_frame_parameters(data)
    if params.content_size == zstandard.CONTENTSIZE_UNKNOWN:
        return _ZSTD_DECOMPRESSOR.decompressobj().decompress(data)
    return _ZSTD_DECOMPRESSOR.decompress(data)


_CODECS: dict[str, tuple[Callable[[bytes], bytes], Callable[[bytes], bytes]]] = {
    "zstd": (_ZSTD_COMPRESSOR.compress, _zstd_decompress),
    "gzip": (lambda b: gzip.compress(b, compresslevel=6, mtime=0), gzip.decompress),
    "lz4": (lambda b: lz4.frame.compress(b, content_checksum=True), lz4.frame.decompress),
    "brotli": (lambda b: brotli.compress(b, quality=5), brotli.decompress),
    "none": (_identity, _identity),
}


def _codec(algorithm: str) -> tuple[Callable[[bytes], bytes], Callable[[bytes], bytes]]:
    try:
        return _CODECS[algorithm]
    except KeyError:
        raise UnknownAlgorithmError(algorithm) from None


def compress(data: bytes, algorithm: str) -> bytes:
    """`data` compressed with `algorithm` (`none` returns it unchanged)."""
    return _codec(algorithm)[0](data)


def decompress(data: bytes, algorithm: str) -> bytes:
    """The bytes `compress(…, algorithm)` was given; CorruptBlobError if they are damaged."""
    inflate = _codec(algorithm)[1]
    try:
        return inflate(data)
    except Exception as exc:  # each library raises its own class (ZstdError, OSError, RuntimeError…)
        raise CorruptBlobError(algorithm, f"{type(exc).__name__}: {exc}") from exc


@dataclass(frozen=True)
class CompressionPolicy:
    """Which algorithm new blobs get (`LIFELINE_COMPRESSION`) and from what size
    (`LIFELINE_COMPRESS_MIN_BYTES`)."""

    algorithm: Algorithm = "zstd"
    min_bytes: int = DEFAULT_MIN_BYTES

    def __post_init__(self) -> None:
        _codec(self.algorithm)

    def encode(self, data: bytes) -> tuple[bytes, Algorithm]:
        """(blob, algorithm to record): `none` below the threshold or when nothing is saved."""
        if self.algorithm == NONE or len(data) < self.min_bytes:
            return data, NONE
        packed = compress(data, self.algorithm)
        if len(packed) >= len(data):
            return data, NONE
        return packed, self.algorithm


def json_columns(policy: CompressionPolicy, document: bytes) -> tuple[str | None, bytes | None, Algorithm]:
    """A JSON document as the columns `state` (json), `state_blob` (bytea) and `compression`.

    Compressed, it goes to the blob and `state` is NULL; under the policy's threshold (or
    `none`) it stays readable JSON in `state` and the blob is NULL — the layout of
    `snapshot.snapshots` and of the kept states (`replay.sessions`, `snapshot.session_state`).
    """
    blob, algorithm = policy.encode(document)
    return (document.decode(), None, NONE) if algorithm == NONE else (None, blob, algorithm)


def json_column_arrays(policy: CompressionPolicy, documents: Iterable[bytes],
                       ) -> tuple[list[str | None], list[bytes | None], list[Algorithm]]:
    """`json_columns` of each document, transposed: the `state`, `state_blob` and
    `compression` arrays of one `unnest(…)` upsert of many rows."""
    states: list[str | None] = []
    blobs: list[bytes | None] = []
    algorithms: list[Algorithm] = []
    for document in documents:
        state, blob, algorithm = json_columns(policy, document)
        states.append(state)
        blobs.append(blob)
        algorithms.append(algorithm)
    return states, blobs, algorithms


def json_document(record: Mapping[str, Any], what: str) -> Any:
    """The document of a row written from `json_columns`: `state` as the pool decoded it when
    `compression` is `none` (or absent: rows from before compression), else `state_blob`
    decompressed and parsed; CorruptBlobError naming `what` when it cannot be."""
    algorithm = record.get("compression")
    if algorithm is None or algorithm == NONE:
        return record.get("state")
    try:
        return orjson.loads(decompress(record["state_blob"], algorithm))
    except (CorruptBlobError, orjson.JSONDecodeError) as exc:
        cause = exc.__cause__ or exc
        raise CorruptBlobError(algorithm, f"{what}: {type(cause).__name__}: {cause}") from exc
