"""Robot detection with the COUNTER Robots list shipped beside this module."""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

ROBOTS_FILE = Path(__file__).with_name("counter_robots.txt")


@lru_cache(maxsize=1)
def _robots_pattern() -> re.Pattern:
    patterns = [
        line.strip()
        for line in ROBOTS_FILE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)


@lru_cache(maxsize=4096)
def is_robot(user_agent: str | None) -> bool:
    """True when the user agent is on the COUNTER list (an empty agent is a robot too)."""
    return bool(_robots_pattern().search(user_agent or ""))
