"""Turning a material's source into its file and thumbnail.

A source is a Jinja template of ``materials/sources`` rendered with the facts; PDFs
come from WeasyPrint, PNGs are its first page rasterized at the manifest's pixel size.
"""
from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path

from jinja2 import meta
from PIL import Image

from portal.catalog.content_checks import html_text, pdf_text
from portal.pdf.render import rasterize, render_pdf, template_environment

# Bump when rendering changes in a way that should make new versions of everything.
RENDERER_VERSION = "1"
THUMBNAIL_WIDTH = 360


class ContentError(ValueError):
    """A rendered material must not go out: the message says why."""


@dataclass
class RenderedMaterial:
    data: bytes
    thumbnail: bytes
    pages: int | None
    width_px: int | None
    height_px: int | None
    text: str  # what a reader gets: the PDF's text, or the source text of an image


class MaterialRenderer:
    """Renders materials of one ``materials/`` folder, with fingerprints of their sources."""

    def __init__(self, materials_path: Path, facts: dict):
        self.materials_path = materials_path
        self.sources_root = materials_path / "sources"
        self.asset_root = materials_path / "assets"
        self.facts = facts
        self.env = template_environment(self.sources_root)
        self._assets_digest: str | None = None

    def _template_closure(self, name: str, seen: set[str] | None = None) -> set[str]:
        """The template and every template it includes, extends or imports."""
        seen = seen if seen is not None else set()
        if name in seen:
            return seen
        seen.add(name)
        source = self.env.loader.get_source(self.env, name)[0]
        for ref in meta.find_referenced_templates(self.env.parse(source)):
            if ref:
                self._template_closure(ref, seen)
        return seen

    def _assets_fingerprint(self) -> str:
        if self._assets_digest is None:
            digest = hashlib.sha256()
            for path in sorted(self.asset_root.rglob("*")):
                if path.is_file():
                    digest.update(str(path.relative_to(self.asset_root)).encode())
                    digest.update(hashlib.sha256(path.read_bytes()).digest())
            self._assets_digest = digest.hexdigest()
        return self._assets_digest

    def fingerprint(self, kit: dict, material: dict, language: str) -> str:
        """A digest of everything the output depends on: same digest, same document."""
        digest = hashlib.sha256(RENDERER_VERSION.encode())
        for name in sorted(self._template_closure(material["source"][language])):
            digest.update(name.encode())
            digest.update(self.env.loader.get_source(self.env, name)[0].encode())
        digest.update(self._assets_fingerprint().encode())
        digest.update(json.dumps(self.facts, sort_keys=True, default=str).encode())
        entry = {k: v for k, v in kit.items() if k != "materials"}
        # Print limits change what may be ordered, not the document.
        material = {k: v for k, v in material.items() if k != "print"}
        digest.update(json.dumps([entry, material, language], sort_keys=True, default=str).encode())
        return digest.hexdigest()

    def html(self, kit: dict, material: dict, language: str, **extra) -> str:
        template = self.env.get_template(material["source"][language])
        # Personalized documents fill these; the kit's own version leaves them empty.
        context = {"person": None, "org": None, "qr_src": None, "qr_url": None, **extra}
        return template.render(facts=self.facts, lang=language, kit=kit, material=material,
                               year=kit["campaign_year"], **context)

    def render(self, kit: dict, material: dict, language: str) -> RenderedMaterial:
        html = self.html(kit, material, language)
        pdf = render_pdf(html, self.asset_root)
        if pdf.refused_urls:
            raise ContentError(f"{material['source'][language]} asks for {pdf.refused_urls[:3]}")
        return material_files(pdf.data, pdf.pages, html, material["format"],
                              material.get("width"), material.get("height"))


def material_files(pdf: bytes, pages: int, html: str, fmt: str, width: int | None,
                   height: int | None) -> RenderedMaterial:
    """A rendered material's file and thumbnail: the PDF, or its first page as a PNG of
    ``width`` x ``height`` pixels."""
    if fmt == "pdf":
        return RenderedMaterial(pdf, rasterize(pdf, 0, THUMBNAIL_WIDTH), pages, None, None,
                                pdf_text(pdf))
    png = rasterize(pdf, 0, width)
    image = Image.open(io.BytesIO(png))
    if image.size != (width, height):
        image = image.resize((width, height), Image.LANCZOS)
        buffer = io.BytesIO()
        image.save(buffer, format="PNG", optimize=True)
        png = buffer.getvalue()
    return RenderedMaterial(png, thumbnail_of(image), None, image.width, image.height,
                            html_text(html))


def thumbnail_of(image: Image.Image) -> bytes:
    thumb = image.copy()
    thumb.thumbnail((THUMBNAIL_WIDTH, THUMBNAIL_WIDTH))
    buffer = io.BytesIO()
    thumb.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
