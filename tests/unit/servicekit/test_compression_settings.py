"""LIFELINE_COMPRESSION and LIFELINE_COMPRESS_MIN_BYTES: zstd from 1 KiB by default; an unknown
algorithm stops a service at start, naming the ones it knows."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from lifeline_servicekit import ServiceSettings


def test_defaults_are_zstd_from_one_kib(monkeypatch: pytest.MonkeyPatch) -> None:
    """With nothing set, stored blobs of 1024 bytes or more get zstd."""
    monkeypatch.delenv("LIFELINE_COMPRESSION", raising=False)
    monkeypatch.delenv("LIFELINE_COMPRESS_MIN_BYTES", raising=False)
    settings = ServiceSettings()
    assert (settings.compression, settings.compress_min_bytes) == ("zstd", 1024)


def test_environment_picks_the_algorithm(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each algorithm is accepted from the environment."""
    for algorithm in ("gzip", "lz4", "brotli", "none", "zstd"):
        monkeypatch.setenv("LIFELINE_COMPRESSION", algorithm)
        assert ServiceSettings().compression == algorithm


def test_unknown_algorithm_or_negative_threshold_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """`snappy` is refused with the known names listed; a negative threshold too."""
    monkeypatch.setenv("LIFELINE_COMPRESSION", "snappy")
    with pytest.raises(ValidationError, match=r"compression[\s\S]*'zstd', 'gzip', 'lz4', 'brotli' or 'none'"):
        ServiceSettings()
    monkeypatch.setenv("LIFELINE_COMPRESSION", "zstd")
    monkeypatch.setenv("LIFELINE_COMPRESS_MIN_BYTES", "-1")
    with pytest.raises(ValidationError, match="compress_min_bytes"):
        ServiceSettings()
