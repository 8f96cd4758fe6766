"""Reads for the faces app: the enrolled gallery, kept per process behind a generation token.

The token lives in Redis and changes whenever a sample is added, removed or re-embedded, so every
process rebuilds its gallery once after a change. Without Redis, a cheap database signature (count
and latest change) takes its place.
"""

import threading
import uuid

from django.db.models import Count, Max

from attendx.cache import cache_get, cache_set
from faces.matching import Gallery
from faces.models import FaceSample

GALLERY_GENERATION_KEY = "faces:gallery:generation"
# A token written while Redis was unreachable is lost; the short life bounds how long a stale one lives.
GALLERY_GENERATION_TTL = 60

_lock = threading.Lock()
_cached: dict = {"version": None, "gallery": None}


def bump_gallery_generation() -> None:
    cache_set(GALLERY_GENERATION_KEY, uuid.uuid4().hex, expire=GALLERY_GENERATION_TTL)


def _database_signature() -> str:
    summary = FaceSample.objects.aggregate(count=Count("pk"), latest=Max("updated_at"))
    return f"db:{summary['count']}:{summary['latest']}"


def gallery_version() -> str:
    token = cache_get(GALLERY_GENERATION_KEY)
    if token is None:
        signature = _database_signature()
        cache_set(GALLERY_GENERATION_KEY, signature, expire=GALLERY_GENERATION_TTL)
        return signature
    return token


def samples_for_gallery(*, pipeline):
    return FaceSample.objects.for_gallery(
        model_name=pipeline.model_name,
        detector_backend=pipeline.detector_backend,
        pipeline_version=pipeline.pipeline_version,
    )


def enrolled_gallery(*, pipeline) -> Gallery:
    """Every active person's samples made by ``pipeline`` (model, detector and pipeline version)."""
    version = f"{gallery_version()}|{pipeline.pipeline_version}"
    with _lock:
        if _cached["version"] == version:
            return _cached["gallery"]
    rows = samples_for_gallery(pipeline=pipeline).values_list("person_id", "embedding")
    gallery = Gallery((str(person), FaceSample.vector_from_bytes(data)) for person, data in rows)
    with _lock:
        _cached.update(version=version, gallery=gallery)
    return gallery
