"""Person-scoped API keys: the grant's `persons`, the principal, and the pure checks."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from lifeline_servicekit import ProblemError, require_person, require_unscoped, sees_person
from lifeline_servicekit.auth import Principal, principal_for
from lifeline_servicekit.settings import ApiKeyGrant, ServiceSettings

SCOPED = Principal("t", frozenset({"read", "admin"}), frozenset({"p-7"}))
UNSCOPED = Principal("t", frozenset({"read"}))


def test_a_grant_with_persons_gives_a_principal_limited_to_them() -> None:
    """`"persons"` in LIFELINE_API_KEYS reaches the principal; a grant without it sees everyone."""
    settings = ServiceSettings(api_keys='{"k1": {"tenant": "t", "persons": ["p-7", "p-8"]}, '
                                        '"k2": {"tenant": "t"}}')
    scoped = principal_for(settings.api_keys, "k1")
    assert scoped is not None and scoped.persons == frozenset({"p-7", "p-8"})
    unscoped = principal_for(settings.api_keys, "k2")
    assert unscoped is not None and unscoped.persons is None


@pytest.mark.parametrize("persons", [[], ["p 7"], ["x" * 129]])
def test_an_empty_or_malformed_persons_list_is_refused_at_start(persons: list[str]) -> None:
    """`[]` (a key that sees nothing) and ids outside the id pattern are configuration errors."""
    with pytest.raises(ValidationError):
        ApiKeyGrant(tenant="t", persons=persons)


def test_a_scoped_key_sees_its_persons_only_and_no_person_less_data() -> None:
    """In scope: its persons; out: any other and None. Unscoped keys see all, None included."""
    assert sees_person(SCOPED, "p-7") and not sees_person(SCOPED, "p-8") and not sees_person(SCOPED, None)
    assert sees_person(UNSCOPED, "p-8") and sees_person(UNSCOPED, None)


def test_another_persons_session_is_the_ordinary_404_and_tenant_wide_actions_a_403() -> None:
    """require_person raises the session's not-found (no hint it exists); require_unscoped 403s."""
    with pytest.raises(ProblemError) as missing:
        require_person(SCOPED, "p-8", "s-8")
    assert (missing.value.status, missing.value.title) == (404, "Session not found")
    require_person(SCOPED, "p-7", "s-7")
    require_person(UNSCOPED, None, "s-0")
    with pytest.raises(ProblemError) as refused:
        require_unscoped(SCOPED, "cleanup")
    assert refused.value.status == 403 and "p-7" in refused.value.detail
    require_unscoped(UNSCOPED, "cleanup")
