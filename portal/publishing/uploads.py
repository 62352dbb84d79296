"""Files staff upload as a material's new version: hostile until proven to be one.

A PDF must be a real, unencrypted PDF of at most 20 MB and 40 pages whose every page
can be drawn; a PNG material takes a real PNG (checked and re-encoded as logos are,
without its metadata). Either way the file's text is checked like an imported one: a
help-line number that is not the facts' is refused; so is a PDF plainly in the other
language than the material's (a bilingual one is accepted).
"""
from __future__ import annotations

import io

import pypdfium2
from flask_babel import lazy_gettext as _l
from PIL import Image

from portal.catalog.content_checks import apparent_language, pdf_text
from portal.catalog.material_files import RenderedMaterial, thumbnail_of
from portal.images import ImageRejected, open_upload, shrink_to
from portal.pdf.render import rasterize

MAX_PDF_BYTES = 20 * 1024 * 1024
MAX_PAGES = 40


class UploadRejected(ValueError):
    """Not a file the portal accepts as this material; the message says why, translated."""


def checked_upload(data: bytes, fmt: str) -> RenderedMaterial:
    """The uploaded file as a material version's files, or ``UploadRejected``."""
    if not data:
        raise UploadRejected(_l("The file is empty."))
    if fmt == "pdf":
        return _checked_pdf(data)
    return _checked_png(data)


def _checked_pdf(data: bytes) -> RenderedMaterial:
    if len(data) > MAX_PDF_BYTES:
        raise UploadRejected(_l("The PDF is larger than 20 MB."))
    if not data.startswith(b"%PDF-"):
        raise UploadRejected(_l("This file is not a PDF."))
    try:
        document = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError as exc:
        # pdfium says "password" for encrypted files: both are refused the same way.
        raise UploadRejected(_l("This PDF cannot be read (damaged or protected by a "
                                "password).")) from exc
    try:
        pages = len(document)
        if pages == 0:
            raise UploadRejected(_l("This PDF has no pages."))
        if pages > MAX_PAGES:
            raise UploadRejected(_l("The PDF has more than 40 pages."))
        for index in range(pages):  # a page that cannot be drawn fails here, not later
            document[index].render(scale=0.05)
    except pypdfium2.PdfiumError as exc:
        raise UploadRejected(_l("This PDF cannot be read (damaged or protected by a "
                                "password).")) from exc
    finally:
        document.close()
    return RenderedMaterial(data, rasterize(data, 0, 360), pages, None, None, pdf_text(data))


def _checked_png(data: bytes) -> RenderedMaterial:
    try:
        image = open_upload(data)
    except ImageRejected as exc:
        raise UploadRejected(str(exc)) from exc
    if Image.open(io.BytesIO(data)).format != "PNG":
        raise UploadRejected(_l("This material is a PNG image: upload a PNG file."))
    processed = shrink_to(image, image.width, image.height)  # re-encoded, no metadata
    return RenderedMaterial(processed.png, thumbnail_of(image), None, processed.width,
                            processed.height, "")


def language_problem(text: str, language: str) -> str | None:
    """Why a PDF's text does not fit the material's language, or ``None``."""
    found = apparent_language(text)
    if found is None or found == language:
        return None
    if found == "en":
        return str(_l("This file seems to be in English, but this is the French version of "
                      "the material. Upload it as the English version."))
    return str(_l("This file seems to be in French, but this is the English version of "
                  "the material. Upload it as the French version."))
