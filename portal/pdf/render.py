"""The one place that turns HTML into a PDF, and PDF pages into images.

Documents come from Jinja templates in ``materials/sources`` rendered in a sandboxed,
autoescaping environment with the facts file as context; WeasyPrint then renders them
with the restricted fetcher and one shared font configuration, as tagged PDF/UA.
"""
from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import pypdfium2
from jinja2 import FileSystemLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment
from weasyprint import CSS, HTML
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


_ENVIRONMENTS: dict[str, SandboxedEnvironment] = {}


def template_environment(sources_root: Path) -> SandboxedEnvironment:
    """Jinja for document sources: sandboxed, autoescaped, strict about missing names.

    One environment per sources folder and process, so compiled templates are reused;
    Jinja recompiles a template whose file changed.
    """
    key = str(sources_root)
    if key not in _ENVIRONMENTS:
        _ENVIRONMENTS[key] = _new_environment(sources_root)
    return _ENVIRONMENTS[key]


def _new_environment(sources_root: Path) -> SandboxedEnvironment:
    return SandboxedEnvironment(
        loader=FileSystemLoader(str(sources_root)),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


# The portal's own stylesheet links, exactly as the sources write them.
STYLESHEET_LINK = re.compile(r'<link rel="stylesheet" href="asset:([A-Za-z0-9_./-]+\.css)">')
_STYLESHEETS: dict[str, tuple[int, CSS]] = {}


def _stylesheet(asset_root: Path, name: str, fetcher: AssetFetcher) -> CSS:
    """A parsed asset stylesheet, kept while its file is unchanged.

    Parsing a stylesheet and registering its @font-face fonts costs more than laying out
    a poster; done once per process, every later render skips it (same output).
    """
    path = (asset_root / name).resolve()
    if not path.is_relative_to(asset_root.resolve()) or not path.is_file():
        raise FileNotFoundError(name)
    mtime = path.stat().st_mtime_ns
    cached = _STYLESHEETS.get(str(path))
    if cached is None or cached[0] != mtime:
        sheet = CSS(string=path.read_text(encoding="utf-8"), base_url="asset:",
                    url_fetcher=fetcher, font_config=font_configuration())
        cached = (mtime, sheet)
        _STYLESHEETS[str(path)] = cached
    return cached[1]


def render_pdf(html: str, asset_root: Path, extra_assets: dict[str, bytes] | None = None,
               ) -> RenderedPDF:
    """Render HTML to a tagged PDF, fetching nothing but the portal's assets.

    The document's links to the portal's stylesheets are replaced by their cached, parsed
    versions (in the same order); everything else goes through the restricted fetcher.
    """
    fetcher = AssetFetcher(asset_root, extra_assets, _ASSET_CACHE)
    names = STYLESHEET_LINK.findall(html)
    stylesheets = []
    for name in names:
        try:
            stylesheets.append(_stylesheet(asset_root, name, fetcher))
            fetcher.log.append((f"asset:{name}", True))
        except FileNotFoundError:
            fetcher.log.append((f"asset:{name}", False))
    document = HTML(string=STYLESHEET_LINK.sub("", html), base_url="asset:",
                    url_fetcher=fetcher).render(stylesheets=stylesheets,
                                                font_config=font_configuration())
    data = document.write_pdf(pdf_variant="pdf/ua-1")
    return RenderedPDF(data=data, pages=len(document.pages), refused_urls=fetcher.refused,
                       fetched_urls=[url for url, served in fetcher.log if served])


# A page image never has more pixels than the largest picture the portal accepts (64 MB
# in memory): a very tall page (10 x 14,400 pt) drawn at a thumbnail's width would
# otherwise need gigabytes. Previews and thumbnails need far less.
MAX_RASTER_PIXELS = 16_000_000


def rasterize(pdf: bytes, page_index: int = 0, width_px: int = 300) -> bytes:
    """A PNG of one PDF page at the given width (WeasyPrint has no image output), drawn
    smaller when that width would make more than ``MAX_RASTER_PIXELS`` pixels."""
    document = pypdfium2.PdfDocument(pdf)
    try:
        page = document[page_index]
        width_pt, height_pt = page.get_size()
        scale = width_px / width_pt
        if (width_pt * scale) * (height_pt * scale) > MAX_RASTER_PIXELS:
            # pdfium rounds each side up: a little under the cap stays under it.
            scale = (MAX_RASTER_PIXELS / (width_pt * height_pt)) ** 0.5 * 0.99
        bitmap = page.render(scale=scale)
        image = bitmap.to_pil()
        buffer = io.BytesIO()
        image.save(buffer, format="PNG", optimize=True)
        return buffer.getvalue()
    finally:
        document.close()
