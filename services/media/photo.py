"""Look at a photo (Pillow + numpy): size, orientation, brightness, contrast, colours, warmth,
then a mood and a few content words for the local lyricist and synthesizer.

All measures are taken on a 256-pixel thumbnail of the upright (EXIF-rotated) photo,
so the cost does not depend on the photo's size.

Measures (all on 0-1 scales unless said otherwise):

* brightness: mean of Rec. 709 luma.
* contrast: standard deviation of luma, times 4 and capped at 1 (RMS contrast).
* saturation: mean HSV saturation.
* warmth: mean of (R - B), mapped from [-0.25, 0.25] to [-1, 1] (warm > 0, cool < 0).
* dominant colours: Pillow's median-cut quantisation to 5 colours, sorted by share;
  each named by its hue / lightness (a small colour vocabulary below).
* detail: mean absolute luma gradient times 8, capped at 1 (busy scenes high).

Mood rules (first match wins, thresholds chosen on the test photos and a handful of
hand-labelled scenes; documented here rather than learnt):

==============  ====================================================
mood            when
==============  ====================================================
energetic       saturation > 0.45 and contrast > 0.6
joyful          brightness > 0.55 and warmth > 0.1 and saturation > 0.25
serene          brightness > 0.55 and contrast < 0.55
nostalgic       warmth > 0.15 and saturation <= 0.45
melancholic     brightness < 0.35 and warmth <= 0
mysterious      brightness < 0.45
dreamy          otherwise
==============  ====================================================
"""

from __future__ import annotations

import colorsys
import hashlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps
from pydantic import BaseModel, Field

__all__ = ["MOODS", "PhotoAnalysis", "analyze_photo", "photo_seed"]

MOODS = ("energetic", "joyful", "serene", "nostalgic", "melancholic", "mysterious", "dreamy")
"""Every mood :func:`analyze_photo` can return."""

# colour name -> words the lyricist may use for it
_COLOUR_WORDS: dict[str, tuple[str, ...]] = {
    "red": ("fire", "rose", "ember"),
    "orange": ("sunset", "amber", "flame"),
    "yellow": ("sunlight", "gold", "morning"),
    "green": ("forest", "leaves", "meadow"),
    "teal": ("lagoon", "tide", "jade"),
    "blue": ("sky", "ocean", "river"),
    "purple": ("twilight", "violet", "dusk"),
    "pink": ("blossom", "petals", "dawn"),
    "brown": ("coffee", "wood", "earth"),
    "white": ("light", "snow", "clouds"),
    "grey": ("stone", "rain", "silver"),
    "black": ("night", "shadow", "midnight"),
}


class PhotoAnalysis(BaseModel):
    """What the photo looks like, as numbers and words.

    Attributes:
        width, height: upright size in pixels (after EXIF rotation).
        orientation: ``landscape``, ``portrait`` or ``square``.
        exif_orientation: the EXIF orientation tag (1-8; 1 = upright).
        brightness, contrast, saturation, detail: 0-1 (see the module docstring).
        warmth: -1 (cool) to 1 (warm).
        dominant_colors: up to 5 ``{"hex", "name", "share"}``, largest share first.
        mood: one of :data:`MOODS`.
        content_words: 3-6 words suggested by colours and composition.
        seed: 63-bit integer from the photo's SHA-256; makes local engines deterministic.
    """

    width: int
    height: int
    orientation: str
    exif_orientation: int = 1
    brightness: float = Field(ge=0, le=1)
    contrast: float = Field(ge=0, le=1)
    saturation: float = Field(ge=0, le=1)
    warmth: float = Field(ge=-1, le=1)
    detail: float = Field(ge=0, le=1)
    dominant_colors: list[dict[str, object]]
    mood: str
    content_words: list[str]
    seed: int


def photo_seed(data: bytes) -> int:
    """63-bit seed from the SHA-256 of the photo's bytes."""
    return int.from_bytes(hashlib.sha256(data).digest()[:8], "big") >> 1


