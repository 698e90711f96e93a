"""The whole pipeline as pure functions: events → observations → digest → profile.

The projection runs the same ``absorb`` step per bus batch that ``digest_of_log`` runs
over a whole log, so the served profile and this oracle can only differ if the
projection loses or repeats an event — which is what the tests check.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from lifeline_events import Event

from .digest import Suppression, seal
from .observe import Observation, observe
from .policy import Policy
from .profile import build_profile
from .rules import ComplianceRule
from .scalars import SessionScalars, advance


def absorb(
    scalars: SessionScalars, events: Iterable[Event], rules: tuple[ComplianceRule, ...]
) -> tuple[SessionScalars, list[Observation]]:
    """Advance ``scalars`` over the fresh events (seq order, at-or-below skipped) and return
    their observations; a malformed act cannot reach here (events are validated)."""
    found: list[Observation] = []
    for event in sorted(events, key=lambda e: e.seq):
        if event.seq <= scalars.seq:
            continue
        found += observe(event, scalars.current_intent, rules)
        scalars = advance(scalars, event)
    return scalars, found


def digest_of_log(
    session_id: str, events: Iterable[Event], policy: Policy, suppressions: Sequence[Suppression] = ()
) -> dict[str, Any]:
    """The digest a session's whole log implies."""
    scalars, observations = absorb(SessionScalars(), events, policy.rules)
    return seal(session_id, observations, scalars, suppressions=suppressions, rules_hash=policy.rules_hash)


def profile_of_logs(
    tenant_id: str,
    person_id: str,
    logs: Mapping[str, Iterable[Event]],
    policy: Policy,
    *,
    finished_only: bool = True,
    suppressions: Sequence[Suppression] = (),
) -> dict[str, Any] | None:
    """The profile that the person's sessions' logs imply (the tests' oracle)."""
    digests = []
    for session_id, events in sorted(logs.items()):
        d = digest_of_log(session_id, list(events), policy, suppressions)
        if d["person_id"] != person_id or (finished_only and d["status"] != "finished"):
            continue
        digests.append(d)
    return build_profile(tenant_id, person_id, digests, policy)
