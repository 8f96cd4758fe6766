"""The face crop kept as evidence of a mark: the face's box in the deciding frame, with some context."""

import numpy as np
from PIL import Image

from faces.images import encode_jpeg

CONTEXT = 0.25  # of the box's size, added on every side
MAX_SIDE = 240  # px


def face_crop(rgb: np.ndarray, box: tuple[int, int, int, int]) -> bytes:
    """The face at ``box`` (x, y, w, h) cut from ``rgb``, at most MAX_SIDE px long, as a plain JPEG."""
    x, y, w, h = box
    pad_x, pad_y = int(w * CONTEXT), int(h * CONTEXT)
    height, width = rgb.shape[:2]
    left, top = max(0, x - pad_x), max(0, y - pad_y)
    right, bottom = min(width, x + w + pad_x), min(height, y + h + pad_y)
    if right <= left or bottom <= top:
        raise ValueError(f"The box {box} lies outside the {width}x{height} frame.")
    crop = Image.fromarray(np.ascontiguousarray(rgb[top:bottom, left:right]))
    crop.thumbnail((MAX_SIDE, MAX_SIDE))
    return encode_jpeg(np.asarray(crop))
