"""Face services: settings + engine + digest cache + matching + calibration + database.

``face_enroll`` is all or nothing: every photo of a request passes decoding, the quality gate and the
duplicate check before anything is stored, so a refusal leaves no file, no row and no cache key.
Detections are cached in Redis under the SHA-256 of the exact bytes plus the pipeline's identity.
The thresholds in force are the latest calibration's (``face_calibrate``) unless settings pin them.
"""

import dataclasses
import functools
import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.db import IntegrityError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.consent import has_consent, text_in_force
from attendx import unavailable
from attendx.cache import cache_get, cache_set
from attendx.db import on_commit, run_in_transaction
from faces import calibration as calibration_core
from faces.engine import Engine, EngineConfig, EngineUnavailable, FaceQuality
from faces.exceptions import (
    AlreadyEnrolled,
    CalibrationRefused,
    ConsentRequired,
    DuplicatePhoto,
    EnrollmentRefused,
    ImageRejected,
    ManyFacesFound,
    NoFaceFound,
    PoorQuality,
    RecognitionUnavailable,
)
from faces.images import DecodedImage, decode_photo, encode_jpeg
from faces.matching import Decision, Match, Thresholds, decide
from faces.models import FaceCalibration, FaceSample, Source
from faces.prior import Prior, public_prior
from faces.selectors import (
    bump_calibration_generation,
    bump_gallery_generation,
    enrolled_gallery,
    latest_calibration,
)
from faces.weights import CONVERTED_MODEL, INSTALL_COMMAND, converted_model

logger = logging.getLogger(__name__)


@functools.cache
def _engine_for(config: EngineConfig) -> Engine:
    return Engine(config)


def engine_config() -> EngineConfig:
    """The engine the FACES settings ask for; raises EngineConfigError when they ask for the impossible."""
    faces = settings.FACES
    return EngineConfig(
        deepface_home=str(settings.DEEPFACE_HOME),
        model_name=faces["MODEL"],
        detector_backend=faces["DETECTOR"],
        detect_max_side=faces["DETECT_MAX_SIDE"],
        yuface_max_side=faces["YUFACE_MAX_SIDE"],
        yuface_small_faces_max_side=faces["YUFACE_CAMERA_MAX_SIDE"],
        max_side=faces["MAX_SIDE"],
        descriptor=faces["DESCRIPTOR"],
        onnx_threads=faces["ONNX_THREADS"],
    )


def descriptor_status() -> str:
    """Who runs the face network in this deployment: "onnxruntime", or "dlib: <why>" (the slow fallback)."""
    if settings.FACES["DESCRIPTOR"] == "dlib":
        return "dlib: FACES_DESCRIPTOR=dlib"
    if converted_model(settings.DEEPFACE_HOME).is_file():
        return "onnxruntime"
    return f"dlib: {CONVERTED_MODEL} missing, run `{INSTALL_COMMAND}`"


def gallery_status() -> str:
    """ "ok", or how many enrolled samples another pipeline made: they are not matched until re-embedded."""
    stale = FaceSample.objects.exclude(pipeline_version=current_pipeline().pipeline_version).count()
    if not stale:
        return "ok"
    return _("%(count)s sample(s) from another pipeline, not matched: run `python manage.py reembed_faces`") % {
        "count": stale
    }


def get_engine() -> Engine:
    """The process's engine for the current settings; models load on first use, once."""
    return _engine_for(engine_config())


@dataclass(frozen=True)
class Pipeline:
    """What an embedding is tagged with; embeddings are only compared within one pipeline."""

    model_name: str
    detector_backend: str
    pipeline_version: str


def current_pipeline() -> Pipeline:
    engine = get_engine()
    return Pipeline(engine.config.model_name, engine.config.detector_backend, engine.pipeline_version)


def configured_thresholds() -> Thresholds:
    """The thresholds the FACES settings hold: pinned values, or the built-in defaults."""
    faces = settings.FACES
    return Thresholds(
        accept=faces["ACCEPT_DISTANCE"],
        review=faces["REVIEW_DISTANCE"],
        margin=faces["MARGIN"],
        lookalike_margin=max(faces["MARGIN"], faces["LOOKALIKE_MARGIN"]),
    )


@dataclass(frozen=True)
class ThresholdsInForce:
    thresholds: Thresholds
    source: str  # "pinned", "calibration" or "defaults"
    calibration: FaceCalibration | None = None  # the latest of this pipeline, in force or not


