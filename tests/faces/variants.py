"""Variants of a real photo, made in memory: other encodings, damage, tricks and poor quality."""

import io
import struct
import zlib

import numpy as np
from PIL import ExifTags, Image, ImageEnhance, ImageFilter


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def as_image(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def fit(data: bytes, longest: int = 800) -> Image.Image:
    image = as_image(data).convert("RGB")
    image.thumbnail((longest, longest))
    return image


def jpeg(image: Image.Image, quality: int = 90) -> bytes:
    return encode(image.convert("RGB"), "JPEG", quality=quality)


def next_frame(data: bytes) -> bytes:
    """Another frame of the same scene, a moment later: the same pixels, other bytes (upright, JPEG)."""
    from PIL import ImageOps

    return jpeg(ImageOps.exif_transpose(as_image(data)), quality=88)


def burst(data: bytes) -> list[bytes]:
    """What a kiosk sends: a frame a moment before ``data``, then ``data``; just ``data`` if it is no image."""
    try:
        return [next_frame(data), data]
    except (OSError, Image.DecompressionBombError):
        return [data]


def cmyk_jpeg(image: Image.Image) -> bytes:
    return encode(image.convert("CMYK"), "JPEG", quality=92)


def grey_png(image: Image.Image) -> bytes:
    return encode(image.convert("L"), "PNG")


def rgba_png(image: Image.Image) -> bytes:
    rgba = image.convert("RGBA")
    rgba.putalpha(255)
    return encode(rgba, "PNG")


def png16(image: Image.Image) -> bytes:
    grey = (np.asarray(image.convert("L"), dtype=np.uint16) * 257).astype("<u2")
    sixteen = Image.fromarray(grey)
    assert sixteen.mode.startswith("I;16")
    return encode(sixteen, "PNG")


def exif_rotated_jpeg(image: Image.Image) -> bytes:
    """Pixels stored turned 90 degrees, with the EXIF tag (6) that tells viewers to turn them back."""
    exif = Image.Exif()
    exif[0x0112] = 6
    return encode(image.convert("RGB").transpose(Image.Transpose.ROTATE_90), "JPEG", quality=92, exif=exif)


# What a booby-trapped JPEG carries: markup in a comment and after the end of the image, and a location.
COMMENT_MARKUP = b"<script>alert('comment')</script>"
TRAILING_MARKUP = b"<html><body><script>alert('trailer')</script></body></html>"
GPS_MARK = "ATTENDX-GPS-AREA"


def booby_trapped_jpeg(image: Image.Image) -> bytes:
    """A real photo stored turned 90 degrees (EXIF says turn it back), with GPS, a comment and a trailer."""
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: (52.0, 31.0, 12.5),
        ExifTags.GPS.GPSAreaInformation: GPS_MARK,
    }
    turned = image.convert("RGB").transpose(Image.Transpose.ROTATE_90)
    return encode(turned, "JPEG", quality=92, exif=exif, comment=COMMENT_MARKUP) + TRAILING_MARKUP


def injected_bytes_in(data: bytes) -> list[bytes]:
    return [mark for mark in (COMMENT_MARKUP, TRAILING_MARKUP, GPS_MARK.encode(), b"<script", b"Exif") if mark in data]


def upscaled_jpeg(data: bytes, side: int = 6000) -> bytes:
    """A real photo enlarged onto a ``side`` x ``side`` grey canvas: many pixels, few bytes."""
    photo = as_image(data).convert("RGB")
    scale = side / max(photo.size)
    photo = photo.resize((round(photo.width * scale), round(photo.height * scale)), Image.Resampling.BICUBIC)
    canvas = Image.new("RGB", (side, side), (128, 128, 128))
    canvas.paste(photo, ((side - photo.width) // 2, (side - photo.height) // 2))
    return encode(canvas, "JPEG", quality=85)


def animated_png(image: Image.Image) -> bytes:
    frames = [image.convert("RGB"), image.convert("RGB").transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    return encode(frames[0], "PNG", save_all=True, append_images=frames[1:], duration=100, loop=0)


def bomb_png(width: int = 100_000, height: int = 100_000) -> bytes:
    """A tiny PNG whose header declares a gigantic image."""
    tiny = encode(Image.new("L", (1, 1)), "PNG")
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    patched = struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk))
    return tiny[:8] + patched + tiny[8 + 25 :]


def blurred(image: Image.Image, radius: float = 8) -> bytes:
    return jpeg(image.filter(ImageFilter.GaussianBlur(radius)))


def darkened(image: Image.Image, factor: float = 0.12) -> bytes:
    return jpeg(ImageEnhance.Brightness(image).enhance(factor))


SVG = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b"<script>alert(1)</script></svg>"
)
HTML = b"<!doctype html><html><body><img src=x onerror=alert(1)></body></html>"
TEXT = b"name,email\nada,ada@example.org\n"
