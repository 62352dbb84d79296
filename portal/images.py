"""Uploaded images (logos, profile photos): hostile until proven to be a real picture.

An upload must be a PNG or a JPEG (by its content, not its name), at most 5 MB and
6000 x 6000 pixels, and decode completely. It is then re-encoded by Pillow (dropping
metadata and anything hidden after the image data) and shrunk to the size it is used at.
"""
from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

MAX_BYTES = 5 * 1024 * 1024
MAX_SIDE = 6000
ALLOWED_FORMATS = {"PNG", "JPEG"}
# Refuse anything Pillow would decode to more pixels than the largest allowed picture:
# a decompression bomb fails here before it is decoded.
Image.MAX_IMAGE_PIXELS = MAX_SIDE * MAX_SIDE


class ImageRejected(ValueError):
    """The upload is not an image the portal accepts; the message says why, translated."""


@dataclass
class ProcessedImage:
    png: bytes
    width: int
    height: int

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.png).hexdigest()


def open_upload(data: bytes) -> Image.Image:
    """Check and fully decode an uploaded picture; raise ``ImageRejected`` otherwise."""
    # WeasyPrint's import turns this on for the whole process; uploads must decode fully.
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    if not data:
        raise ImageRejected(_l("The file is empty."))
    if len(data) > MAX_BYTES:
        raise ImageRejected(_l("The image is larger than 5 MB."))
    try:
        image = Image.open(io.BytesIO(data))
        if image.format not in ALLOWED_FORMATS:
            raise ImageRejected(_l("Only PNG and JPEG images are accepted."))
        if image.width > MAX_SIDE or image.height > MAX_SIDE:
            raise ImageRejected(_l("The image is larger than 6000 × 6000 pixels."))
        image.load()  # decodes everything: a truncated or corrupt file fails here
    except ImageRejected:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageRejected(_l("The image is larger than 6000 × 6000 pixels.")) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageRejected(_l("This file is not a valid PNG or JPEG image.")) from exc
    # Apply the camera's orientation, then forget the metadata.
    return ImageOps.exif_transpose(image)


def shrink_to(image: Image.Image, max_width: int, max_height: int) -> ProcessedImage:
    """Re-encode as PNG no larger than the box, keeping proportions and transparency."""
    image = image.convert("RGBA") if image.mode in ("P", "LA", "PA", "RGBA") or \
        "transparency" in image.info else image.convert("RGB")
    image.thumbnail((max_width, max_height), Image.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False, compress_level=6)
    return ProcessedImage(buffer.getvalue(), image.width, image.height)


def process_logo(data: bytes) -> ProcessedImage:
    """A logo at its printed size: at most 1.6 x 0.95 inch at 300 dpi."""
    return shrink_to(open_upload(data), 480, 285)
