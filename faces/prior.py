"""The public labelled pairs as a prior for calibrating a small gallery, embedded once per pipeline.

The photos (``manifest.csv``, ``pairs.csv`` and the files they name, in FACES CALIBRATION_PRIOR_DIR)
are not part of the project and may be missing (then there is no prior). Their embeddings are cached
in CALIBRATION_CACHE_DIR as float32 arrays tagged with the pipeline and each file's SHA-256, never in
the repository; a file that changed is embedded again.
"""

import csv
import logging
import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings

from faces.calibration import DistanceCounts, prior_distances
from faces.images import image_digest

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prior:
    genuine: DistanceCounts
    impostor: DistanceCounts
    directory: Path
    photos: int  # embedded with exactly one face


def _cache_path(pipeline_version: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", pipeline_version)
    return Path(settings.FACES["CALIBRATION_CACHE_DIR"]) / f"prior-{safe}.npz"


def cached_embeddings(pipeline_version: str) -> dict[str, tuple[str, np.ndarray | None]]:
    """{file name: (SHA-256, embedding, or None for a photo without exactly one face)} from the cache;
    empty when there is none or it is unreadable."""
    path = _cache_path(pipeline_version)
    try:
        with np.load(path, allow_pickle=False) as data:
            if str(data["pipeline_version"]) != pipeline_version:
                return {}
            return {
                str(name): (str(digest), vector if np.isfinite(vector).all() else None)
                for name, digest, vector in zip(data["names"], data["digests"], data["vectors"], strict=True)
            }
    except (OSError, KeyError, ValueError):
        return {}


def store_embeddings(pipeline_version: str, embeddings: Mapping[str, tuple[str, np.ndarray | None]]) -> bool:
    """Write the cache (no pickle); False (and a warning) when the folder is not writable."""
    path = _cache_path(pipeline_version)
    names = sorted(embeddings)
    dimensions = next((len(vector) for _, vector in embeddings.values() if vector is not None), 128)
    vectors = [embeddings[name][1] for name in names]
    vectors = [np.full(dimensions, np.nan) if vector is None else vector for vector in vectors]
    # Written beside the cache and renamed over it: a process reading at the same time sees the old file
    # or the new one, never half of one.
    partial = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(partial, "wb") as handle:
            np.savez(
                handle,
                pipeline_version=np.array(pipeline_version),
                names=np.array(names, dtype=str),
                digests=np.array([embeddings[name][0] for name in names], dtype=str),
                vectors=np.asarray(vectors, dtype=np.float32).reshape(len(names), dimensions),
            )
        os.replace(partial, path)
    except OSError as error:
        partial.unlink(missing_ok=True)
        logger.warning("Cannot cache the prior's embeddings at %s: %s", path, error)
        return False
    return True


def read_pairs(directory: Path) -> list[tuple[str, str, bool]]:
    with open(directory / "pairs.csv", newline="") as handle:
        return [(row["file_a"], row["file_b"], row["same_person"] == "yes") for row in csv.DictReader(handle)]


def public_prior(*, pipeline_version: str, embed) -> Prior | None:
    """The public pairs' genuine and impostor distances, or None when the photos are not there.

    ``embed(data: bytes) -> list of unit vectors`` (one per face) is called only for photos the cache
    does not hold.
    """
    directory = Path(settings.FACES["CALIBRATION_PRIOR_DIR"])
    try:
        pairs = read_pairs(directory)
    except (OSError, KeyError, csv.Error):
        return None
    cached, embeddings, changed = cached_embeddings(pipeline_version), {}, False
    for name in sorted({name for a, b, _ in pairs for name in (a, b)}):
        try:
            data = (directory / name).read_bytes()
        except OSError:
            continue
        digest = image_digest(data)
        if name in cached and cached[name][0] == digest:
            embeddings[name] = cached[name]
            continue
        faces = embed(data)
        changed = True
        embeddings[name] = (digest, np.asarray(faces[0], dtype=np.float32) if len(faces) == 1 else None)
    if changed:
        store_embeddings(pipeline_version, embeddings)
    usable = {name: vector for name, (_, vector) in embeddings.items() if vector is not None}
    genuine, impostor = prior_distances(pairs, usable)
    if not genuine.total or not impostor.total:
        return None
    return Prior(genuine=genuine, impostor=impostor, directory=directory, photos=len(usable))
