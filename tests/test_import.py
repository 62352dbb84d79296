"""``import-materials``: idempotent, versioned, with clear errors for a broken manifest."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from portal.catalog.importer import import_materials
from portal.catalog.manifest import ManifestError
from portal.extensions import db
from portal.models import Kit, Material, MaterialVersion
from portal.storage import get_storage


@pytest.fixture
def materials_copy(app, tmp_path) -> Path:
    """A private copy of materials/ that a test may edit."""
    target = tmp_path / "materials"
    shutil.copytree(app.config["MATERIALS_PATH"], target,
                    ignore=shutil.ignore_patterns("__pycache__"))
    return target


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_second_import_changes_nothing(app):
    before = (count(Kit), count(Material), count(MaterialVersion))
    report = import_materials(Path(app.config["MATERIALS_PATH"]), get_storage())
    assert not report.changed
    assert report.unchanged == count(Material)
    assert (count(Kit), count(Material), count(MaterialVersion)) == before


def test_import_cli_is_idempotent(runner):
    versions = count(MaterialVersion)
    result = runner.invoke(args=["import-materials"])
    assert result.exit_code == 0, result.output
    assert "0 new material version(s)" in result.output
    assert count(MaterialVersion) == versions


def test_changed_source_makes_a_new_version_and_keeps_the_old(app, materials_copy):
    flyer = db.session.scalars(select(Material).join(Kit).where(
        Kit.slug == "trousse-organismes", Material.slug == "depliant",
        Material.language == "en")).one()
    old = flyer.current_version
    manifest = yaml.safe_load((materials_copy / "manifest.yaml").read_text())
    source = next(m for m in manifest["kits"][0]["materials"] if m["slug"] == "depliant")
    path = materials_copy / "sources" / source["source"]["en"]
    original = path.read_text()
    path.write_text(original.replace("</main>", "<p>Printed in Québec.</p></main>", 1))
    assert path.read_text() != original

    report = import_materials(materials_copy, get_storage())
    assert report.new_versions == [f"trousse-organismes/depliant/en v{old.number + 1}"]
    db.session.refresh(flyer)
    assert flyer.current_version.number == old.number + 1
    assert flyer.current_version.checksum != old.checksum
    assert [v.number for v in flyer.versions] == [old.number, old.number + 1]
    # The old version's file stays downloadable by whoever keeps its figures.
    assert get_storage().exists(old.storage_key)
    # The French flyer did not change.
    french = db.session.scalars(select(Material).where(
        Material.kit_id == flyer.kit_id, Material.slug == "depliant",
        Material.language == "fr")).one()
    assert len(french.versions) == 1


def test_changed_kit_text_updates_the_kit_without_new_versions(app, materials_copy):
    manifest_path = materials_copy / "manifest.yaml"
    manifest = yaml.safe_load(manifest_path.read_text())
    manifest["kits"][1]["description"]["en"] = "A shorter description for the citizens' kit."
    manifest_path.write_text(yaml.safe_dump(manifest, allow_unicode=True, sort_keys=False))
    versions = count(MaterialVersion)
    report = import_materials(materials_copy, get_storage())
    assert report.kits_updated == [manifest["kits"][1]["slug"]]
    kit = db.session.scalars(select(Kit).where(Kit.slug == manifest["kits"][1]["slug"])).one()
    assert kit.description_en == "A shorter description for the citizens' kit."
    # The description is part of each material's context, so their sources changed too:
    # the count only grows for that kit's materials, never for the others.
    others = count(MaterialVersion) - versions
    assert others <= len(manifest["kits"][1]["materials"]) * 2


@pytest.mark.parametrize("mutate, message", [
    (lambda m: m["kits"][0].update(audience="tout-le-monde"), "audience"),
    (lambda m: m["kits"][0].update(slug="Trousse Organismes"), "slug"),
    (lambda m: m["kits"][0]["title"].pop("en"), "title"),
    (lambda m: m["kits"][0]["materials"][0].update(kind="tract"), "kind"),
    (lambda m: m["kits"][0]["materials"][0]["source"].update(fr="../../etc/passwd"), "no such file"),
    (lambda m: m["kits"][1].update(slug=m["kits"][0]["slug"]), "appears twice"),
    (lambda m: m.clear(), "kits"),
])
def test_broken_manifest_is_refused_with_a_clear_message(materials_copy, mutate, message):
    manifest_path = materials_copy / "manifest.yaml"
    manifest = yaml.safe_load(manifest_path.read_text())
    mutate(manifest)
    manifest_path.write_text(yaml.safe_dump(manifest, allow_unicode=True))
    versions = count(MaterialVersion)
    with pytest.raises(ManifestError, match=message):
        import_materials(materials_copy, get_storage())
    assert count(MaterialVersion) == versions


def test_import_cli_reports_a_broken_manifest(runner, materials_copy):
    (materials_copy / "manifest.yaml").write_text("kits: [")
    result = runner.invoke(args=["import-materials", "--path", str(materials_copy)])
    assert result.exit_code != 0
    assert "cannot read" in result.output
    assert "Traceback" not in result.output


def test_every_material_has_a_file_a_thumbnail_and_its_details():
    for material in db.session.scalars(select(Material)):
        version = material.current_version
        assert version is not None, material.slug
        storage = get_storage()
        data = storage.read_bytes(version.storage_key)
        assert len(data) == version.size_bytes
        assert storage.read_bytes(version.thumbnail_key)[:8] == b"\x89PNG\r\n\x1a\n"
        if material.format == "pdf":
            assert data[:5] == b"%PDF-" and version.pages >= 1
        else:
            assert data[:8] == b"\x89PNG\r\n\x1a\n"
            assert (version.width_px, version.height_px) == (1080, 1080)
        import hashlib

        assert hashlib.sha256(data).hexdigest() == version.checksum
