"""Checking a PDF staff upload, in the ``files`` work process (``portal.pdf.worker``).

The file is hostile until proven to be a kit's PDF: no active content (``portal.pdf.
active``), readable by pdfium without a password, 1 to 40 pages, every page between 1
and 100 inches a side — checked before any page is drawn, since drawing a 10 x 14,400 pt
page at a thumbnail's width is what takes gigabytes — and every page drawable. This
module imports nothing of the web app, so the work process stays small.
"""
from __future__ import annotations

import pypdfium2

from portal.pdf.active import active_content
from portal.pdf.render import rasterize
from portal.pdf.worker import Refused

MAX_PAGES = 40
MIN_PAGE_PT, MAX_PAGE_PT = 72, 7200  # 1 inch, 100 inches
THUMBNAIL_WIDTH = 360


def inspect_pdf(data: bytes) -> tuple[int, bytes, str]:
    """The ``pdf_upload`` job: (pages, thumbnail PNG, text), or ``Refused`` with a reason
    of ``portal.publishing.uploads.REASONS``."""
    found = active_content(data)
    if found:
        raise Refused("active", None, ", ".join(found))
    try:
        document = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError:
        # pdfium says "password" for encrypted files: both are refused the same way.
        raise Refused("unreadable") from None
    try:
        pages = len(document)
        if pages == 0:
            raise Refused("no_pages")
        if pages > MAX_PAGES:
            raise Refused("pages")
        for index in range(pages):  # sizes first: drawing a huge page is the attack
            if not all(MIN_PAGE_PT <= side <= MAX_PAGE_PT
                       for side in document[index].get_size()):
                raise Refused("page_size")
        texts = []
        for index in range(pages):  # a page that cannot be drawn fails here, not later
            page = document[index]
            page.render(scale=0.05)
            texts.append(page.get_textpage().get_text_range())
    except pypdfium2.PdfiumError:
        raise Refused("unreadable") from None
    finally:
        document.close()
    # The same text as portal.catalog.content_checks.pdf_text gives.
    return pages, rasterize(data, 0, THUMBNAIL_WIDTH), "\n".join(texts)
