"""README documents every setting of every service (docs/operations.md: it is the settings reference)."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

README = (Path(__file__).resolve().parents[3] / "README.md").read_text()
SETTINGS = [
    ("lifeline_servicekit.settings", "ServiceSettings"),
    ("lifeline_ingest.settings", "IngestSettings"),
    ("lifeline_ingest.api_retention", "RetentionSettings"),
    ("lifeline_replay.settings", "ReplaySettings"),
    ("lifeline_snapshot.settings", "SnapshotSettings"),
    ("lifeline_tracestore.settings", "TraceStoreSettings"),
    ("lifeline_memory.settings", "MemorySettings"),
]


@pytest.mark.parametrize(("module", "name"), SETTINGS, ids=[n for _, n in SETTINGS])
def test_every_setting_is_in_the_readme(module: str, name: str) -> None:
    """Each field of the settings class appears in README as its LIFELINE_ variable."""
    cls = getattr(importlib.import_module(module), name)
    missing = [f"LIFELINE_{field.upper()}" for field in cls.model_fields
               if f"LIFELINE_{field.upper()}" not in README]
    assert not missing, f"README does not document {missing}"
