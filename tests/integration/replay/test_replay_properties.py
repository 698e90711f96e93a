"""Property: whatever the conversation (duplicates, redeliveries, restores), replay's state
equals the shared fold of ingest's log."""

from __future__ import annotations

import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lifeline_events import content_hash, fold
from lifeline_testing.appends import append
from lifeline_testing.oracle import log_of

from .helpers import assert_state_matches_log, new_session, wait_mode

words = st.sampled_from(["veneers", "price", "March", "yes", "no", "implant", "budget", "pain", "Anna"])
texts = st.lists(words, min_size=1, max_size=12).map(" ".join).map(lambda t: t + ".")
ids = st.sampled_from(["a", "b", "c", "d"])
acts = st.one_of(
    st.builds(lambda s: {"op": "set_stage", "stage": s}, ids),
    st.builds(lambda k, v: {"op": "confirm_fact", "key": k, "value": v}, ids, st.integers(-9, 9) | ids),
    st.builds(lambda k: {"op": "retract_fact", "key": k}, ids),
    st.builds(lambda i, p: {"op": "set_objective", "id": i, "text": f"do {i}", "priority": p}, ids,
              st.integers(-2, 2)),
    st.builds(lambda i: {"op": "complete_objective", "id": i}, ids),
    st.builds(lambda i, t: {"op": "pin", "id": i, "text": t}, ids, texts),
    st.builds(lambda i: {"op": "unpin", "id": i}, ids),
    st.builds(lambda t, s: {"op": "add_episode", "text": t, "salience": s}, texts, st.floats(0, 1)),
    st.builds(lambda c: {"op": "error", "code": c}, ids),
)
turn_specs = st.tuples(st.sampled_from(["user", "assistant"]), texts, st.lists(acts, max_size=3),
                       st.none() | ids)
steps = st.one_of(
    st.tuples(st.just("turns"), st.lists(turn_specs, min_size=1, max_size=5), st.booleans()),
    st.tuples(st.just("redeliver"), st.integers(0, 50)),
    st.tuples(st.just("restore"), st.floats(0, 1)),
    st.tuples(st.just("evaluate"), st.lists(ids, max_size=3), st.none() | st.floats(0, 10)),
)


class Conversation:
    """Drives one generated conversation through ingest over HTTP."""

    def __init__(self, http: Any, ingest_url: str, session: str) -> None:
        self.http, self.ingest_url, self.session = http, ingest_url, session
        self.batches: list[list[dict[str, Any]]] = []
        self.next_turn = 1
        self.last_seq = 0

    async def post(self, events: list[dict[str, Any]]) -> None:
        results = await append(self.ingest_url, self.session, events)
        self.last_seq = max([self.last_seq, *(r["seq"] for r in results)])
        self.batches.append(events)

    def new_turns(self, specs: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
        out = []
        for role, text, turn_acts, intent in specs:
            payload = {"role": role, "text": text, "acts": turn_acts}
            if intent:
                payload["intent"] = intent
            out.append({"event_type": "turn.recorded", "turn_id": self.next_turn, "person_id": "p-1",
                        "payload": payload})
            self.next_turn += 1
        return out

    async def restore(self, fraction: float) -> None:
        log = await log_of(self.ingest_url, self.session)
        earlier = fold(log[: int(len(log) * fraction)]).model_dump(mode="json")
        await self.post([{"event_type": "session.restored", "event_id": str(uuid.uuid4()), "payload": {
            "snapshot_id": f"snap-{len(log)}", "content_hash": content_hash(earlier), "state": earlier}}])

    async def run(self, step: tuple[Any, ...]) -> None:
        kind = step[0]
        if kind == "turns":
            events = self.new_turns(step[1])
            if step[2] and self.batches:  # a retry mixed into a new batch: same turn ids again
                events = [*self.batches[0][:2], *events]
            await self.post(events)
        elif kind == "redeliver" and self.batches:
            await self.post(self.batches[step[1] % len(self.batches)])
        elif kind == "restore" and self.last_seq:
            await self.restore(step[1])
        elif kind == "evaluate" and self.next_turn > 1:
            await self.post([{"event_type": "turn.evaluated", "event_id": str(uuid.uuid4()), "payload": {
                "turn_id": self.next_turn - 1, "errors": step[1], "score": step[2]}}])


@settings(max_examples=10, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(script=st.lists(steps, min_size=1, max_size=7))
async def test_state_equals_the_fold_of_ingest_log(stack, http, script) -> None:
    """For generated conversations, GET state?min_seq= is byte-equal to fold(ingest's log), both
    right after the writes and once served from replay's own projection (mode replay)."""
    conversation = Conversation(http, stack.ingest.url, new_session("prop"))
    await conversation.post(conversation.new_turns([("user", "Hello there.", [], None)]))
    for step in script:
        await conversation.run(step)
    await assert_state_matches_log(http, stack.replay.url, stack.ingest.url, conversation.session,
                                   conversation.last_seq)
    await wait_mode(http, stack.replay.url, conversation.session, "replay", conversation.last_seq)
    await assert_state_matches_log(http, stack.replay.url, stack.ingest.url, conversation.session,
                                   conversation.last_seq)
