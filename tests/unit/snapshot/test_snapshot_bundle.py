"""Export bundles: redaction keeps hashes verifiable, tampering is refused, import renumbers."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from lifeline_events import Event, SessionState, content_hash, fold
from lifeline_snapshot.errors import BundleError
from lifeline_snapshot.export.bundle import (
    batches,
    header,
    redact_event,
    redact_snapshot,
    section_hash,
    to_new_events,
    validate_bundle,
    versions_of,
)
from lifeline_snapshot.export.versions import BundleVersion, check, export_item, target_seq

NOW = datetime(2025, 10, 18, 12, 0, tzinfo=UTC)


def _event(seq: int, event_type: str, payload: dict[str, Any], turn_id: int | None = None) -> dict[str, Any]:
    return Event.model_validate({
        "event_id": f"00000000-0000-7000-8000-{seq:012d}", "event_type": event_type, "tenant_id": "t",
        "session_id": "s-1", "person_id": "alice@example.com", "seq": seq, "turn_id": turn_id,
        "occurred_at": NOW, "recorded_at": NOW, "payload": payload}).model_dump(mode="json")


def _log() -> list[dict[str, Any]]:
    state = SessionState(confirmed_facts={"email": "bob@example.com"}).model_dump(mode="json")
    return [
        _event(1, "turn.recorded", {"role": "user", "text": "I'm bob@example.com"}, turn_id=7),
        _event(2, "turn.evaluated", {"turn_id": 7, "errors": ["late"]}),
        _event(3, "session.restored", {"snapshot_id": "x", "content_hash": content_hash(state),
                                       "state": state}),
        _event(4, "turn.recorded", {"role": "assistant", "text": "call +1 555 123 4567"}, turn_id=9),
    ]


def _bundle(events: list[dict[str, Any]], snapshots: list[dict[str, Any]] | None = None,
            versions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    counts: Counter[str] = Counter()
    redacted = [redact_event(e, counts) for e in events]
    snaps = [redact_snapshot(s, counts) for s in snapshots or []]
    named = versions or []
    return {**header(exported_at=NOW.isoformat(), tenant_id="t", session_id="s-1", last_seq=len(events)),
            "events": redacted, "snapshots": snaps, "versions": named, "profile": None,
            "redactions": dict(counts),
            "hashes": {"events": section_hash(redacted), "snapshots": section_hash(snaps),
                       "versions": section_hash(named), "profile": section_hash([None])}}


def test_redacted_events_still_validate_and_fold() -> None:
    """Redaction rewrites text, person ids and restored states, and every event stays valid."""
    bundle = _bundle(_log())
    raw, events = validate_bundle(orjson.dumps(bundle))
    assert raw["redactions"] == {"email": 6, "phone": 1}  # 4 person ids, 1 text, 1 fact
    assert events[0].payload.text == "I'm [redacted:email]" and events[0].person_id == "redacted:email"
    assert fold(events).confirmed_facts == {"email": "[redacted:email]"}


def test_snapshot_hash_is_recomputed_after_redaction() -> None:
    """A redacted snapshot's content_hash is the hash of its redacted state."""
    state = SessionState(pins=()).model_copy(update={"stage": "ip 10.1.2.3"}).model_dump(mode="json")
    snap = {"snapshot_id": "a", "content_hash": content_hash(state), "state": state, "label": None}
    out = redact_snapshot(snap, Counter())
    assert out["state"]["stage"] == "ip [redacted:ipv4]"
    assert out["content_hash"] == content_hash(out["state"]) != snap["content_hash"]


@pytest.mark.parametrize(("mutate", "field"), [
    (lambda b: b["events"][0]["payload"].update(text="changed"), "hashes.events"),
    (lambda b: b["events"].pop(), "hashes.events"),
    (lambda b: b["hashes"].update(profile="0" * 64), "hashes.profile"),
    (lambda b: b["events"][1].update(seq=1), "events[1].seq"),
    (lambda b: b["events"][0].update(session_id="other"), "events[0].session_id"),
    (lambda b: b["events"][0]["payload"].update(role="robot"), "events[0].payload.role"),
    (lambda b: b.pop("hashes"), "hashes"),
    (lambda b: b.update(format="zip"), "format"),
    (lambda b: b["versions"].append({"version_id": "v"}), "hashes.versions"),
    (lambda b: b["hashes"].pop("versions"), "hashes.versions"),
    (lambda b: b.update(version=3), "version"),
])
def test_tampered_or_malformed_bundles_are_refused(mutate: Any, field: str) -> None:
    """Any change after export, or a schema error, is refused naming the field."""
    bundle = _bundle(_log())
    mutate(bundle)
    with pytest.raises(BundleError) as info:
        validate_bundle(orjson.dumps(bundle))
    assert field in [e["field"] for e in info.value.errors], info.value.errors


def test_snapshot_with_a_wrong_hash_is_refused() -> None:
    """A snapshot whose state no longer matches its content_hash fails the import."""
    state = SessionState().model_dump(mode="json")
    bundle = _bundle(_log(), [{"snapshot_id": "a", "content_hash": "", "state": state, "label": None}])
    bundle["snapshots"][0]["state"]["stage"] = "edited"
    bundle["hashes"]["snapshots"] = section_hash(bundle["snapshots"])
    with pytest.raises(BundleError) as info:
        validate_bundle(orjson.dumps(bundle))
    assert [e["field"] for e in info.value.errors] == ["snapshots[0].content_hash"]


