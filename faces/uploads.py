"""Uploaded photos and check-in frames decoded within the FACES limits (faces.images does the decoding)."""

from django.conf import settings

from faces.images import DecodedImage, decode_photo


def decode_upload(data: bytes, *, filename: str = "", frame: bool = False) -> DecodedImage:
    """Decode an upload within the FACES limits; a check-in ``frame`` is held to MAX_FRAME_PIXELS."""
    faces = settings.FACES
    return decode_photo(
        data,
        filename=filename,
        max_bytes=faces["MAX_UPLOAD_BYTES"],
        max_pixels=faces["MAX_FRAME_PIXELS"] if frame else faces["MAX_PIXELS"],
        max_decode_bytes=faces["MAX_DECODE_BYTES"],
        max_side=faces["MAX_SIDE"],
    )
