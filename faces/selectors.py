"""Reads for the faces app: the enrolled gallery and the latest calibration, kept per process behind
generation tokens.

The gallery's token (attendx.cache generations) changes whenever a sample is added, removed or
re-embedded, the calibration's whenever one is stored, so every process reloads once after a change.
Without Redis, a cheap database signature (count and latest change) takes its place.
"""

import threading

from django.db.models import Count, Max

from attendx.cache import bump_generation, current_generation
from faces.matching import Gallery
from faces.models import FaceCalibration, FaceSample

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
    return FaceSample.objects.for_gallery(
        model_name=pipeline.model_name,
        detector_backend=pipeline.detector_backend,
        pipeline_version=pipeline.pipeline_version,
    )


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
