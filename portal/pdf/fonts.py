"""Which characters the shipped fonts can draw, so personalized text is never printed as
empty boxes: a character no shipped font covers is refused with a clear message."""
from __future__ import annotations

import unicodedata
from functools import lru_cache
from pathlib import Path

from fontTools.ttLib import TTFont


@lru_cache(maxsize=4)
def covered_codepoints(fonts_folder: str) -> frozenset[int]:
    codepoints: set[int] = set()
    for path in sorted(Path(fonts_folder).glob("*.ttf")):
        font = TTFont(str(path), lazy=True)
        try:
            codepoints.update(font.getBestCmap() or {})
        finally:
            font.close()
    return frozenset(codepoints)


def unprintable_characters(text: str, fonts_folder: str | Path) -> list[str]:
    """Characters of ``text`` that no shipped font draws (spaces and joiners aside)."""
    covered = covered_codepoints(str(fonts_folder))
    missing = []
    for char in text:
        if char.isspace() or unicodedata.category(char) in ("Cf", "Mn"):
            continue
        if ord(char) not in covered and char not in missing:
            missing.append(char)
    return missing
