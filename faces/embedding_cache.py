"""The faces in an image, from Redis when these exact bytes were seen before, else from the engine.

Keys hold the SHA-256 of the bytes and the pipeline's tags (model, detector, pipeline version), so
an embedding is never served to another pipeline.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from django.conf import settings

from attendx import unavailable
from attendx.cache import cache_get, cache_set
from faces.engine import EngineUnavailable, FaceQuality
from faces.exceptions import RecognitionUnavailable
from faces.images import DecodedImage
from faces.pipeline import Pipeline, current_pipeline, get_engine


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
    # faces.signals and faces.erasure clear every key of a photo with the pattern emb:<digest>:*
    tags = f"{pipeline.model_name}:{pipeline.detector_backend}:{pipeline.pipeline_version}"
    return f"emb:{digest}:{tags}" + (":small" if small_faces else "")


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
