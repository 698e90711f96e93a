"""What governance's routes need, as one typed object (built by `app.py`'s lifespan)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import asyncpg
from fastapi import Depends

from lifeline_bus import Bus
from lifeline_governance.announcer import Announcer
from lifeline_governance.job import LifecycleJob
from lifeline_governance.routing import RoutingTable
from lifeline_governance.rules import Rules
from lifeline_governance.settings import GovernanceSettings
from lifeline_servicekit import deps_of


@dataclass
class GovernanceDeps:
    settings: GovernanceSettings
    rules: Rules
    pool: asyncpg.Pool
    bus: Bus
    routing: RoutingTable
    job: LifecycleJob
    announcer: Announcer

    @property
    def weights(self) -> dict[str, float]:
        return dict(self.settings.governance_intent_weights)


Deps = Annotated[GovernanceDeps, Depends(deps_of(GovernanceDeps))]
