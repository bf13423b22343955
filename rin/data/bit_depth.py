"""High-bit-depth images scaled to 8 bits, instead of clipped.

PIL's `Image.convert("L")` maps a 16-bit grey image ("I;16", or "I" as older Pillow opens 16-bit
PNGs) by clipping each value at 255, so a 16-bit PNG came out almost all white (99.5% of the
pixels of a full-range image). Here 16-bit values v become round(v / 257), which maps 0..65535
onto 0..255 exactly. 16-bit RGB PNGs already open as 8-bit "RGB" (PIL keeps the high byte).
Pixels with no known range (32-bit integers outside a PNG, floats) are refused, naming the mode.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16B", "I;16L", "I;16N"})


def to_8_bit(image: Image.Image) -> Image.Image:
    """`image` itself if it is 8-bit; a 16-bit grey image scaled to mode "L"; ValueError otherwise."""
    sixteen = image.mode in SIXTEEN_BIT_MODES or (image.mode == "I" and image.format == "PNG")
    if sixteen:
        values = np.asarray(image).astype(np.float64)  # (H, W) 0..65535
        scaled = np.clip(np.rint(values / 257.0), 0, 255).astype(np.uint8)
        return Image.fromarray(scaled, mode="L")
    if image.mode in ("I", "F"):
        kind = "32-bit integer" if image.mode == "I" else "floating-point"
        raise ValueError(
            f"{kind} pixels (mode {image.mode}) have no known range to scale to 8 bits; "
            "save the image as 8- or 16-bit"
        )
    return image
