"""replay takes LIFELINE_SNAPSHOT_EVERY=0 / LIFELINE_SNAPSHOT_KEEP=0 as snapshot does."""

from __future__ import annotations

from lifeline_replay.domain import snapshot_due
from lifeline_replay.settings import ReplaySettings


def test_zero_every_and_keep_are_valid_settings(monkeypatch) -> None:
    """0 is valid for both services (it crashed replay at start before)."""
    monkeypatch.setenv("LIFELINE_SNAPSHOT_EVERY", "0")
    monkeypatch.setenv("LIFELINE_SNAPSHOT_KEEP", "0")
    settings = ReplaySettings()
    assert (settings.snapshot_every, settings.snapshot_keep) == (0, 0)


def test_every_zero_takes_no_snapshot() -> None:
    """No seq is due when periodic snapshots are off (no division by zero)."""
    assert not any(snapshot_due(seq, 0) for seq in range(1, 50))
    assert [seq for seq in range(1, 12) if snapshot_due(seq, 5)] == [5, 10]
