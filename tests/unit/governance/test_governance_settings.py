"""Thresholds are validated at start-up with the setting named; the rules hash changes with them."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from lifeline_governance.settings import GovernanceSettings


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"LIFELINE_GOVERNANCE_HOLD_MARGIN": "1.2"}, "LIFELINE_GOVERNANCE_HOLD_MARGIN"),
        ({"LIFELINE_GOVERNANCE_WINDOW_S": "90"}, "LIFELINE_GOVERNANCE_WINDOW_S"),
        ({"LIFELINE_GOVERNANCE_QUARANTINE_SUCCESS_RATE": "1.5"}, "governance_quarantine_success_rate"),
        ({"LIFELINE_GOVERNANCE_INTENT_WEIGHTS": '{"pricing": 0}'}, "LIFELINE_GOVERNANCE_INTENT_WEIGHTS"),
        ({"LIFELINE_GOVERNANCE_PROMOTE_SR_STATISTIC": "median"}, "governance_promote_sr_statistic"),
    ],
)
def test_a_value_out_of_range_names_the_setting(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], named: str
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ValidationError) as info:
        GovernanceSettings()
    assert named in str(info.value)


def test_the_rules_and_their_hash_follow_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    default = GovernanceSettings().rules()
    monkeypatch.setenv("LIFELINE_GOVERNANCE_SUSTAIN_EVALUATIONS", "7")
    changed = GovernanceSettings().rules()
    assert changed.sustain_evaluations == 7 and default.sustain_evaluations == 5
    assert changed.settings_hash != default.settings_hash
    assert GovernanceSettings().rules().settings_hash == changed.settings_hash
