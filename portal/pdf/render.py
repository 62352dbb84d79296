"""The one place that turns HTML into a PDF, and PDF pages into images.

Documents come from Jinja templates in ``materials/sources`` rendered in a sandboxed,
autoescaping environment with the facts file as context; WeasyPrint then renders them
with the restricted fetcher and one shared font configuration, as tagged PDF/UA.
"""
from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from pathlib import Path

import pypdfium2
from jinja2 import FileSystemLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment
from weasyprint import HTML
from weasyprint.text.fonts import FontConfiguration

from portal.pdf.fetcher import AssetFetcher

# fontTools warns about Lato's old 'created' timestamp on every render: noise, not news.
logging.getLogger("fontTools").setLevel(logging.ERROR)

_FONT_CONFIG: FontConfiguration | None = None
_ASSET_CACHE: dict[str, tuple[int, bytes]] = {}


def font_configuration() -> FontConfiguration:
    """One FontConfiguration per process: building one costs more than a small render."""
    global _FONT_CONFIG
    if _FONT_CONFIG is None:
        _FONT_CONFIG = FontConfiguration()
    return _FONT_CONFIG


@dataclass
class RenderedPDF:
    data: bytes
    pages: int
    refused_urls: list[str]
    fetched_urls: list[str]


def template_environment(sources_root: Path) -> SandboxedEnvironment:
    """Jinja for document sources: sandboxed, autoescaped, strict about missing names."""
    return SandboxedEnvironment(
        loader=FileSystemLoader(str(sources_root)),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_pdf(html: str, asset_root: Path, extra_assets: dict[str, bytes] | None = None,
               ) -> RenderedPDF:
    """Render HTML to a tagged PDF, fetching nothing but the portal's assets."""
    fetcher = AssetFetcher(asset_root, extra_assets, _ASSET_CACHE)
    document = HTML(string=html, base_url="asset:", url_fetcher=fetcher).render(
        font_config=font_configuration()
    )
    data = document.write_pdf(pdf_variant="pdf/ua-1")
    return RenderedPDF(data=data, pages=len(document.pages), refused_urls=fetcher.refused,
                       fetched_urls=[url for url, served in fetcher.log if served])


def rasterize(pdf: bytes, page_index: int = 0, width_px: int = 300) -> bytes:
    """A PNG of one PDF page at the given width (WeasyPrint has no image output)."""
    document = pypdfium2.PdfDocument(pdf)
    try:
        page = document[page_index]
        width_pt = page.get_width()
        bitmap = page.render(scale=width_px / width_pt)
        image = bitmap.to_pil()
        buffer = io.BytesIO()
        image.save(buffer, format="PNG", optimize=True)
        return buffer.getvalue()
    finally:
        document.close()
