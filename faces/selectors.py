"""Reads for the faces app: the enrolled gallery and the latest calibration, kept per process behind
generation tokens; and what the enrollment and face job pages list.

The gallery's token (attendx.cache generations) changes whenever a sample is added, removed or
re-embedded, the calibration's whenever one is stored, so every process reloads once after a change.
Without Redis, a cheap database signature (count and latest change) takes its place.
"""

import threading

from django.contrib.auth import get_user_model
from django.db.models import Count, Max, Q, QuerySet

from accounts.models import Role
from attendx.cache import bump_generation, current_generation
from faces.matching import Gallery
from faces.models import FaceCalibration, FaceJob, FaceSample

GALLERY = "faces-gallery"
CALIBRATION = "faces-calibration"

_lock = threading.Lock()
_cached: dict = {"version": None, "gallery": None}
_calibration: dict = {"version": None, "calibration": None}


def bump_gallery_generation() -> None:
    bump_generation(GALLERY)


def _database_signature() -> str:
    summary = FaceSample.objects.aggregate(count=Count("pk"), latest=Max("updated_at"))
    return f"db:{summary['count']}:{summary['latest']}"


def samples_for_gallery(*, pipeline):
    return FaceSample.objects.for_gallery(**pipeline.tags())


def enrolled_gallery(*, pipeline) -> Gallery:
    """Every active person's samples made by ``pipeline`` (model, detector and pipeline version)."""
    version = f"{current_generation(GALLERY) or _database_signature()}|{pipeline.pipeline_version}"
    with _lock:
        if _cached["version"] == version:
            return _cached["gallery"]
    rows = samples_for_gallery(pipeline=pipeline).values_list("person_id", "embedding")
    gallery = Gallery((str(person), FaceSample.vector_from_bytes(data)) for person, data in rows)
    with _lock:
        _cached.update(version=version, gallery=gallery)
    return gallery


def bump_calibration_generation() -> None:
    bump_generation(CALIBRATION)


def _calibration_signature() -> str:
    summary = FaceCalibration.objects.aggregate(count=Count("pk"), latest=Max("created_at"))
    return f"db:{summary['count']}:{summary['latest']}"


def latest_calibration(*, pipeline_version: str) -> FaceCalibration | None:
    """The newest calibration made on ``pipeline_version``'s embeddings, or None; read from the
    database once per process after each new calibration."""
    version = f"{current_generation(CALIBRATION) or _calibration_signature()}|{pipeline_version}"
    with _lock:
        if _calibration["version"] == version:
            return _calibration["calibration"]
    calibration = FaceCalibration.objects.for_pipeline(pipeline_version=pipeline_version).latest_first().first()
    with _lock:
        _calibration.update(version=version, calibration=calibration)
    return calibration


def latest_calibration_of_any_pipeline() -> FaceCalibration | None:
    return FaceCalibration.objects.latest_first().first()


# What the enrollment and face job pages list; views look single rows up in these with get_object_or_404.

PEOPLE_LISTED = 200
RECENT_JOBS = 20


def active_people() -> QuerySet:
    return get_user_model().objects.filter(is_active=True)


def people_to_enroll(*, query: str = "") -> list:
    """Active people (devices left out) whose name or username contains ``query``, each with
    ``sample_count``, their enrolled photos."""
    people = active_people().exclude(role=Role.KIOSK)
    if query:
        people = people.filter(
            Q(username__icontains=query) | Q(first_name__icontains=query) | Q(last_name__icontains=query)
        )
    return list(people.annotate(sample_count=Count("face_samples"))[:PEOPLE_LISTED])


def samples_of(*, person) -> list[FaceSample]:
    return list(person.face_samples.all())


def samples_with_person() -> QuerySet[FaceSample]:
    return FaceSample.objects.select_related("person")


def face_jobs() -> QuerySet[FaceJob]:
    return FaceJob.objects.select_related("started_by")


def recent_face_jobs() -> list[FaceJob]:
    return list(face_jobs()[:RECENT_JOBS])
