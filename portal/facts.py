"""The campaign's facts (dates, help lines, figures), read from ``materials/facts.yaml``.

Pages, mails and documents print facts only from here, so a campaign update is a
one-line change in one file.
"""
from __future__ import annotations

from pathlib import Path

import yaml
from flask import current_app

_CACHE: dict[str, tuple[float, dict]] = {}


def load_facts(materials_path: str | Path) -> dict:
    """The parsed facts file, re-read only when it changes on disk."""
    path = Path(materials_path) / "facts.yaml"
    mtime = path.stat().st_mtime
    cached = _CACHE.get(str(path))
    if cached is None or cached[0] != mtime:
        with path.open(encoding="utf-8") as stream:
            cached = (mtime, yaml.safe_load(stream))
        _CACHE[str(path)] = cached
    return cached[1]


def facts() -> dict:
    """The facts of the running app."""
    return load_facts(current_app.config["MATERIALS_PATH"])


def localized(value, language: str):
    """Pick the ``fr``/``en`` entry of a bilingual fact; plain values pass through."""
    if isinstance(value, dict) and ("fr" in value or "en" in value):
        return value.get(language) or value.get("fr")
    return value
