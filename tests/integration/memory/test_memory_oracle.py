"""Random histories through ingest, memory SIGKILLed mid-stream: every profile equals the oracle."""

from __future__ import annotations

import contextlib
import random
from typing import Any

import orjson

from lifeline_events import TOPIC_LIFECYCLE, Event
from lifeline_testing.appends import append
from lifeline_testing.topics import read_topic
from lifeline_testing.waiting import eventually

from .helpers import finished, get, grade, oracle, start_memory, turn, without_volatile

CODES = ["price_missed", "no_next_step", "rushed", "jargon"]


def random_session(rnd: random.Random, person: str, day: int) -> list[dict[str, Any]]:
    """Turns with acts and facts, grades and re-grades, a flag now and then; then finished."""
    events: list[dict[str, Any]] = []
    turns = rnd.randint(2, 8)
    for t in range(1, turns + 1):
        role = "user" if t % 2 else "assistant"
        acts: list[dict[str, Any]] = []
        if rnd.random() < 0.5:
            acts.append({"op": rnd.choice(["error", "strength"]), "code": rnd.choice(CODES)})
        if rnd.random() < 0.2:
            acts.append({"op": "confirm_fact", "key": "contact", "value": rnd.choice(["mail", "phone"])})
        text = "is it guaranteed?" if rnd.random() < 0.1 else "fine"
        events.append(turn(t, person, day, role=role, text=text, intent=rnd.choice(["pricing", "booking"]),
                           acts=acts))
        for _ in range(rnd.choice([0, 0, 1, 2])):  # a grade, sometimes a re-grade
            events.append(grade(t, person, day, grader=rnd.choice(["a", "b"]),
                                errors=rnd.sample(CODES, rnd.randint(0, 2)), skill_tags=["discovery"]))
    events.append(finished(person, day))
    return events


async def converged_profile(url: str, person: str, want: bytes, timeout: float = 60) -> bytes:
    """The served profile (volatile fields dropped) once it equals `want`, or the last one
    read when `timeout` passes first."""
    got = b""

    async def probe() -> bool:
        nonlocal got
        got = without_volatile((await get(url, f"/v1/persons/{person}/profile")).json())
        return got == want

    with contextlib.suppress(AssertionError):
        await eventually(probe, timeout=timeout, what=f"{person}'s profile to equal the oracle")
    return got


async def test_sigkill_mid_stream_converges_to_the_oracle(fresh_database, bus_url, procs) -> None:
    """Kill -9 memory while sessions stream in, append more while it is down, restart: each
    person's profile converges to the pure consolidation of ingest's log, byte for byte (once
    the records the killed process held are reclaimed), and no version was announced under
    two event ids."""
    rnd = random.Random(8)
    ingest = procs.ingest(fresh_database, bus_url)
    memory = start_memory(procs, fresh_database, bus_url, ingest, memory_consumer_max_records="7",
                          bus_reclaim_idle_ms="2000")
    persons = {f"p-{i}": [] for i in range(3)}
    plan = [(p, f"{p}-s{k}", k * 3 + rnd.randint(0, 2)) for k in range(4) for p in persons]
    for n, (person, session, day) in enumerate(plan):
        events = random_session(rnd, person, day)
        cut = rnd.randint(1, len(events) - 1)
        await append(ingest.url, session, events[:cut])
        await append(ingest.url, session, events[cut:])
        persons[person].append(session)
        if n == 4:
            memory.kill()
        if n == 7:
            memory.start()
    last = {p: s[-1] for p, s in persons.items()}
    for person, sessions in persons.items():
        r = await get(memory.url, f"/v1/persons/{person}/profile", after_session=last[person])
        assert r.status_code == 200, r.text
        expected, bias = await oracle(ingest.url, person, sessions)
        assert expected is not None
        # Records the killed process had read but not acknowledged wait to be reclaimed (idle
        # for LIFELINE_BUS_RECLAIM_IDLE_MS): until then an earlier session of theirs can be
        # missing from the profile that `after_session` answers with. Missing, then complete;
        # never wrong or doubled: the profile must converge to the oracle's, byte for byte.
        want = orjson.dumps(expected, option=orjson.OPT_SORT_KEYS)
        assert await converged_profile(memory.url, person, want) == want
        served_bias = (await get(memory.url, f"/v1/persons/{person}/bias")).json()
        assert bias is not None and served_bias["focus"] == bias["focus"]
    events = [Event.from_json(r.value) for r in await read_topic(bus_url, TOPIC_LIFECYCLE)]
    ids: dict[tuple[str, int], set[str]] = {}
    for e in events:
        if e.event_type == "profile.consolidated":
            ids.setdefault((e.payload.person_id, e.payload.profile_version), set()).add(str(e.event_id))
    assert ids and all(len(v) == 1 for v in ids.values())
    for person in persons:
        versions = sorted(v for p, v in ids if p == person)
        assert versions == list(range(1, len(versions) + 1))
