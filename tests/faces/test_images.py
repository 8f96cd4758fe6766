"""faces.images: every kind of bad upload is refused with a clear reason; odd but honest photos are accepted."""

import numpy as np
import pytest

from faces.images import ImageRejected, decode_photo
from tests.faces import variants

LIMITS = {"max_bytes": 10 * 1024 * 1024, "max_pixels": 40_000_000}


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
