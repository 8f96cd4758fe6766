"""Turn uploaded bytes into an RGB array the engine can trust, or refuse them with a clear reason.

Everything a person might upload is handled here: lying extensions, SVG and HTML, truncated files,
decompression bombs, animations; CMYK, transparency, greyscale, 16-bit and EXIF rotation are
converted. Decoding is bounded: JPEGs decode at a reduced scale, other formats are refused by their
declared size before a pixel is decoded, and the pixels are shrunk tile by tile, so no full-size RGB
or numpy copy exists. ``encode_jpeg`` makes the only bytes we store. Of Django only gettext, for the reasons, and only
once Django is set up (the module also runs alone, e.g. to measure decoding): limits are passed in.
"""

import hashlib
import io
import warnings
from dataclasses import dataclass
from pathlib import PurePath

import numpy as np
from django.apps import apps
from django.utils.translation import gettext
from PIL import ExifTags, Image, UnidentifiedImageError


def _(message: str) -> str:
    """``message`` in the active language; as written where Django is not set up."""
    return gettext(message) if apps.ready else message


# Pillow format -> the file extensions that honestly carry it.
ACCEPTED_FORMATS = {
    "JPEG": {".jpg", ".jpeg", ".jpe", ".jfif"},
    "MPO": {".jpg", ".jpeg", ".mpo"},  # phone cameras' JPEG with a depth map; we take the main image
    "PNG": {".png"},
    "WEBP": {".webp"},
}
JPEG_FORMATS = {"JPEG", "MPO"}
SIXTEEN_BIT_MODES = {"I;16", "I;16B", "I;16L", "I"}

