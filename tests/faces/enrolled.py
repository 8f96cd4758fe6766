"""Shared photos enrolled straight into the database with their session-scoped embeddings (no engine)."""

from faces import crypto
from faces.pipeline import current_pipeline
from faces.selectors import bump_gallery_generation
from tests.factories import FaceSampleFactory, UserFactory


def known_single_faces(shared_photos) -> list:
    return [
        photo
        for photo in shared_photos.values()
        if len(photo.faces) == 1 and ";" not in photo.identity and photo.identity not in ("none", "unknown")
    ]


def enroll_shared(shared_photos, identities=None, *, people=None) -> dict:
    """{identity: User} with a sample per photo of each identity (all known people by default)."""
    pipeline, people = current_pipeline(), dict(people or {})
    for photo in known_single_faces(shared_photos):
        if identities is not None and photo.identity not in identities:
            continue
        if photo.identity not in people:
            people[photo.identity] = UserFactory(username=photo.identity, first_name=photo.identity, last_name="")
        FaceSampleFactory(
            person=people[photo.identity],
            digest=photo.digest,
            embedding=crypto.encrypt(photo.faces[0].embedding.astype("<f4").tobytes()),
            dimensions=len(photo.faces[0].embedding),
            model_name=pipeline.model_name,
            detector_backend=pipeline.detector_backend,
            pipeline_version=pipeline.pipeline_version,
        )
    bump_gallery_generation()
    return people


def seed_prior_cache(shared_photos) -> None:
    """The prior's embedding cache as calibrate_faces would write it, so that no test embeds again."""
    from faces.prior import store_embeddings

    store_embeddings(
        current_pipeline().pipeline_version,
        {
            name: (photo.digest, photo.faces[0].embedding if len(photo.faces) == 1 else None)
            for name, photo in shared_photos.items()
        },
    )
