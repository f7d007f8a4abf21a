"""Checks on files staff upload: the seller's logo, printed on every invoice PDF.

The logo is judged by its content, never by its name or the browser's content
type: Pillow must read it as a PNG or JPEG and decode every pixel (as the PDF
renderer will), within size and pixel limits that keep a small file from
expanding into gigabytes of memory (a decompression bomb). A file that is an
image *and* something else — markup in a text chunk, HTML after the image's
end — is refused too: such polyglots are how a "picture" turns into a page
that runs script when some viewer sniffs it.
"""

import io
import re
import warnings

from django.core.exceptions import ValidationError
from django.core.files import File
from django.utils.translation import gettext as _
from PIL import Image

LOGO_MAX_BYTES = 2 * 1024 * 1024
LOGO_MAX_SIDE = 4000  # pixels, each way
LOGO_FORMATS = ("PNG", "JPEG")
# Markup that has no business inside a picture (case-insensitive).
_MARKUP = re.compile(rb"<\s*(script|html|body|svg|iframe|object|embed|meta)\b|javascript:", re.IGNORECASE)
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def validate_logo(file: File) -> None:
    """Raise ValidationError with one clear message unless `file` is a plain PNG or JPEG within the limits."""
    if getattr(file, "_committed", False):
        return  # a logo already in storage was checked when it was uploaded
    if file.size > LOGO_MAX_BYTES:
        raise ValidationError(
            _("The logo must be at most %(max)s MB; this file is %(size)s MB."),
            code="logo_too_large",
            params={"max": LOGO_MAX_BYTES // (1024 * 1024), "size": f"{file.size / (1024 * 1024):.1f}"},
        )
    file.seek(0)
    data = file.read()
    file.seek(0)  # stored whole afterwards
    not_an_image = ValidationError(
        _("The logo must be a PNG or JPEG image; this file is not an image, or it is damaged."), code="logo_invalid"
    )
    try:
        with warnings.catch_warnings():
            # Pillow only warns below twice its own pixel limit; the side limit below refuses those anyway.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                kind, (width, height) = image.format, image.size
                image.verify()  # structure and checksums, without decoding
    except Image.DecompressionBombError:
        raise _too_many_pixels(None, None) from None
    except Exception:  # Pillow raises many kinds (OSError, SyntaxError, struct.error…) for bad input
        raise not_an_image from None
    if kind not in LOGO_FORMATS:
        raise ValidationError(
            _("The logo must be a PNG or JPEG image; this file is a %(format)s image."),
            code="logo_format",
            params={"format": kind},
        )
    if width > LOGO_MAX_SIDE or height > LOGO_MAX_SIDE:
        raise _too_many_pixels(width, height)
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()  # every pixel decodes: a truncated or corrupt body fails here, not in the PDF renderer
    except Exception:
        raise not_an_image from None
    if _has_data_after_end(kind, data) or _MARKUP.search(data):
        raise ValidationError(
            _(
                "The logo holds more than an image (markup or data after its end); "
                "export it again as a plain PNG or JPEG."
            ),
            code="logo_polyglot",
        )


def _too_many_pixels(width: int | None, height: int | None) -> ValidationError:
    if width is None:
        message = _("The logo must be at most %(max)s × %(max)s pixels; this image is far larger.")
    else:
        message = _("The logo must be at most %(max)s × %(max)s pixels; this image is %(width)s × %(height)s.")
    return ValidationError(
        message, code="logo_too_many_pixels", params={"max": LOGO_MAX_SIDE, "width": width, "height": height}
    )


def _has_data_after_end(kind: str, data: bytes) -> bool:
    """Bytes after the image's last chunk (PNG IEND) or end marker (JPEG EOI)."""
    if kind == "JPEG":
        return not data.rstrip(b"\x00").endswith(b"\xff\xd9")
    position = len(_PNG_SIGNATURE)
    while position + 12 <= len(data):
        length = int.from_bytes(data[position : position + 4], "big")
        chunk = data[position + 4 : position + 8]
        position += 12 + length  # length, type, data, CRC
        if chunk == b"IEND":
            return position != len(data)
    return True
