"""Turn uploaded bytes into an RGB array the engine can trust, or refuse them with a clear reason.

Everything a person might upload is handled here: lying extensions, SVG and HTML, truncated files,
decompression bombs, animations; CMYK, transparency, greyscale, 16-bit and EXIF rotation are
converted. No Django import: limits are passed in.
"""

import hashlib
import io
import warnings
from dataclasses import dataclass
from pathlib import PurePath

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# Pillow format -> the file extensions that honestly carry it.
ACCEPTED_FORMATS = {
    "JPEG": {".jpg", ".jpeg", ".jpe", ".jfif"},
    "MPO": {".jpg", ".jpeg", ".mpo"},  # phone cameras' JPEG with a depth map; we take the main image
    "PNG": {".png"},
    "WEBP": {".webp"},
}


class ImageRejected(ValueError):
    """The upload is not a photo we can use; ``message`` is meant for the person who sent it."""

    def __init__(self, message: str, *, code: str, status: int = 400):
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status


@dataclass(frozen=True)
class DecodedImage:
    rgb: np.ndarray  # (height, width, 3) uint8, EXIF orientation applied
    format: str
    digest: str  # SHA-256 of the exact uploaded bytes

    @property
    def size(self) -> tuple[int, int]:
        return self.rgb.shape[1], self.rgb.shape[0]


def image_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def decode_photo(data: bytes, *, filename: str = "", max_bytes: int, max_pixels: int) -> DecodedImage:
    """Validate and decode one uploaded photo; raise ImageRejected with a message for people."""
    if not data:
        raise ImageRejected("The file is empty.", code="empty")
    if len(data) > max_bytes:
        raise ImageRejected(
            f"The file is {len(data) / 1e6:.1f} MB; photos may be at most {max_bytes / 1e6:.0f} MB.",
            code="too_large",
            status=413,
        )
    if data.lstrip()[:1] == b"<":
        raise ImageRejected("SVG and HTML files are not accepted: upload a JPEG, PNG or WebP photo.", code="markup")
    image = _open(data)
    _check_format(image, filename)
    _check_dimensions(image, max_pixels)
    if getattr(image, "n_frames", 1) > 1 and image.format != "MPO":
        raise ImageRejected(
            "Animated or multi-page images are not accepted: upload a single photo.", code="multi_frame"
        )
    try:
        image.load()
        image = ImageOps.exif_transpose(image)
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageRejected("The image is damaged or incomplete: upload the photo again.", code="corrupt") from exc
    return DecodedImage(rgb=_to_rgb(image), format=image.format or "", digest=image_digest(data))


def _open(data: bytes) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRejected(
            "The image declares more pixels than we accept.", code="too_many_pixels", status=413
        ) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageRejected(
            "This file is not an image we can read: upload a JPEG, PNG or WebP photo.", code="not_an_image"
        ) from exc


def _check_format(image: Image.Image, filename: str) -> None:
    if image.format not in ACCEPTED_FORMATS:
        raise ImageRejected(
            f"{image.format or 'This'} files are not accepted: upload a JPEG, PNG or WebP photo.", code="format"
        )
    suffix = PurePath(filename).suffix.lower()
    if suffix and suffix not in ACCEPTED_FORMATS[image.format]:
        raise ImageRejected(
            f"The file name ends in {suffix} but the file is a {image.format} image: "
            "rename it to match, or export it again as JPEG or PNG.",
            code="extension_mismatch",
        )


def _check_dimensions(image: Image.Image, max_pixels: int) -> None:
    width, height = image.size
    if width * height > max_pixels:
        raise ImageRejected(
            f"The image is {width}x{height} pixels; photos may have at most {max_pixels / 1e6:.0f} megapixels.",
            code="too_many_pixels",
            status=413,
        )
    if min(width, height) < 1:
        raise ImageRejected("The image has no pixels.", code="corrupt")


def _to_rgb(image: Image.Image) -> np.ndarray:
    if image.mode in {"I;16", "I;16B", "I;16L", "I"}:
        # 16-bit greyscale: scale to 8 bits (Pillow's convert("L") would clip everything to white).
        values = np.asarray(image, dtype=np.float64)
        peak = 65535.0 if values.max() > 255 else 255.0
        grey = np.clip(values * (255.0 / peak), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))
    if image.mode in {"RGBA", "LA", "PA"} or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    return np.ascontiguousarray(np.asarray(image.convert("RGB"), dtype=np.uint8))
