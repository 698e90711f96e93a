"""The stored-blob codec: every algorithm round-trips, small blobs stay plain, bad names and
damaged bytes fail loudly with the algorithm named."""

from __future__ import annotations

import random

import orjson
import pytest

from lifeline_common.errors import ConflictError, InvalidInputError
from lifeline_store.compression import (
    ALGORITHMS,
    CompressionPolicy,
    CorruptBlobError,
    UnknownAlgorithmError,
    compress,
    decompress,
    json_column_arrays,
    json_columns,
    json_document,
)

STATE = orjson.dumps({"seq": 200, "facts": {f"fact{i}": f"value number {i}" for i in range(80)},
                      "turns": [{"role": "user", "text": "I would like to book a table for four"}] * 40},
                     option=orjson.OPT_SORT_KEYS)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_every_algorithm_round_trips(algorithm: str) -> None:
    """decompress(compress(b, a), a) == b for each algorithm, including empty input."""
    for data in (STATE, b"", b"x"):
        assert decompress(compress(data, algorithm), algorithm) == data


@pytest.mark.parametrize("algorithm", [a for a in ALGORITHMS if a != "none"])
def test_policy_compresses_at_and_above_the_threshold(algorithm: str) -> None:
    """A blob of min_bytes or more is stored with the policy's algorithm and is smaller."""
    blob, used = CompressionPolicy(algorithm, min_bytes=len(STATE)).encode(STATE)  # type: ignore[arg-type]
    assert used == algorithm and len(blob) < len(STATE)
    assert decompress(blob, used) == STATE


def test_policy_keeps_small_or_incompressible_blobs_plain() -> None:
    """Below min_bytes, under `none`, or when compressing would not shrink it, the blob is kept as is."""
    assert CompressionPolicy("zstd", min_bytes=len(STATE) + 1).encode(STATE) == (STATE, "none")
    assert CompressionPolicy("none", min_bytes=0).encode(STATE) == (STATE, "none")
    noise = random.Random(3).randbytes(4096)
    for algorithm in ("zstd", "gzip", "lz4", "brotli"):
        assert CompressionPolicy(algorithm, min_bytes=0).encode(noise) == (noise, "none")  # type: ignore[arg-type]


def test_unknown_algorithm_is_named() -> None:
    """An unknown name (in a setting or a stored row) is refused with that name and the known ones."""
    with pytest.raises(UnknownAlgorithmError, match=r"'snappy'.*zstd, gzip, lz4, brotli, none") as caught:
        decompress(b"abc", "snappy")
    assert isinstance(caught.value, InvalidInputError)
    with pytest.raises(UnknownAlgorithmError, match="'xz'"):
        compress(b"abc", "xz")
    with pytest.raises(UnknownAlgorithmError, match="'bz2'"):
        CompressionPolicy("bz2")  # type: ignore[arg-type]


@pytest.mark.parametrize("algorithm", [a for a in ALGORITHMS if a != "none"])
def test_corrupted_bytes_raise_a_clear_error(algorithm: str) -> None:
    """Flipped or truncated bytes raise CorruptBlobError naming the algorithm (a 409 at the edge)."""
    blob = bytearray(compress(STATE, algorithm))
    blob[len(blob) // 2] ^= 0xFF
    with pytest.raises(CorruptBlobError, match=f"recorded as {algorithm} are corrupted") as caught:
        decompress(bytes(blob), algorithm)
    assert isinstance(caught.value, ConflictError) and caught.value.algorithm == algorithm
    with pytest.raises(CorruptBlobError):
        decompress(compress(STATE, algorithm)[:-7], algorithm)
    with pytest.raises(CorruptBlobError):
        decompress(b"not compressed at all", algorithm)


def test_json_columns_round_trip_through_json_document() -> None:
    """A document goes to the blob when compressed (state NULL) and stays readable JSON below
    the threshold (blob NULL); reading either row gives the document back."""
    document = orjson.loads(STATE)
    state, blob, algorithm = json_columns(CompressionPolicy("zstd", min_bytes=0), STATE)
    assert state is None and blob is not None and algorithm == "zstd" and len(blob) < len(STATE)
    assert json_document({"state": None, "state_blob": blob, "compression": algorithm}, "x") == document
    small = json_columns(CompressionPolicy("zstd", min_bytes=len(STATE) + 1), STATE)
    assert small == (STATE.decode(), None, "none")
    # a `none` row and a row from before compression: `state` as the pool's codec decoded it
    assert json_document({"state": document, "state_blob": None, "compression": "none"}, "x") == document
    assert json_document({"state": document}, "x") == document


def test_json_column_arrays_transpose_each_documents_columns_in_order() -> None:
    """One upsert's three arrays: row i of each is `json_columns` of document i, a compressed
    row beside a plain one."""
    policy = CompressionPolicy("zstd", min_bytes=100)
    documents = [STATE, b'{"seq":1}', STATE[::-1]]
    states, blobs, algorithms = json_column_arrays(policy, iter(documents))
    assert list(zip(states, blobs, algorithms, strict=True)) == [json_columns(policy, d) for d in documents]
    assert algorithms[:2] == ["zstd", "none"] and states[1] == '{"seq":1}'
    assert json_column_arrays(policy, []) == ([], [], [])


def test_json_document_names_the_row_of_a_corrupted_blob() -> None:
    blob = bytearray(compress(STATE, "zstd"))
    blob[len(blob) // 2] ^= 0xFF
    with pytest.raises(CorruptBlobError, match=r"head of session 's-1': .*Error"):
        json_document({"state": None, "state_blob": bytes(blob), "compression": "zstd"},
                      "head of session 's-1'")
    with pytest.raises(CorruptBlobError, match="head of session 's-2': JSONDecodeError"):
        json_document({"state": None, "state_blob": compress(b"{not json", "zstd"), "compression": "zstd"},
                      "head of session 's-2'")
