"""The state each session was last folded to, kept in memory between bus batches.

A projection that folds sessions (replay, snapshot, trace-store) would otherwise read
each session's stored state and validate it again at the start of every batch; under
single-event traffic that is per event. A kept state is used only for a run that
follows it directly: the engine hands `apply` each session's run from the locked
checkpoint on, so a kept state at exactly `first seq - 1` is the state the checkpoint
stands for. That holds even for a state kept by a transaction that rolled back: it is
used only once the checkpoint is at its seq again, i.e. once the same events up to that
seq are committed, whose fold is the same state (the fold is deterministic). A state
behind the checkpoint (another replica applied the batches since) is not used.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence

from lifeline_events import Event, SessionState
from lifeline_projection.batch import SessionKey


class KeptStates:
    """Up to `capacity` sessions' latest folded states, least recently kept out first."""

    def __init__(self, capacity: int) -> None:
        self._states: OrderedDict[SessionKey, SessionState] = OrderedDict()
        self._capacity = capacity

    def following(self, by_session: Mapping[SessionKey, Sequence[Event]]) -> dict[SessionKey, SessionState]:
        """The kept states of the sessions whose run starts right after them."""
        found = {}
        for key, events in by_session.items():
            kept = self._states.get(key)
            if kept is not None and events and kept.seq == events[0].seq - 1:
                found[key] = kept
        return found

    def keep(self, key: SessionKey, state: SessionState | None) -> None:
        """Remember `state` as the session's latest (None: forget the session)."""
        self._states.pop(key, None)
        if state is None or self._capacity <= 0:
            return
        self._states[key] = state
        if len(self._states) > self._capacity:
            self._states.popitem(last=False)
