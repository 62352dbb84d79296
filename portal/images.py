"""Uploaded images (logos, profile photos, PNG materials): hostile until proven to be a
real picture.

An upload must be a PNG or a JPEG (by its content, not its name), at most 5 MB, and
declare in its header at most 6000 pixels a side and 16 megapixels (a tabloid poster at
300 dpi, a 12-megapixel phone photo; a logo prints at 480 x 285): that is checked before
a single pixel is decoded. Decoding runs in the ``files`` work process
(``portal.pdf.worker``), within its time and memory limits, so no web process ever holds a
decoded picture; a JPEG is decoded at the reduced size its use needs (``Image.draft``).
The picture is then re-encoded (dropping metadata and anything hidden after the image
data) at the size it is used at.
"""
from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

MAX_BYTES = 5 * 1024 * 1024
MAX_SIDE = 6000
MAX_PIXELS = 16_000_000
ALLOWED_FORMATS = {"PNG", "JPEG"}
LOGO_BOX = (480, 285)  # 1.6 x 0.95 inch at 300 dpi
THUMBNAIL_WIDTH = 360
# Pillow refuses (DecompressionBombError) what decodes to more than twice this, in any
# process; uploads are held to MAX_PIXELS by their header before that.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

REASONS = {
    "empty": _l("The file is empty."),
    "bytes": _l("The image is larger than 5 MB."),
    "format": _l("Only PNG and JPEG images are accepted."),
    "pixels": _l("The image is larger than 6000 pixels a side or 16 megapixels "
                 "(4000 × 4000): printing needs less. Export it smaller."),
    "invalid": _l("This file is not a valid PNG or JPEG image."),
    "not_png": _l("This material is a PNG image: upload a PNG file."),
    "timeout": _l("The image took too long to process and was stopped. Nothing was saved: "
                  "try again with a smaller image."),
    "memory": _l("The image needs more memory than the portal gives one upload. Nothing "
                 "was saved: export it smaller."),
    "failed": _l("The image could not be processed right now. Nothing was saved: try again "
                 "in a few minutes."),
}
# The HTTP status of a page that refuses an upload, by reason: 400 unless a limit of the
# portal's own (time, memory) stopped the work.
STATUS = {"timeout": 503, "failed": 503, "memory": 413}


class ImageRejected(ValueError):
    """The upload is not an image the portal accepts; ``str()`` says why, translated."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:
        return str(REASONS[self.reason])

    @property
    def status(self) -> int:
        return STATUS.get(self.reason, 400)


@dataclass
class ProcessedImage:
    png: bytes
    width: int
    height: int
    thumbnail: bytes | None = None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.png).hexdigest()


# --- In the web process: ask the work process -------------------------------------------

def _in_work_process(data: bytes, purpose: str):
    from flask import current_app

    from portal.pdf.worker import Refused, RenderFailed, RenderTimeout, RenderTooLarge, run_job

    reason = header_problem(data)  # cheap refusals (the header only) need no other process
    if reason is not None:
        raise ImageRejected(reason)
    try:
        return run_job("image", data, purpose, timeout=current_app.config["IMAGE_TIMEOUT"])
    except Refused as exc:
        raise ImageRejected(exc.kind) from None
    except RenderTimeout:
        raise ImageRejected("timeout") from None
    except RenderTooLarge:
        raise ImageRejected("memory") from None
    except RenderFailed:
        raise ImageRejected("failed") from None


def process_logo(data: bytes) -> ProcessedImage:
    """A logo at its printed size: at most 1.6 x 0.95 inch at 300 dpi, as PNG."""
    return _in_work_process(data, "logo")


def square_photo(data: bytes, side: int) -> Image.Image:
    """The photo's centre square at ``side`` x ``side`` pixels (RGB), for the frame."""
    raw = _in_work_process(data, f"square:{side}")
    return Image.frombytes("RGB", (side, side), raw)


def checked_png(data: bytes) -> ProcessedImage:
    """A PNG material: the same pixels re-encoded without metadata, and its thumbnail."""
    return _in_work_process(data, "material")


def header_problem(data: bytes) -> str | None:
    """Why the upload is refused by its size, format or declared dimensions (read from
    its header, nothing decoded), or ``None``."""
    if not data:
        return "empty"
    if len(data) > MAX_BYTES:
        return "bytes"
    try:
        image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:
        return "pixels"
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        return "invalid"
    if image.format not in ALLOWED_FORMATS:
        return "format"
    width, height = image.size
    if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
        return "pixels"
    return None


# --- In the work process: decode ----------------------------------------------------------

def open_upload(data: bytes, reduce_to: tuple[int, int] | None = None) -> Image.Image:
    """Check the header, then decode (a JPEG at no less than ``reduce_to`` when given);
    raise ``Refused`` with the reason otherwise."""
    from portal.pdf.worker import Refused

    # WeasyPrint's import turns this on for the whole process; uploads must decode fully.
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    reason = header_problem(data)  # again: this process trusts no caller
    if reason is not None:
        raise Refused(reason)
    try:
        image = Image.open(io.BytesIO(data))
        if reduce_to is not None and image.format == "JPEG":
            image.draft("RGB", reduce_to)  # decode at 1/2, 1/4 or 1/8 scale when enough
        image.load()  # decodes everything: a truncated or corrupt file fails here
    except Image.DecompressionBombError:
        raise Refused("pixels") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        raise Refused("invalid") from None
    # Apply the camera's orientation, then forget the metadata.
    return ImageOps.exif_transpose(image)


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False, compress_level=6)
    return buffer.getvalue()


def shrink_to(image: Image.Image, max_width: int, max_height: int) -> ProcessedImage:
    """Re-encode as PNG no larger than the box, keeping proportions and transparency."""
    image = image.convert("RGBA") if image.mode in ("P", "LA", "PA", "RGBA") or \
        "transparency" in image.info else image.convert("RGB")
    image.thumbnail((max_width, max_height), Image.LANCZOS)
    return ProcessedImage(_png(image), image.width, image.height)


def decode_upload(data: bytes, purpose: str):
    """The work process's ``image`` job: ``logo`` (a ``ProcessedImage``), ``material``
    (the same, full size, with a thumbnail) or ``square:<side>`` (raw RGB bytes)."""
    if purpose == "logo":
        return shrink_to(open_upload(data, LOGO_BOX), *LOGO_BOX)
    if purpose.startswith("square:"):
        side = int(purpose.split(":", 1)[1])
        image = open_upload(data, (side, side)).convert("RGB")
        short = min(image.size)
        left, top = (image.width - short) // 2, (image.height - short) // 2
        image = image.crop((left, top, left + short, top + short))
        return image.resize((side, side), Image.LANCZOS).tobytes()
    if purpose == "material":
        from portal.pdf.worker import Refused

        image = open_upload(data)
        if Image.open(io.BytesIO(data)).format != "PNG":  # the header again: a JPEG
            raise Refused("not_png")
        processed = shrink_to(image, image.width, image.height)  # re-encoded, no metadata
        image.thumbnail((THUMBNAIL_WIDTH, THUMBNAIL_WIDTH))
        processed.thumbnail = _png(image)
        return processed
    raise ValueError(f"unknown purpose {purpose!r}")