# Working memory per declared pixel while Pillow decodes at full size, measured with
# benchmarks/bench_decode_memory.py. Pillow keeps RGB, RGBA, LA and CMYK in 4 bytes a pixel;
# WebP goes through libwebp's animation decoder (two canvases), a bytes copy and the image.
_PILLOW_BYTES_PER_PIXEL = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2}
_WEBP_BYTES_PER_PIXEL = 16
# libjpeg keeps every DCT coefficient (2 bytes each) of a progressive or multi-scan file.
_JPEG_COEFFICIENT_BYTES = 2
_SOF_MARKERS = set(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_PROGRESSIVE_SOF_MARKERS = {0xC2, 0xC6, 0xCA, 0xCE}
_STANDALONE_MARKERS = {0x01, *range(0xD0, 0xDA)}

# Tiles of about this many pixels on a side are converted to RGB and averaged one at a time.
_TILE_SIDE = 512
_WHITE = (255, 255, 255, 255)
_ORIENTATION_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
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
    rgb: np.ndarray  # (height, width, 3) uint8, upright, at most max_side on its long side
    format: str  # of the upload
    digest: str  # SHA-256 of the exact uploaded bytes

    @property
    def size(self) -> tuple[int, int]:
        return self.rgb.shape[1], self.rgb.shape[0]


def image_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def decode_photo(
    data: bytes, *, filename: str = "", max_bytes: int, max_pixels: int, max_decode_bytes: int, max_side: int
) -> DecodedImage:
    """Validate and decode one uploaded photo; raise ImageRejected with a message for people.

    ``max_pixels`` bounds the declared size; ``max_decode_bytes`` the memory a format that must be
    decoded at full size (PNG, WebP, progressive JPEG) may take. The result is shrunk to ``max_side``.
    """
    if not data:
        raise ImageRejected(_("The file is empty."), code="empty")
    if len(data) > max_bytes:
        raise ImageRejected(
            _("The file is %(size).1f MB; photos may be at most %(limit).0f MB.")
            % {"size": len(data) / 1e6, "limit": max_bytes / 1e6},
            code="too_large",
            status=413,
        )
    if data.lstrip()[:1] == b"<":
        raise ImageRejected(
            _("SVG and HTML files are not accepted: upload a JPEG, PNG or WebP photo."), code="markup"
        )
    image = _open(data)
    _check_format(image, filename)
    _check_dimensions(image, max_pixels)
    if getattr(image, "n_frames", 1) > 1 and image.format != "MPO":
        raise ImageRejected(
            _("Animated or multi-page images are not accepted: upload a single photo."), code="multi_frame"
        )
    _check_decode_memory(image, data, max_decode_bytes)
    upload_format = image.format or ""
    try:
        if upload_format in JPEG_FORMATS:
            # libjpeg's DCT scaling: decode at 1/2, 1/4 or 1/8, never below max_side on the long side.
            image.draft(None, _fit(image.size, max_side))
        image.load()
        orientation = image.getexif().get(ExifTags.Base.Orientation)
        rgb = _shrink_to_rgb(image, max_side)
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageRejected(
            _("The image is damaged or incomplete: upload the photo again."), code="corrupt"
        ) from exc
    finally:
        image.close()
    if orientation in _ORIENTATION_TRANSPOSE:
        rgb = rgb.transpose(_ORIENTATION_TRANSPOSE[orientation])
    return DecodedImage(rgb=np.asarray(rgb), format=upload_format, digest=image_digest(data))


def encode_jpeg(rgb: np.ndarray, *, quality: int = 90) -> bytes:
    """The pixels as a plain JPEG: no EXIF, ICC profile, comment or anything after the image."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8)).save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def _open(data: bytes) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRejected(
            _("The image declares more pixels than we accept."), code="too_many_pixels", status=413
        ) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageRejected(
            _("This file is not an image we can read: upload a JPEG, PNG or WebP photo."), code="not_an_image"
        ) from exc


def _check_format(image: Image.Image, filename: str) -> None:
    if image.format not in ACCEPTED_FORMATS:
        raise ImageRejected(
            (
                _("%(format)s files are not accepted: upload a JPEG, PNG or WebP photo.") % {"format": image.format}
                if image.format
                else _("This file type is not accepted: upload a JPEG, PNG or WebP photo.")
            ),
            code="format",
        )
    suffix = PurePath(filename).suffix.lower()
    if suffix and suffix not in ACCEPTED_FORMATS[image.format]:
        raise ImageRejected(
            _(
                "The file name ends in %(suffix)s but the file is a %(format)s image: "
                "rename it to match, or export it again as JPEG or PNG."
            )
            % {"suffix": suffix, "format": image.format},
            code="extension_mismatch",
        )


def _check_dimensions(image: Image.Image, max_pixels: int) -> None:
    width, height = image.size
    if width * height > max_pixels:
        raise ImageRejected(
            _("The image is %(width)dx%(height)d pixels; photos may have at most %(megapixels)s megapixels.")
            % {"width": width, "height": height, "megapixels": _megapixels(max_pixels)},
            code="too_many_pixels",
            status=413,
        )
    if min(width, height) < 1:
        raise ImageRejected(_("The image has no pixels."), code="corrupt")


def _check_decode_memory(image: Image.Image, data: bytes, max_decode_bytes: int) -> None:
    per_pixel, kind, advice = _full_size_cost(image, data)
    width, height = image.size
    if per_pixel and width * height * per_pixel > max_decode_bytes:
        raise ImageRejected(
            _(
                "The image is %(width)dx%(height)d pixels; %(kind)s may have at most %(megapixels)s megapixels: "
                "%(advice)s"
            )
            % {
                "width": width,
                "height": height,
                "kind": kind,
                "megapixels": _megapixels(max_decode_bytes / per_pixel),
                "advice": advice,
            },
            code="too_many_pixels",
            status=413,
        )


def _full_size_cost(image: Image.Image, data: bytes) -> tuple[float, str, str]:
    """(bytes per declared pixel a decode holds at full size, what to call such files, what to do instead)."""
    send_a_jpeg = _("send it as a JPEG, or a smaller photo.")
    if image.format in JPEG_FORMATS:
        per_pixel = _jpeg_buffered_bytes_per_pixel(data)
        return per_pixel, _("progressive JPEGs"), _("save it again as a standard JPEG, or send a smaller photo.")
    if image.format == "WEBP":
        return _WEBP_BYTES_PER_PIXEL, _("WebP images"), send_a_jpeg
    kind = _("%(format)s images") % {"format": image.format}
    return _PILLOW_BYTES_PER_PIXEL.get(image.mode, 4), kind, send_a_jpeg


def _jpeg_buffered_bytes_per_pixel(data: bytes) -> float:
    """0 when libjpeg decodes this JPEG in one pass; else the size per pixel of the coefficient buffer it keeps.

    libjpeg buffers the whole image's coefficients for a progressive file, or when the first scan lacks a
    component (several scans); DCT scaling does not shrink that buffer. Read from the markers before the
    first scan; a file we cannot follow is costed as the worst case, four full-resolution components.
    """
    position, progressive, sampling = 2, False, []
    while position + 4 <= len(data) and data[position] == 0xFF:
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker in _STANDALONE_MARKERS:
            position += 2
            continue
        length = int.from_bytes(data[position + 2 : position + 4], "big")
        body = data[position + 4 : position + 2 + length]
        if marker in _SOF_MARKERS and len(body) >= 6:
            progressive = marker in _PROGRESSIVE_SOF_MARKERS
            sampling = [(value >> 4, value & 15) for value in body[7 : 6 + 3 * body[5] : 3]]
        elif marker == 0xDA:
            if sampling and not progressive and body[:1] == bytes([len(sampling)]):
                return 0
            break
        position += 2 + length
    if not sampling or not all(h and v for h, v in sampling):
        return _JPEG_COEFFICIENT_BYTES * 4
    widest, tallest = max(h for h, _v in sampling), max(v for _h, v in sampling)
    return _JPEG_COEFFICIENT_BYTES * sum(h * v for h, v in sampling) / (widest * tallest)


def _fit(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    width, height = size
    scale = min(1.0, max_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _shrink_to_rgb(image: Image.Image, max_side: int) -> Image.Image:
    """An RGB copy at most ``max_side`` on its long side, converted and averaged one tile at a time.

    Tiles are aligned to the integer averaging factor, so the result is the same as one ``reduce`` of
    the whole image; a last resize from less than twice the size reaches ``max_side``.
    """
    width, height = image.size
    factor = max(1, max(width, height) // max_side)
    if image.mode in {"RGB", "L"}:
        # Nothing to convert before averaging: reducing the whole image makes no full-size copy.
        canvas = image.reduce(factor) if factor > 1 else image
    else:
        peak = _sixteen_bit_peak(image)
        side = factor * max(1, _TILE_SIDE // factor)
        canvas = Image.new("RGB", (-(-width // factor), -(-height // factor)))
        for top in range(0, height, side):
            for left in range(0, width, side):
                tile = _to_rgb(image.crop((left, top, min(left + side, width), min(top + side, height))), peak)
                canvas.paste(tile.reduce(factor) if factor > 1 else tile, (left // factor, top // factor))
    if max(canvas.size) > max_side:
        canvas = canvas.resize(_fit(canvas.size, max_side), Image.Resampling.LANCZOS)
    return canvas.convert("RGB")


def _sixteen_bit_peak(image: Image.Image) -> float:
    # 16-bit greyscale is scaled to 8 bits by its range (Pillow's convert("L") would clip it to white).
    if image.mode not in SIXTEEN_BIT_MODES:
        return 255.0
    return 65535.0 if image.getextrema()[1] > 255 else 255.0


def _to_rgb(tile: Image.Image, peak: float) -> Image.Image:
    if tile.mode in SIXTEEN_BIT_MODES:
        grey = np.clip(np.asarray(tile, dtype=np.float32) * np.float32(255.0 / peak), 0, 255).astype(np.uint8)
        return Image.fromarray(grey).convert("RGB")
    if tile.mode in {"RGBA", "LA", "PA"} or (tile.mode == "P" and "transparency" in tile.info):
        rgba = tile.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", rgba.size, _WHITE), rgba).convert("RGB")
    return tile.convert("RGB")


def _megapixels(pixels: float) -> str:
    return f"{pixels / 1e6:.1f}".removesuffix(".0")
