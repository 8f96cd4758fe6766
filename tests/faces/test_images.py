"""faces.images: every kind of bad upload is refused with a clear reason; odd but honest photos are accepted."""

import math

import numpy as np
import pytest
from PIL import Image

from faces.images import ImageRejected, decode_photo, encode_jpeg
from tests.faces import variants

pytestmark = pytest.mark.database_independent

LIMITS = {
    "max_bytes": 10 * 1024 * 1024,
    "max_pixels": 64_000_000,
    "max_decode_bytes": 80 * 1024 * 1024,
    "max_side": 1280,
}


@pytest.fixture(scope="module")
def portrait(shared_photos):
    return variants.fit(shared_photos["angelina_jolie/05.jpg"].data)


def refused(data: bytes, filename: str = "", **limits) -> ImageRejected:
    with pytest.raises(ImageRejected) as excinfo:
        decode_photo(data, filename=filename, **{**LIMITS, **limits})
    return excinfo.value


@pytest.mark.parametrize(
    ("make", "filename", "code", "status", "words"),
    [
        (lambda p: b"", "empty.jpg", "empty", 400, "empty"),
        (lambda p: variants.TEXT, "people.csv", "not_an_image", 400, "not an image"),
        (lambda p: variants.jpeg(p)[:2000], "cut.jpg", "corrupt", 400, "damaged or incomplete"),
        (lambda p: b"\xff\xd8\xff\xe0" + b"\x00garbage" * 400, "noise.jpg", "not_an_image", 400, "not an image"),
        (lambda p: variants.jpeg(p), "photo.png", "extension_mismatch", 400, "ends in .png but the file is a JPEG"),
        (lambda p: variants.SVG, "face.svg", "markup", 400, "SVG and HTML"),
        (lambda p: variants.HTML, "face.jpg", "markup", 400, "SVG and HTML"),
        (lambda p: variants.bomb_png(), "bomb.png", "too_many_pixels", 413, "pixels"),
        (lambda p: variants.animated_png(p), "moving.png", "multi_frame", 400, "Animated or multi-page"),
        (lambda p: variants.encode(p, "GIF"), "face.gif", "format", 400, "GIF files are not accepted"),
    ],
)
def test_bad_uploads_are_refused_with_a_reason(portrait, make, filename, code, status, words):
    error = refused(make(portrait), filename)
    assert (error.code, error.status) == (code, status)
    assert words in error.message


def test_a_file_over_the_size_limit_is_413(portrait):
    error = refused(variants.jpeg(portrait), "big.jpg", max_bytes=10_000)
    assert (error.code, error.status) == ("too_large", 413)
    assert "may be at most" in error.message


def test_a_webp_named_jpg_is_refused_as_altered(shared_photos):
    error = refused(shared_photos["deepface_p03/06.jpg"].data, "06.jpg")
    assert error.code == "extension_mismatch" and "WEBP" in error.message


@pytest.mark.parametrize(
    ("make", "filename"),
    [
        (variants.cmyk_jpeg, "cmyk.jpg"),
        (variants.rgba_png, "rgba.png"),
        (variants.grey_png, "grey.png"),
        (variants.png16, "sixteen.png"),
    ],
)
def test_odd_but_honest_photos_decode_to_rgb(portrait, make, filename):
    image = decode_photo(make(portrait), filename=filename, **LIMITS)
    assert image.rgb.dtype == np.uint8 and image.rgb.shape == (portrait.height, portrait.width, 3)
    reference = np.asarray(portrait.convert("L"), dtype=np.float64).mean()
    # Within a few grey levels of the original: nothing clipped to white or black.
    assert abs(image.rgb.mean() - reference) < 12


def test_exif_orientation_is_applied(portrait):
    image = decode_photo(variants.exif_rotated_jpeg(portrait), filename="phone.jpg", **LIMITS)
    assert image.size == portrait.size


def test_the_digest_is_of_the_exact_bytes(portrait):
    import hashlib

    data = variants.jpeg(portrait)
    assert decode_photo(data, **LIMITS).digest == hashlib.sha256(data).hexdigest()


