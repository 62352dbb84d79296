"""Reading and validating ``materials/manifest.yaml``: the kits and their sources."""
from __future__ import annotations

import re
from pathlib import Path

import yaml

from portal.reference import ACCOUNT_KINDS, MATERIAL_FORMATS, MATERIAL_KINDS

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
LANGS = ("fr", "en")


class ManifestError(ValueError):
    """The manifest is malformed; the message says where."""


def _bilingual(value, where: str, max_length: int) -> dict:
    if not isinstance(value, dict) or set(value) != set(LANGS):
        raise ManifestError(f"{where}: needs exactly a 'fr' and an 'en' text")
    for lang in LANGS:
        text = value[lang]
        if not isinstance(text, str) or not text.strip() or len(text) > max_length:
            raise ManifestError(f"{where}.{lang}: needs a text of 1 to {max_length} characters")
    return value


def _material(entry, where: str, sources_root: Path) -> dict:
    if not isinstance(entry, dict):
        raise ManifestError(f"{where}: must be a mapping")
    if not SLUG.match(str(entry.get("slug", ""))):
        raise ManifestError(f"{where}.slug: lowercase letters, digits and hyphens only")
    if entry.get("kind") not in MATERIAL_KINDS:
        raise ManifestError(f"{where}.kind: one of {', '.join(MATERIAL_KINDS)}")
    if entry.get("format") not in MATERIAL_FORMATS:
        raise ManifestError(f"{where}.format: one of {', '.join(MATERIAL_FORMATS)}")
    if entry["format"] == "png":
        for dim in ("width", "height"):
            if not isinstance(entry.get(dim), int) or not 16 <= entry[dim] <= 6000:
                raise ManifestError(f"{where}.{dim}: a PNG needs a pixel size from 16 to 6000")
    _bilingual(entry.get("title"), f"{where}.title", 200)
    printed = entry.get("print")
    if printed is not None:
        # Printed copies organizations may order: {max_per_order: N, max_per_campaign: M}.
        if not isinstance(printed, dict) or set(printed) != {"max_per_order", "max_per_campaign"}:
            raise ManifestError(f"{where}.print: needs max_per_order and max_per_campaign")
        per_order, per_campaign = printed["max_per_order"], printed["max_per_campaign"]
        if not all(isinstance(v, int) and 1 <= v <= 100000 for v in (per_order, per_campaign)) \
                or per_order > per_campaign:
            raise ManifestError(f"{where}.print: whole numbers from 1 to 100000, "
                                "max_per_order no larger than max_per_campaign")
    sources = entry.get("source")
    if not isinstance(sources, dict) or set(sources) != set(LANGS):
        raise ManifestError(f"{where}.source: needs a 'fr' and an 'en' source file")
    for lang, name in sources.items():
        path = (sources_root / str(name)).resolve()
        if not path.is_relative_to(sources_root.resolve()) or not path.is_file():
            raise ManifestError(f"{where}.source.{lang}: no such file {name!r} in sources/")
    return entry


_CACHE: dict[str, tuple[int, list[dict]]] = {}


def load_manifest(materials_path: Path) -> list[dict]:
    """The validated list of kits of the manifest (parsed again only when it changes)."""
    path = Path(materials_path) / "manifest.yaml"
    try:
        mtime = path.stat().st_mtime_ns
    except OSError as exc:
        raise ManifestError(f"cannot read {path}: {exc}") from exc
    cached = _CACHE.get(str(path))
    if cached is not None and cached[0] == mtime:
        return cached[1]
    kits = _read_manifest(path, Path(materials_path))
    _CACHE[str(path)] = (mtime, kits)
    return kits


def _read_manifest(path: Path, materials_path: Path) -> list[dict]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ManifestError(f"cannot read {path}: {exc}") from exc
    kits = data.get("kits") if isinstance(data, dict) else None
    if not isinstance(kits, list) or not kits:
        raise ManifestError("manifest: needs a non-empty 'kits' list")
    sources_root = materials_path / "sources"
    seen = set()
    for i, kit in enumerate(kits):
        where = f"kits[{i}]"
        if not isinstance(kit, dict) or not SLUG.match(str(kit.get("slug", ""))):
            raise ManifestError(f"{where}.slug: lowercase letters, digits and hyphens only")
        if kit["slug"] in seen:
            raise ManifestError(f"{where}.slug: {kit['slug']!r} appears twice")
        seen.add(kit["slug"])
        audience = kit.get("audience")
        # The account kinds that may download the kit (staff always may).
        if not isinstance(audience, list) or not audience or \
                not all(kind in ACCOUNT_KINDS for kind in audience):
            raise ManifestError(f"{where}.audience: a list of account kinds among "
                                f"{', '.join(ACCOUNT_KINDS)}")
        if not isinstance(kit.get("campaign_year"), int) or not 2000 <= kit["campaign_year"] <= 2100:
            raise ManifestError(f"{where}.campaign_year: a year such as 2027")
        _bilingual(kit.get("title"), f"{where}.title", 200)
        _bilingual(kit.get("description"), f"{where}.description", 2000)
        materials = kit.get("materials")
        if not isinstance(materials, list) or not materials:
            raise ManifestError(f"{where}.materials: needs at least one material")
        slugs = [m.get("slug") for m in materials if isinstance(m, dict)]
        if len(slugs) != len(set(slugs)):
            raise ManifestError(f"{where}.materials: a slug appears twice")
        for j, material in enumerate(materials):
            _material(material, f"{where}.materials[{j}]", sources_root)
    return kits