def thresholds_in_force() -> ThresholdsInForce:
    """Pinned settings win; else the latest calibration of the current pipeline; else the defaults.

    Cheap per request: the calibration is read once per process after each new one (selectors).
    """
    calibration = latest_calibration(pipeline_version=current_pipeline().pipeline_version)
    if settings.FACES["THRESHOLDS_PINNED"]:
        return ThresholdsInForce(configured_thresholds(), "pinned", calibration)
    if calibration is not None:
        try:
            return ThresholdsInForce(calibration_thresholds(calibration), "calibration", calibration)
        except ValueError as error:  # a row edited by hand into nonsense
            logger.error("Calibration %s has impossible thresholds (%s): using the settings", calibration.pk, error)
    return ThresholdsInForce(configured_thresholds(), "defaults", calibration)


def calibration_thresholds(calibration: FaceCalibration) -> Thresholds:
    return Thresholds(
        accept=calibration.accept_distance,
        review=calibration.review_distance,
        margin=calibration.margin,
        lookalike_margin=calibration.lookalike_margin,
    )


def thresholds() -> Thresholds:
    """The thresholds in force (thresholds_in_force)."""
    if settings.FACES["THRESHOLDS_PINNED"]:
        return configured_thresholds()
    return thresholds_in_force().thresholds


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


@dataclass(frozen=True, eq=False)
class DetectedFace:
    box: tuple[int, int, int, int]
    quality: FaceQuality
    embedding: np.ndarray  # float32, unit length

    def to_json(self) -> dict:
        return {
            "box": list(self.box),
            "quality": [self.quality.size_px, self.quality.sharpness, self.quality.brightness],
            "embedding": [float(value) for value in self.embedding],
        }

    @classmethod
    def from_json(cls, value: dict) -> "DetectedFace":
        size_px, sharpness, brightness = value["quality"]
        return cls(
            box=tuple(value["box"]),
            quality=FaceQuality(size_px=int(size_px), sharpness=sharpness, brightness=brightness),
            embedding=np.asarray(value["embedding"], dtype=np.float32),
        )


def embedding_cache_key(digest: str, pipeline: Pipeline, *, small_faces: bool = False) -> str:
    # pipeline_version names the model, the detector, alignment and its parameters.
    return f"emb:{digest}:{pipeline.pipeline_version}" + (":small" if small_faces else "")


def remember_faces(digest: str, faces: Sequence[DetectedFace], *, small_faces: bool = False) -> bool:
    key = embedding_cache_key(digest, current_pipeline(), small_faces=small_faces)
    return cache_set(key, [face.to_json() for face in faces], expire=settings.FACES["EMBEDDING_CACHE_TTL"])


def detect_faces(image: DecodedImage, *, remember: bool, small_faces: bool = False) -> list[DetectedFace]:
    """Every face in the image, from the digest cache when these exact bytes were seen before.

    ``remember`` stores a fresh result with faces in it; enrollment caches only after it commits.
    ``small_faces``: a camera frame, searched at the detector's larger size (Engine.detect_and_embed).
    """
    cached = cache_get(embedding_cache_key(image.digest, current_pipeline(), small_faces=small_faces))
    if cached is not None:
        return [DetectedFace.from_json(value) for value in cached]
    try:
        found = get_engine().detect_and_embed(image.rgb, small_faces=small_faces)
    except EngineUnavailable as exc:
        raise RecognitionUnavailable(str(exc)) from exc
    unavailable.note_available(unavailable.RECOGNITION)
    faces = [DetectedFace(box=face.box, quality=face.quality, embedding=face.embedding) for face in found]
    if remember and faces:
        remember_faces(image.digest, faces, small_faces=small_faces)
    return faces


# Enrollment


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


def _describe(sample: FaceSample, face: DetectedFace) -> None:
    """Tag ``sample`` with ``face`` and the pipeline that produced it."""
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
    _describe(sample, accepted.face)
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