# Bounded decoding: what a check-in frame or an enrollment photo may cost a worker.

FRAME_LIMITS = {**LIMITS, "max_pixels": 9_000_000}


def gradient(width: int, height: int, mode: str = "RGB") -> Image.Image:
    """Smooth synthetic pixels (with an alpha ramp for RGBA): large images that compress to little."""
    y, x = np.mgrid[0:height, 0:width]
    bands = [(x * 255 // max(1, width - 1)), (y * 255 // max(1, height - 1)), ((x + y) % 256)]
    if mode == "RGBA":
        bands.append(255 - x * 200 // max(1, width - 1))
    return Image.fromarray(np.dstack(bands).astype(np.uint8))


def test_a_6000_px_jpeg_is_accepted_and_decoded_at_most_1280_px():
    data = variants.encode(gradient(6000, 6000), "JPEG", quality=80)
    image = decode_photo(data, filename="huge.jpg", **LIMITS)
    assert image.rgb.shape == (1280, 1280, 3)


def test_a_frame_over_the_frame_pixel_limit_is_413():
    data = variants.encode(gradient(4000, 3000), "JPEG", quality=80)
    error = refused(data, "frame.jpg", **FRAME_LIMITS)
    assert (error.code, error.status) == ("too_many_pixels", 413)
    assert "4000x3000 pixels" in error.message and "at most 9 megapixels" in error.message
    assert decode_photo(data, filename="photo.jpg", **LIMITS).size == (1280, 960)


@pytest.mark.parametrize(
    ("make", "filename", "words"),
    [
        (
            lambda im: variants.encode(im.convert("RGBA"), "PNG"),
            "big.png",
            "PNG images may have at most 0.5 megapixels",
        ),
        (lambda im: variants.encode(im, "WEBP", quality=80), "big.webp", "WebP images may have at most 0.1"),
        (lambda im: variants.encode(im, "JPEG", progressive=True), "big.jpg", "progressive JPEGs may have at most 0.7"),
    ],
)
def test_formats_decoded_at_full_size_are_held_to_the_memory_budget(make, filename, words):
    error = refused(make(gradient(1000, 800)), filename, max_decode_bytes=2_000_000)
    assert (error.code, error.status) == ("too_many_pixels", 413)
    assert words in error.message and "1000x800" in error.message


def test_a_baseline_jpeg_or_a_grey_png_of_the_same_size_fits_that_budget():
    small_budget = {**LIMITS, "max_decode_bytes": 2_000_000}
    picture = gradient(1000, 800)
    assert decode_photo(variants.encode(picture, "JPEG"), **small_budget).size == (1000, 800)
    assert decode_photo(variants.encode(picture.convert("L"), "PNG"), **small_budget).size == (1000, 800)


def _whole_image_reference(rgb: Image.Image, factor: int) -> np.ndarray:
    reduced = rgb.reduce(factor)
    scale = 1280 / max(reduced.size)
    size = (round(reduced.width * scale), round(reduced.height * scale))
    return np.asarray(reduced.resize(size, Image.Resampling.LANCZOS))


def test_shrinking_in_tiles_equals_shrinking_the_whole_image(portrait):
    big = portrait.resize((3100, 2300), Image.Resampling.BICUBIC).convert("RGBA")
    big.putalpha(gradient(3100, 2300, "RGBA").getchannel("A"))
    on_white = Image.alpha_composite(Image.new("RGBA", big.size, (255, 255, 255, 255)), big).convert("RGB")
    image = decode_photo(variants.encode(big, "PNG", compress_level=1), filename="big.png", **LIMITS)
    assert np.array_equal(image.rgb, _whole_image_reference(on_white, 2))


def test_sixteen_bit_tiles_are_scaled_by_the_whole_image_range(portrait):
    big = portrait.resize((2700, 1900), Image.Resampling.BICUBIC)
    sixteen = variants.png16(big)
    grey = (np.asarray(big.convert("L"), dtype=np.uint16) * 257).astype(np.float32) * np.float32(255.0 / 65535.0)
    reference = Image.fromarray(np.clip(grey, 0, 255).astype(np.uint8)).convert("RGB")
    image = decode_photo(sixteen, filename="sixteen.png", **LIMITS)
    assert np.array_equal(image.rgb, _whole_image_reference(reference, 2))


def test_orientation_is_applied_to_a_large_photo(portrait):
    big = portrait.resize((portrait.width * 4, portrait.height * 4), Image.Resampling.BICUBIC)
    image = decode_photo(variants.exif_rotated_jpeg(big), filename="phone.jpg", **LIMITS)
    scale = 1280 / max(big.size)
    assert image.size == (round(big.width * scale), round(big.height * scale))


def test_encode_jpeg_keeps_the_pixels_and_nothing_else(portrait):
    trapped = variants.booby_trapped_jpeg(portrait)
    assert len(variants.injected_bytes_in(trapped)) == 5
    image = decode_photo(trapped, filename="trap.jpg", **LIMITS)
    stored = encode_jpeg(image.rgb)
    assert variants.injected_bytes_in(stored) == []
    assert stored.startswith(b"\xff\xd8") and stored.endswith(b"\xff\xd9")
    reopened = variants.as_image(stored)
    assert reopened.format == "JPEG" and reopened.size == portrait.size
    assert not reopened.getexif() and "comment" not in reopened.info
    difference = np.abs(np.asarray(reopened, dtype=np.int16) - np.asarray(portrait, dtype=np.int16))
    assert difference.mean() < 4  # upright: the same picture, not the turned one


MEASURE_DECODE = """
import json, sys
from pathlib import Path
from faces.images import ImageRejected, decode_photo

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) / 1024

try:
    Path("/proc/self/clear_refs").write_text("5")  # restart the peak (VmHWM) from here
except OSError:
    pass
before = status("VmRSS")
data = Path(sys.argv[1]).read_bytes()
try:
    shape = list(decode_photo(data, filename=Path(sys.argv[1]).name, **json.loads(sys.argv[2])).rgb.shape)
except ImageRejected as error:
    shape = error.code
print(json.dumps({"added_mb": status("VmHWM") - before, "result": shape}))
"""


def peak_added_by_decoding(path, limits: dict) -> dict:
    """Decode the file in a fresh interpreter; the peak resident memory it added, in MB, and what came out."""
    import json
    import subprocess
    import sys

    from django.conf import settings

    done = subprocess.run(
        [sys.executable, "-c", MEASURE_DECODE, str(path), json.dumps(limits)],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_decoding_the_worst_allowed_png_frame_adds_less_than_150_mb(tmp_path, settings):
    faces = settings.FACES
    limits = {
        "max_bytes": faces["MAX_UPLOAD_BYTES"],
        "max_pixels": faces["MAX_FRAME_PIXELS"],
        "max_decode_bytes": faces["MAX_DECODE_BYTES"],
        "max_side": faces["MAX_SIDE"],
    }
    side = math.isqrt(min(faces["MAX_FRAME_PIXELS"], faces["MAX_DECODE_BYTES"] // 4))
    worst = tmp_path / "worst.png"  # RGBA with a real alpha ramp: the most working memory a PNG takes
    worst.write_bytes(variants.encode(gradient(side, side, "RGBA"), "PNG", compress_level=1))
    assert worst.stat().st_size <= faces["MAX_UPLOAD_BYTES"]
    issue = tmp_path / "issue.png"  # the 105 KB, 6000x6000 PNG of issue 9
    issue.write_bytes(variants.encode(Image.new("RGB", (6000, 6000), (200, 180, 160)), "PNG"))

    decoded = peak_added_by_decoding(worst, limits)
    assert decoded["result"] == [faces["MAX_SIDE"], faces["MAX_SIDE"], 3]
    assert decoded["added_mb"] < 150, decoded
    refused_early = peak_added_by_decoding(issue, limits)
    assert refused_early["result"] == "too_many_pixels" and refused_early["added_mb"] < 150, refused_early
