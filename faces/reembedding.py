"""Samples made by another pipeline, and re-embedding them with the current one from their kept photos."""

from collections.abc import Callable

from django.utils.translation import gettext as _

from faces.embedding_cache import detect_faces
from faces.enrollment import describe_sample
from faces.exceptions import ImageRejected
from faces.models import FaceSample
from faces.pipeline import current_pipeline
from faces.selectors import bump_gallery_generation
from faces.uploads import decode_upload


def gallery_status() -> str:
    """ "ok", or how many enrolled samples another pipeline made: they are not matched until re-embedded."""
    stale = FaceSample.objects.exclude(pipeline_version=current_pipeline().pipeline_version).count()
    if not stale:
        return "ok"
    return _("%(count)s sample(s) from another pipeline, not matched: run `python manage.py reembed_faces`") % {
        "count": stale
    }


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
            describe_sample(sample, faces[0])
            sample.save()
            done += 1
        else:
            failed += 1
        if progress is not None:
            progress(sample, problem)
    if done:
        bump_gallery_generation()
    return done, failed