def reembed_samples(samples, *, progress: Callable[[FaceSample, str | None], None] | None = None) -> tuple[int, int]:
    """Recompute embeddings with the current pipeline; return (re-embedded, failed).

    A sample that fails keeps its old embedding (and so drops out of a gallery of another pipeline), as
    does one without a photo (FACES_KEEP_PHOTOS off): there is nothing to re-embed it from.
    """
    done = failed = 0
    for sample in samples:
        problem = None
        try:
            if not sample.image:
                raise FileNotFoundError("no photo kept, only the template")
            with sample.image.open("rb") as handle:
                faces = detect_faces(decode_upload(handle.read()), remember=True)
            if len(faces) != 1:
                problem = "no face found" if not faces else f"{len(faces)} faces found"
        except (OSError, ImageRejected) as error:
            problem = f"cannot read the stored photo ({error})"
        if problem is None:
            _describe(sample, faces[0])
            sample.save()
            done += 1
        else:
            failed += 1
        if progress is not None:
            progress(sample, problem)
    if done:
        bump_gallery_generation()
    return done, failed


# Identification


@dataclass(frozen=True)
class Identification:
    box: tuple[int, int, int, int]
    decision: Decision
    match: Match
    person: object | None  # the User for accept and review; None for reject: never the nearest name

    def to_json(self) -> dict:
        return {
            "box": list(self.box),
            "identity": self.person.get_username() if self.person is not None else None,
            "distance": None if self.match.distance is None else round(self.match.distance, 4),
            "decision": str(self.decision),
        }


def face_identify(
    *,
    image: DecodedImage,
    among: Collection[str] | None = None,
    remember: bool = False,
    small_faces: bool = False,
) -> list[Identification]:
    """A decision per face; ``among`` (person keys) limits matching to a roster. When the nearest and
    the runner-up are look-alikes, accepting needs the thresholds' larger ``lookalike_margin``.

    Kiosk and camera frames are never seen twice, so they are not cached unless ``remember`` says so.
    ``small_faces`` for camera frames (see detect_faces).
    """
    faces = detect_faces(image, remember=remember, small_faces=small_faces)
    gallery = enrolled_gallery(pipeline=current_pipeline())
    limits = thresholds()
    lookalikes = gallery.lookalike_index(within=limits.review)
    results = []
    for face in faces:
        match = gallery.search(face.embedding, among=among)
        results.append((face, match, decide(match, limits, lookalikes=lookalikes)))
    keys = {match.person for _face, match, decision in results if decision is not Decision.REJECT}
    people = get_user_model().objects.in_bulk(list(keys)) if keys else {}
    by_key = {str(pk): user for pk, user in people.items()}
    return [
        Identification(
            box=face.box,
            decision=decision,
            match=match,
            person=None if decision is Decision.REJECT else by_key.get(match.person),
        )
        for face, match, decision in results
    ]


# Look-alikes and calibration


@dataclass(frozen=True)
class LookAlikePerson:
    person: object  # the User
    distance: float  # between their nearest samples


def face_lookalikes(*, person) -> list[LookAlikePerson]:
    """Enrolled people whose nearest sample is within the review distance of one of ``person``'s."""
    gallery = enrolled_gallery(pipeline=current_pipeline())
    found = gallery.lookalikes_of(str(person.pk), within=thresholds().review)
    people = get_user_model().objects.in_bulk([pair.second for pair in found]) if found else {}
    by_key = {str(pk): user for pk, user in people.items()}
    return [LookAlikePerson(by_key[pair.second], pair.distance) for pair in found if pair.second in by_key]


@dataclass(frozen=True)
class CalibrationRun:
    result: calibration_core.Calibration
    names: dict[str, str]  # person key -> name, for the look-alikes
    prior: Prior | None  # the public pairs, when they were available and wanted
    stored: FaceCalibration | None  # None for a dry run


def _embed_photo(data: bytes) -> list:
    try:
        image = decode_upload(data)
    except ImageRejected:
        return []
    try:
        return [face.embedding for face in get_engine().detect_and_embed(image.rgb)]
    except EngineUnavailable as exc:
        raise RecognitionUnavailable(str(exc)) from exc