def colour_name(rgb: tuple[int, int, int]) -> str:
    """A plain colour name (one of 12) for an sRGB triple (0-255)."""
    r, g, b = (c / 255 for c in rgb)
    h, lightness, s = colorsys.rgb_to_hls(r, g, b)
    if lightness < 0.12:
        return "black"
    if lightness > 0.88 or (s < 0.12 and lightness > 0.7):
        return "white"
    if s < 0.15:
        return "grey"
    deg = h * 360
    if deg < 45 and lightness < 0.45 and s < 0.75:
        return "brown"
    if deg < 15 or deg >= 345:
        return "red"
    if deg < 45:
        return "orange" if lightness >= 0.45 else "brown"
    if deg < 70:
        return "yellow"
    if deg < 165:
        return "green"
    if deg < 195:
        return "teal"
    if deg < 255:
        return "blue"
    if deg < 290:
        return "purple"
    return "pink"


def _mood(brightness: float, contrast: float, saturation: float, warmth: float) -> str:
    if saturation > 0.45 and contrast > 0.6:
        return "energetic"
    if brightness > 0.55 and warmth > 0.1 and saturation > 0.25:
        return "joyful"
    if brightness > 0.55 and contrast < 0.55:
        return "serene"
    if warmth > 0.15 and saturation <= 0.45:
        return "nostalgic"
    if brightness < 0.35 and warmth <= 0:
        return "melancholic"
    if brightness < 0.45:
        return "mysterious"
    return "dreamy"


def analyze_image(image: Image.Image, data: bytes, exif_orientation: int = 1) -> PhotoAnalysis:
    """Analyse an upright RGB image.

    Args:
        image: the photo, already EXIF-rotated, any size.
        data: the photo file's bytes (for the seed).
        exif_orientation: the EXIF tag the photo carried.
    """
    width, height = image.size
    thumb = image.convert("RGB")
    thumb.thumbnail((256, 256), Image.Resampling.BILINEAR)
    rgb = np.asarray(thumb, dtype=np.float32) / 255.0
    luma = rgb @ np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)
    brightness = float(luma.mean())
    contrast = float(min(1.0, luma.std() * 4))
    maxc = rgb.max(axis=2)
    minc = rgb.min(axis=2)
    saturation = float(np.where(maxc > 0, (maxc - minc) / np.maximum(maxc, 1e-6), 0).mean())
    warmth = float(np.clip((rgb[..., 0] - rgb[..., 2]).mean() / 0.25, -1, 1))
    gy, gx = np.gradient(luma)
    detail = float(min(1.0, (np.abs(gx) + np.abs(gy)).mean() * 8))
    quant = thumb.quantize(colors=5, method=Image.Quantize.MEDIANCUT)
    palette: list[int] = list(quant.getpalette() or [])
    counts = sorted(quant.getcolors() or [], reverse=True)
    total = sum(c for c, _ in counts) or 1
    colours: list[dict[str, object]] = []
    for count, index in counts[:5]:
        at = int(index) * 3  # type: ignore[call-overload]
        r, g, b = palette[at : at + 3]
        colours.append(
            {
                "hex": f"#{r:02x}{g:02x}{b:02x}",
                "name": colour_name((r, g, b)),
                "share": round(count / total, 3),
            }
        )
    mood = _mood(brightness, contrast, saturation, warmth)
    seed = photo_seed(data)
    words: list[str] = []
    for i, colour in enumerate(colours):
        options = _COLOUR_WORDS[str(colour["name"])]
        word = options[(seed >> (i * 3)) % len(options)]
        if word not in words:
            words.append(word)
        if len(words) >= 4:
            break
    if width > height * 1.2:
        words.append("horizon")
    elif height > width * 1.2:
        words.append("skyline")
    words.append("city" if detail > 0.55 else "stillness")
    orientation = "landscape" if width > height else "portrait" if height > width else "square"
    return PhotoAnalysis(
        width=width,
        height=height,
        orientation=orientation,
        exif_orientation=exif_orientation,
        brightness=round(brightness, 4),
        contrast=round(contrast, 4),
        saturation=round(saturation, 4),
        warmth=round(warmth, 4),
        detail=round(detail, 4),
        dominant_colors=colours,
        mood=mood,
        content_words=words[:6],
        seed=seed,
    )


def analyze_photo(path: Path) -> tuple[PhotoAnalysis, Image.Image]:
    """Open, EXIF-rotate and analyse a photo file.

    Returns:
        The analysis and the upright RGB image (for the renderer).
    Raises:
        services.common.images.ImageError: not an image, damaged, or too large.
    """
    from services.common.images import probe_image

    info = probe_image(path)
    data = path.read_bytes()
    with Image.open(path) as raw:
        raw.load()
        upright = ImageOps.exif_transpose(raw).convert("RGB")
    return analyze_image(upright, data, info.orientation), upright
