"""Enrolling face photos: all or nothing, so a refusal leaves no file, no row and no cache key.

Every photo of a request passes decoding, the quality gate and the duplicate check before anything is
stored; what is stored is the decoded pixels re-encoded, never the uploaded bytes.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.db import IntegrityError
from django.utils.translation import gettext as _

from accounts.consent import has_consent, text_in_force
from attendx.db import on_commit, run_in_transaction
from faces.embedding_cache import DetectedFace, detect_faces, remember_faces
from faces.exceptions import (
    AlreadyEnrolled,
    ConsentRequired,
    DuplicatePhoto,
    EnrollmentRefused,
    ImageRejected,
    ManyFacesFound,
    NoFaceFound,
    PoorQuality,
)
from faces.images import DecodedImage, encode_jpeg
from faces.models import FaceSample, Source
from faces.pipeline import current_pipeline
from faces.selectors import bump_gallery_generation, enrolled_gallery
from faces.thresholds import thresholds
from faces.uploads import decode_upload

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Photo:
    data: bytes
    filename: str = ""


class PhotosRefused(ValueError):
    """One or more photos of an enrollment were refused; nothing was stored."""

    def __init__(self, refusals: Sequence[tuple[str, Exception]]):
        self.refusals = list(refusals)
        super().__init__("; ".join(f"{name or 'photo'}: {error}" for name, error in self.refusals))

    @property
    def status(self) -> int:
        return max(getattr(error, "status", 400) for _name, error in self.refusals)


@dataclass(frozen=True, eq=False)
class _Accepted:
    photo: Photo
    image: DecodedImage
    face: DetectedFace
    jpeg: bytes  # what is stored: the decoded pixels, re-encoded; never the uploaded bytes


def _quality_gate(face: DetectedFace) -> None:
    limits, quality = settings.FACES, face.quality
    if quality.size_px < limits["MIN_FACE_PX"]:
        raise PoorQuality(
            _(
                "The face is too small (%(size)d px across; at least %(minimum)d px): "
                "move closer to the camera or use a larger photo."
            )
            % {"size": quality.size_px, "minimum": limits["MIN_FACE_PX"]}
        )
    if quality.brightness < limits["MIN_BRIGHTNESS"]:
        raise PoorQuality(_("The photo is too dark: face a light source and try again."))
    if quality.brightness > limits["MAX_BRIGHTNESS"]:
        raise PoorQuality(_("The photo is too bright: avoid direct light on the face and try again."))
    # After exposure: the Laplacian variance of a dark, flat photo is low even when it is sharp.
    if quality.sharpness < limits["MIN_SHARPNESS"]:
        raise PoorQuality(_("The photo is blurry: hold still, clean the lens and try again."))


def _check_photo(person, photo: Photo, seen_digests: set[str]) -> _Accepted:
    image = decode_upload(photo.data, filename=photo.filename)
    if image.digest in seen_digests or FaceSample.objects.filter(person=person, digest=image.digest).exists():
        raise DuplicatePhoto()
    faces = detect_faces(image, remember=False)
    if not faces:
        raise NoFaceFound()
    if len(faces) > 1:
        raise ManyFacesFound(len(faces))
    face = faces[0]
    _quality_gate(face)
    match = enrolled_gallery(pipeline=current_pipeline()).search(face.embedding, exclude=str(person.pk))
    if match.person is not None and match.distance < thresholds().accept:
        other = get_user_model().objects.get(pk=match.person)
        raise AlreadyEnrolled(matched_person=other, distance=match.distance)
    seen_digests.add(image.digest)
    return _Accepted(photo=photo, image=image, face=face, jpeg=encode_jpeg(image.rgb))


def describe_sample(sample: FaceSample, face: DetectedFace) -> None:
    """Tag ``sample`` with ``face`` and the pipeline that produced it (enrollment and re-embedding)."""
    pipeline = current_pipeline()
    sample.model_name = pipeline.model_name
    sample.detector_backend = pipeline.detector_backend
    sample.pipeline_version = pipeline.pipeline_version
    sample.box = list(face.box)
    sample.face_size = face.quality.size_px
    sample.sharpness = face.quality.sharpness
    sample.brightness = face.quality.brightness
    sample.set_vector(face.embedding)


def _new_sample(person, accepted: _Accepted, *, source: str, enrolled_by) -> FaceSample:
    sample = FaceSample(
        person=person,
        digest=accepted.image.digest,
        image_format="JPEG",
        source=source,
        enrolled_by=enrolled_by,
    )
    describe_sample(sample, accepted.face)
    return sample


def _require_consent(person) -> None:
    if not has_consent(person):
        text = text_in_force()
        raise PhotosRefused([("", ConsentRequired(person=person, version=text.version if text else None))])


def face_enroll(*, person, photos: Sequence[Photo], source: str = Source.UPLOAD, enrolled_by=None) -> list[FaceSample]:
    """Enroll every photo or none; raise PhotosRefused (with a reason per photo) or RecognitionUnavailable.

    A person without consent to the text in force (accounts.consent) is refused before any photo is
    read: PhotosRefused carrying one ConsentRequired (403), so every caller reports it as any refusal.
    """
    _require_consent(person)
    if not photos:
        raise PhotosRefused([("", EnrollmentRefused(_("Choose at least one photo.")))])
    accepted, refusals, seen = [], [], set()
    for photo in photos:
        try:
            accepted.append(_check_photo(person, photo, seen))
        except (ImageRejected, EnrollmentRefused) as error:
            refusals.append((photo.filename, error))
    if refusals:
        raise PhotosRefused(refusals)

    written: list[str] = []
    storage = FaceSample.image.field.storage

    def after_commit():
        for item in accepted:
            remember_faces(item.image.digest, [item.face])
        bump_gallery_generation()

    def write() -> list[FaceSample]:
        # Run again after a conflict (MongoDB): the files of the aborted attempt go first.
        for name in written:
            storage.delete(name)
        written.clear()
        _require_consent(person)  # again, in the transaction: consent may have been withdrawn meanwhile
        digests = [item.image.digest for item in accepted]
        if FaceSample.objects.filter(person=person, digest__in=digests).exists():
            raise DuplicatePhoto()  # a concurrent request enrolled the same photo
        samples = []
        for item in accepted:
            sample = _new_sample(person, item, source=source, enrolled_by=enrolled_by)
            if settings.FACES_KEEP_PHOTOS:
                sample.image.save(item.image.digest, ContentFile(item.jpeg), save=False)
                written.append(sample.image.name)
            sample.save()
            samples.append(sample)
        on_commit(after_commit)
        return samples

    try:
        samples = run_in_transaction(write)
    except BaseException as error:
        for name in written:
            storage.delete(name)
        if isinstance(error, IntegrityError | DuplicatePhoto):
            raise PhotosRefused([(accepted[0].photo.filename, DuplicatePhoto())]) from error
        raise
    logger.info("Enrolled %d photo(s) for %s (%s)", len(samples), person, source)
    return samples


def face_sample_delete(*, sample: FaceSample) -> None:
    """Delete a sample; its file, cache keys and the gallery follow (faces.signals)."""
    sample.delete()
