"""Photo validation shared by the gateway (uploads) and the media service (renders).

:func:`probe_image` sniffs the real format from the content (never the file name),
refuses decompression bombs and absurd dimensions from the header alone (before
any pixel is decoded), then decodes the image to prove it is complete. It is the
photo counterpart of :func:`services.common.audio.probe`.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = [
    "ACCEPTED_FORMATS",
    "CorruptImage",
    "ImageError",
    "ImageInfo",
    "MIME_TYPES",
    "ImageTooLarge",
    "NotAnImage",
    "open_upright",
    "probe_image",
]

ACCEPTED_FORMATS: dict[str, str] = {
    "JPEG": "jpg",
    "PNG": "png",
    "WEBP": "webp",
    "GIF": "gif",
    "BMP": "bmp",
    "TIFF": "tiff",
}
"""Pillow format name -> file extension of the photo formats accepted."""

MIME_TYPES: dict[str, str] = {
    "jpg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "gif": "image/gif",
    "bmp": "image/bmp",
    "tiff": "image/tiff",
}
"""File extension -> MIME type of the accepted formats."""


class ImageError(ValueError):
    """Base of photo validation errors; ``details`` is a sentence safe to show a client."""

    def __init__(self, details: str) -> None:
        super().__init__(details)
        self.details = details


class NotAnImage(ImageError):
    """The content is not an image in an accepted format."""


class CorruptImage(ImageError):
    """The header looked like an image but the pixels could not be decoded (truncated...)."""


class ImageTooLarge(ImageError):
    """Too many pixels or absurd dimensions (a decompression bomb, or simply too big)."""


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """What :func:`probe_image` learnt about a photo.

    Attributes:
        format: file extension of the sniffed format (``jpg``, ``png``...).
        mime_type: its MIME type.
        width: stored width in pixels (before EXIF orientation).
        height: stored height in pixels.
        display_width: width after applying the EXIF orientation.
        display_height: height after applying the EXIF orientation.
        orientation: EXIF orientation tag (1 = upright; 1-8).
    """

    format: str
    mime_type: str
    width: int
    height: int
    display_width: int
    display_height: int
    orientation: int


def probe_image(
    source: bytes | Path,
    *,
    max_pixels: int = 50_000_000,
    max_side: int = 20_000,
    min_side: int = 16,
    max_aspect: float = 10.0,
) -> ImageInfo:
    """Validate a photo and describe it.

    Args:
        source: the photo's bytes or a path to it.
        max_pixels: most pixels (width x height) accepted.
        max_side: longest side accepted, pixels.
        min_side: shortest side accepted, pixels.
        max_aspect: largest long/short side ratio accepted.

    Returns:
        The :class:`ImageInfo`.
    Raises:
        NotAnImage: the content is not JPEG, PNG, WebP, GIF, BMP or TIFF.
        ImageTooLarge: over ``max_pixels``/``max_side``, under ``min_side`` or a too
            extreme aspect ratio (checked from the header, before decoding).
        CorruptImage: the pixels cannot be decoded (truncated or damaged file).
    """
    stream = io.BytesIO(source) if isinstance(source, bytes | bytearray) else Path(source).open("rb")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            try:
                image = Image.open(stream, formats=list(ACCEPTED_FORMATS))
            except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
                raise ImageTooLarge(f"the image has too many pixels ({exc})") from None
            except UnidentifiedImageError:
                raise NotAnImage(
                    "the content is not an image; accepted formats: JPEG, PNG, WebP, GIF, BMP, TIFF"
                ) from None
            except (OSError, ValueError, SyntaxError) as exc:
                raise CorruptImage(f"the image header cannot be read: {exc}") from None
            with image:
                width, height = image.size
                pixels = width * height
                if pixels > max_pixels or max(width, height) > max_side:
                    raise ImageTooLarge(
                        f"the image is {width}x{height} pixels; the limit is {max_pixels / 1e6:g} "
                        f"megapixels and {max_side} pixels per side"
                    )
                if min(width, height) < min_side:
                    raise ImageTooLarge(
                        f"the image is {width}x{height} pixels; each side needs at least {min_side}"
                    )
                if max(width, height) / min(width, height) > max_aspect:
                    raise ImageTooLarge(
                        f"the image is {width}x{height} pixels; the aspect ratio may be at most "
                        f"{max_aspect:g}:1"
                    )
                fmt = ACCEPTED_FORMATS[str(image.format)]
                try:
                    orientation = int(image.getexif().get(0x0112, 1) or 1)
                    if fmt == "jpg":  # decode at 1/8 scale: proves completeness cheaply
                        image.draft("RGB", (max(1, width // 8), max(1, height // 8)))
                    image.load()
                except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
                    raise ImageTooLarge(f"the image has too many pixels ({exc})") from None
                except (OSError, ValueError, SyntaxError, EOFError) as exc:
                    raise CorruptImage(f"the image data is damaged or truncated: {exc}") from None
                if orientation not in range(1, 9):
                    orientation = 1
        swapped = orientation in (5, 6, 7, 8)
        return ImageInfo(
            format=fmt,
            mime_type=MIME_TYPES[fmt],
            width=width,
            height=height,
            display_width=height if swapped else width,
            display_height=width if swapped else height,
            orientation=orientation,
        )
    finally:
        stream.close()


def open_upright(path: Path, *, max_pixels: int = 50_000_000) -> Image.Image:
    """Open a photo already checked by :func:`probe_image`, decoded and EXIF-rotated to RGB.

    Raises:
        ImageError: as :func:`probe_image`.
    """
    probe_image(path, max_pixels=max_pixels)
    with Image.open(path) as image:
        image.load()
        upright = ImageOps.exif_transpose(image)
        return upright.convert("RGB")