def test_not_json_is_refused() -> None:
    """A body that is not JSON names the body."""
    with pytest.raises(BundleError, match="body: not JSON"):
        validate_bundle(b"{nope")


def test_import_renumbers_turn_ids_and_their_references() -> None:
    """Without preserveTurnId turns become 1..n and turn.evaluated follows its turn."""
    _, events = validate_bundle(orjson.dumps(_bundle(_log())))
    new = to_new_events(events, preserve_turn_ids=False)
    assert [e["turn_id"] for e in new] == [1, None, None, 2]
    assert new[1]["payload"]["turn_id"] == 1
    assert all("event_id" not in e and "seq" not in e and "session_id" not in e for e in new)


def test_import_keeps_turn_ids_when_asked() -> None:
    """With preserveTurnId the original turn ids and references are kept."""
    _, events = validate_bundle(orjson.dumps(_bundle(_log())))
    new = to_new_events(events, preserve_turn_ids=True)
    assert [e["turn_id"] for e in new] == [7, None, None, 9] and new[1]["payload"]["turn_id"] == 7


def test_batches_respect_count_and_size() -> None:
    """Import batches never exceed ingest's event count or byte limits, and keep order."""
    items = [{"n": i, "pad": "x" * 100} for i in range(25)]
    out = list(batches(items, max_events=10, max_bytes=1000))
    assert [i["n"] for b in out for i in b] == list(range(25))
    assert all(len(b) <= 10 and sum(len(orjson.dumps(i)) + 1 for i in b) <= 1000 for b in out)


def _version(version_id: str, at_seq: int, state_hash: str, message: str = "named") -> dict[str, Any]:
    return export_item(version_id, at_seq, state_hash, message, ["act-1"], NOW, Counter())


def _hash_at(events: list[Event], seq: int) -> str:
    return content_hash(fold(e for e in events if e.seq <= seq).model_dump(mode="json"))


def test_a_version_1_bundle_is_still_imported() -> None:
    """A bundle written before versions (version 1: no versions section, no versions hash) validates
    and carries no versions; a `versions` key there, covered by no hash, is ignored."""
    bundle = _bundle(_log())
    del bundle["versions"], bundle["hashes"]["versions"]
    bundle["version"] = 1
    raw, events = validate_bundle(orjson.dumps(bundle))
    assert len(events) == 4 and versions_of(raw) == []
    bundle["versions"] = [{"version_id": "smuggled"}]
    assert versions_of(validate_bundle(orjson.dumps(bundle))[0]) == []


def test_versions_travel_hashed_and_redacted() -> None:
    """Exported versions carry message and tags (redacted), are covered by the versions hash, and
    an item that is no version is refused naming its field."""
    counts: Counter[str] = Counter()
    item = export_item("v-1", 2, "h", "before alice@example.com left", ["act-1", "bob@example.com"], NOW,
                       counts)
    assert item["message"] == "before [redacted:email] left" and item["tags"] == ["act-1", "[redacted:email]"]
    assert counts == {"email": 2}
    raw, _ = validate_bundle(orjson.dumps(_bundle(_log(), versions=[item])))
    [version] = versions_of(raw)
    assert (version.version_id, version.at_seq, version.tags, version.versioned_at) == (
        "v-1", 2, ("act-1", "[redacted:email]"), NOW)
    broken = _bundle(_log(), versions=[{**item, "at_seq": "two"}])
    with pytest.raises(BundleError) as info:
        validate_bundle(orjson.dumps(broken))
    assert [e["field"] for e in info.value.errors] == ["versions[0].at_seq"]


def test_only_versions_that_match_the_bundle_s_history_are_restorable() -> None:
    """A version whose hash is the fold of the bundle's events at its at_seq is restorable; one
    whose state differs, or whose at_seq is past the events, is reported with the reason."""
    _, events = validate_bundle(orjson.dumps(_bundle(_log())))
    good = [BundleVersion.model_validate(_version(f"v{seq}", seq, _hash_at(events, seq))) for seq in (1, 4)]
    wrong = BundleVersion.model_validate(_version("v-wrong", 2, _hash_at(events, 1)))
    beyond = BundleVersion.model_validate(_version("v-beyond", 9, _hash_at(events, 4)))
    restorable, refused = check([beyond, good[1], wrong, good[0]], events)
    assert restorable == good
    assert [(r["source_version_id"], r["at_seq"]) for r in refused] == [("v-wrong", 2), ("v-beyond", 9)]
    assert "does not match" in refused[0]["reason"] and "end at seq 4" in refused[1]["reason"]
    assert refused[0]["message"] == "named" and refused[0]["tags"] == ["act-1"]


def test_a_version_maps_to_the_imported_session_s_seq() -> None:
    """The same seq when every event is imported; shifted past a left-out session.branched."""
    assert [target_seq([1, 2, 3], [1, 2, 3], s) for s in (0, 1, 3, 5)] == [0, 1, 3, 3]
    imported, assigned = [1, 2, 4, 5], [1, 2, 3, 4]  # seq 3 was the branch's session.branched
    assert [target_seq(imported, assigned, s) for s in (2, 3, 4, 5)] == [2, 2, 3, 4]
