"""Robot detection with the COUNTER Robots list, as the ``counter-robots`` package ships
and keeps it current (its robots and its machines: scripts and link checkers alike are
recorded, flagged and not counted, as COUNTER Release 5 asks)."""
from __future__ import annotations

from functools import lru_cache

import counter_robots


@lru_cache(maxsize=4096)
def is_robot(user_agent: str | None) -> bool:
    """True when the user agent is on the COUNTER lists (an empty agent is a robot too)."""
    if not user_agent:
        return True
    return counter_robots.is_robot_or_machine(user_agent)