def face_calibrate(*, target: float | None = None, use_prior: bool = True, store: bool = True) -> CalibrationRun:
    """Calibrate the thresholds on the enrolled gallery of the current pipeline (faces.calibration).

    ``target``: strangers accepted per check-in (FACES CALIBRATION_TARGET_RATE by default). The public
    pairs are pooled in when the gallery is small and ``use_prior`` allows. ``store`` writes a
    FaceCalibration, which every process then takes as the thresholds in force (unless pinned).
    Raises CalibrationRefused when there is not enough to calibrate on, RecognitionUnavailable when
    the prior's photos need the engine and it cannot run.
    """
    target = settings.FACES["CALIBRATION_TARGET_RATE"] if target is None else target
    pipeline = current_pipeline()
    gallery = enrolled_gallery(pipeline=pipeline)
    prior = None
    if use_prior and calibration_core.is_small(gallery):
        prior = public_prior(pipeline_version=pipeline.pipeline_version, embed=_embed_photo)
    try:
        result = calibration_core.calibrate(
            gallery,
            target=target,
            prior=(prior.genuine, prior.impostor) if prior is not None else None,
            pool=None if use_prior else False,
        )
    except ValueError as error:
        raise CalibrationRefused(str(error)) from error
    keys = sorted({key for pair in result.lookalikes for key in (pair.first, pair.second)})
    people = get_user_model().objects.in_bulk(keys) if keys else {}
    names = {str(pk): str(user) for pk, user in people.items()}
    stored = _store_calibration(result, names, pipeline) if store else None
    return CalibrationRun(result=result, names=names, prior=prior, stored=stored)


def _store_calibration(result: calibration_core.Calibration, names: dict[str, str], pipeline: Pipeline):
    limits = result.thresholds
    calibration = FaceCalibration(
        model_name=pipeline.model_name,
        detector_backend=pipeline.detector_backend,
        pipeline_version=pipeline.pipeline_version,
        people=result.people,
        samples=result.samples,
        accept_distance=limits.accept,
        review_distance=limits.review,
        margin=limits.margin,
        lookalike_margin=limits.lookalike_margin,
        target_rate=result.target,
        prior_pooled=result.prior_pooled,
        genuine_pairs=result.genuine.total,
        impostor_pairs=result.impostor.total,
        histogram={
            "bin_width": calibration_core.CHART_BIN,
            "genuine": result.site_genuine.chart(),
            "impostor": result.site_impostor.chart(),
            "prior_genuine": result.prior_genuine.chart() if result.prior_pooled else [],
            "prior_impostor": result.prior_impostor.chart() if result.prior_pooled else [],
        },
        table=[dataclasses.asdict(row) for row in result.table()],
        lookalikes=[
            {
                "first": pair.first,
                "first_name": names.get(pair.first, pair.first),
                "second": pair.second,
                "second_name": names.get(pair.second, pair.second),
                "distance": round(pair.distance, 4),
            }
            for pair in result.lookalikes
        ],
        searches=dataclasses.asdict(result.searches),
        notes=result.notes,
    )

    def write():
        calibration.save()
        on_commit(bump_calibration_generation)
        return calibration

    saved = run_in_transaction(write)
    logger.info(
        "Calibrated on %d people: accept %.3f, review %.3f, margin %.3f, look-alike margin %.3f",
        result.people,
        limits.accept,
        limits.review,
        limits.margin,
        limits.lookalike_margin,
    )
    return saved


GROWTH_BEFORE_RECALIBRATION = 1.5


def calibration_due() -> str | None:
    """Why staff should run calibrate_faces, or None: faces are enrolled and were never calibrated
    (on this pipeline), or the gallery has grown by half its people since the last calibration."""
    people = len(enrolled_gallery(pipeline=current_pipeline()).people)
    if not people:
        return None
    latest = latest_calibration(pipeline_version=current_pipeline().pipeline_version)
    if latest is None:
        return ngettext(
            "%(count)d person is enrolled and the face thresholds were never calibrated on them: "
            "run `python manage.py calibrate_faces`.",
            "%(count)d people are enrolled and the face thresholds were never calibrated on them: "
            "run `python manage.py calibrate_faces`.",
            people,
        ) % {"count": people}
    if people >= GROWTH_BEFORE_RECALIBRATION * latest.people:
        return _(
            "The gallery has grown from %(before)d to %(now)d people since the last calibration "
            "(%(day)s): run `python manage.py calibrate_faces` again."
        ) % {"before": latest.people, "now": people, "day": f"{latest.created_at:%Y-%m-%d}"}
    return None


@dataclass(frozen=True)
class CalibrationOverview:
    """What the staff calibration page shows."""

    in_force: ThresholdsInForce
    latest: FaceCalibration | None  # of the current pipeline
    people_now: int
    samples_now: int
    due: str | None  # calibration_due()


def calibration_overview() -> CalibrationOverview:
    gallery = enrolled_gallery(pipeline=current_pipeline())
    in_force = thresholds_in_force()
    return CalibrationOverview(
        in_force=in_force,
        latest=in_force.calibration,
        people_now=len(gallery.people),
        samples_now=len(gallery),
        due=calibration_due(),
    )
