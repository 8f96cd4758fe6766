"""Reads for the faces app: the enrolled gallery, kept per process behind a generation token.

The token (attendx.cache generations) changes whenever a sample is added, removed or re-embedded, so
every process rebuilds its gallery once after a change. Without Redis, a cheap database signature
(count and latest change) takes its place.
"""

import threading

from django.db.models import Count, Max

from attendx.cache import bump_generation, current_generation
from faces.matching import Gallery
from faces.models import FaceSample

GALLERY = "faces-gallery"

_lock = threading.Lock()
_cached: dict = {"version": None, "gallery": None}


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
