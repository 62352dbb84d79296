"""Files staff upload as a material's new version: hostile until proven to be one.

A PDF must be a real, unencrypted PDF of at most 20 MB and 40 pages, with pages between
1 and 100 inches a side (checked before any page is drawn), no active content
(JavaScript, automatic or additional actions, launch actions, embedded files: a kit's
reader opens it, and nothing in it may run), and every page drawable; a PNG material
takes a real PNG (checked and re-encoded as logos are, without its metadata). The file
is opened, drawn and read only in the ``files`` work process (``portal.pdf.worker``),
within its time and memory limits. Either way the file's text is checked like an
imported one: a help-line number that is not the facts' is refused; so is a PDF plainly
in the other language than the material's (a bilingual one is accepted).
"""
from __future__ import annotations

from flask import current_app
from flask_babel import lazy_gettext as _l

from portal.catalog.content_checks import apparent_language
from portal.catalog.material_files import RenderedMaterial
from portal.images import ImageRejected, checked_png
from portal.pdf.inspect import MAX_PAGES  # noqa: F401 (the sources' limit too)
from portal.pdf.worker import Refused, RenderFailed, RenderTimeout, RenderTooLarge, run_job

MAX_PDF_BYTES = 20 * 1024 * 1024
REASONS = {
    "unreadable": _l("This PDF cannot be read (damaged or protected by a password)."),
    "no_pages": _l("This PDF has no pages."),
    "pages": _l("The PDF has more than 40 pages."),
    "page_size": _l("A page of this PDF is smaller than 1 inch or larger than 100 inches "
                    "on a side. Export it at the size it prints."),
    "active": _l("This PDF holds active content (%(what)s). A kit's PDF may not run "
                 "anything: export it again without scripts, actions or attached files."),
    "timeout": _l("The PDF took too long to check and was stopped. Nothing was saved: "
                  "simplify it or try again in a few minutes."),
    "memory": _l("The PDF needs more memory to check than the portal gives one upload. "
                 "Nothing was saved: simplify it or export it at a smaller page size."),
    "failed": _l("The PDF could not be checked right now. Nothing was saved: try again in "
                 "a few minutes."),
}
STATUS = {"timeout": 503, "failed": 503, "memory": 413}


class UploadRejected(ValueError):
    """Not a file the portal accepts as this material; the message says why, translated;
    ``status`` is the page's HTTP status (503 or 413 when a limit of the portal stopped
    the check, 400 otherwise)."""

    def __init__(self, message, status: int = 400):
        super().__init__(message)
        self.status = status


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
        pages, thumbnail, text = run_job("pdf_upload", data,
                                         timeout=current_app.config["PDF_RENDER_TIMEOUT"])
    except Refused as exc:
        raise UploadRejected(REASONS[exc.kind] % {"what": exc.message}
                             if exc.kind == "active" else REASONS[exc.kind]) from None
    except RenderTimeout:
        raise UploadRejected(REASONS["timeout"], STATUS["timeout"]) from None
    except RenderTooLarge:
        raise UploadRejected(REASONS["memory"], STATUS["memory"]) from None
    except RenderFailed:
        raise UploadRejected(REASONS["failed"], STATUS["failed"]) from None
    return RenderedMaterial(data, thumbnail, pages, None, None, text)


def _checked_png(data: bytes) -> RenderedMaterial:
    try:
        processed = checked_png(data)
    except ImageRejected as exc:
        raise UploadRejected(str(exc), exc.status) from exc
    return RenderedMaterial(processed.png, processed.thumbnail, None, processed.width,
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
