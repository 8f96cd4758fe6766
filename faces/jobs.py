"""Batches of face work done by a Celery worker (faces.tasks): bulk enrollment and re-embedding.

The FaceJob row is the truth and the queued message only a wake-up: a job whose message is lost (Redis
restarted without its data) is queued again by ``resume_stalled_jobs``, and one whose worker was
killed is delivered again (acks late). Running a step twice has its effect once: progress is written
with a compare-and-set on the job's position, enrollment is held to one sample per person and photo
by the database, and re-embedding only picks samples not yet re-embedded since the job began.
"""

import logging
import os
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import PurePosixPath

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.utils import timezone
from django.utils.translation import gettext

from faces.enrollment import Photo, PhotosRefused, face_enroll
from faces.exceptions import DuplicatePhoto
from faces.images import image_digest
from faces.models import FaceJob, FaceSample, JobKind, JobState, Source
from faces.pipeline import current_pipeline
from faces.reembedding import reembed_samples
from faces.storage import private_face_storage

logger = logging.getLogger(__name__)

STAGING = "staging"


class JobRefused(ValueError):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class PhotoFor:
    """One photo of a bulk enrollment: whose it is, and the label staff see ("identity/file name")."""

    person: object
    photo: Photo
    label: str


# Starting jobs


def _queue(job: FaceJob) -> None:
    from attendx.queue import enqueue
    from faces.tasks import run_face_job

    enqueue(run_face_job, str(job.pk))


def start_enrollment_job(*, photos: Sequence[PhotoFor], started_by=None) -> FaceJob:
    """Stage the photos in private storage, record the job and queue it.

    Raises QueueUnavailable (attendx.queue) when the broker is down: then no staged file and no row
    are left behind.
    """
    if not photos:
        raise JobRefused(gettext("The archive holds no photos."))
    storage = private_face_storage()
    folder = f"{STAGING}/{uuid.uuid4().hex}"
    written: list[str] = []
    job = None
    try:
        for index, item in enumerate(photos):
            written.append(storage.save(f"{folder}/{index:05d}", ContentFile(item.photo.data)))
        job = FaceJob.objects.create(
            kind=JobKind.ENROLL,
            started_by=started_by,
            total=len(photos),
            items=[
                {"person": str(item.person.pk), "name": item.label, "file": name}
                for item, name in zip(photos, written, strict=True)
            ],
        )
        _queue(job)
    except BaseException:
        if job is not None:
            FaceJob.objects.filter(pk=job.pk).delete()
        _delete_staged(written)
        raise
    logger.info("Queued bulk enrollment %s: %d photo(s)", job.pk, job.total)
    return job


def _reembed_scope(*, since, everything: bool, failed: Sequence[str] = ()):
    """Samples a re-embedding begun at ``since`` has still to do."""
    samples = FaceSample.objects.filter(updated_at__lt=since)
    if not everything:
        samples = samples.exclude(pipeline_version=current_pipeline().pipeline_version)
    if failed:
        samples = samples.exclude(pk__in=list(failed))
    return samples


def start_reembed_job(*, everything: bool = False, started_by=None) -> FaceJob | None:
    """Queue a re-embedding of the samples of another pipeline (every sample with ``everything``).

    None when there is nothing to do. Raises QueueUnavailable, leaving no row, when the broker is down.
    """
    job = FaceJob(kind=JobKind.REEMBED, everything=everything, started_by=started_by)
    job.total = _reembed_scope(since=job.created_at, everything=everything).count()
    if not job.total:
        return None
    job.save()
    try:
        _queue(job)
    except BaseException:
        job.delete()
        raise
    logger.info("Queued re-embedding %s: %d sample(s)", job.pk, job.total)
    return job


# Running jobs


def run_job(job_key: str, *, continued: bool = False) -> str:
    """Work on a job for up to FACES["JOB_STEP_SECONDS"]; return "done", "failed", "more" or "gone".

    "more": the caller queues the continuation (``continued=True``, which is not a new attempt).
    """
    job = FaceJob.objects.filter(pk=job_key).first()
    if job is None or job.finished:
        return "gone"
    limits = settings.FACES
    attempts = job.attempts if continued else job.attempts + 1
    if attempts > limits["JOB_MAX_ATTEMPTS"]:
        _finish(job, JobState.FAILED, f"Gave up after {job.attempts} attempts; see the worker's log.")
        return "failed"
    FaceJob.objects.filter(pk=job.pk).update(state=JobState.RUNNING, attempts=attempts, heartbeat_at=timezone.now())
    step = _enroll_step if job.kind == JobKind.ENROLL else _reembed_step
    deadline = time.monotonic() + limits["JOB_STEP_SECONDS"]
    while True:
        job = FaceJob.objects.get(pk=job.pk)
        if job.finished:
            return "gone"
        if not step(job):
            _finish(job, JobState.DONE, _summary(job))
            return "done"
        if time.monotonic() >= deadline:
            return "more"


def _enroll_step(job: FaceJob) -> bool:
    """Enroll the photo at the job's position; False when every photo is done."""
    if job.position >= len(job.items):
        return False
    item = job.items[job.position]
    outcome = _enroll_item(job, item)
    FaceJob.objects.filter(pk=job.pk, position=job.position).update(
        position=job.position + 1,
        failed=job.failed + outcome.startswith("refused"),
        outcomes=[*job.outcomes, [item["name"], outcome]],
        heartbeat_at=timezone.now(),
    )
    return True


def _enroll_item(job: FaceJob, item: dict) -> str:
    person = get_user_model().objects.filter(pk=item["person"], is_active=True).first()
    if person is None:
        return "refused: the account is gone or inactive"
    try:
        with private_face_storage().open(item["file"], "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        return "refused: the uploaded photo is gone"
    filename = PurePosixPath(item["name"]).name
    try:
        face_enroll(
            person=person, photos=[Photo(data=data, filename=filename)], source=Source.BULK, enrolled_by=job.started_by
        )
    except PhotosRefused as refused:
        (_, reason), *_ = refused.refusals
        if isinstance(reason, DuplicatePhoto):
            # An earlier delivery of this job may have enrolled it just before its worker died.
            earlier = FaceSample.objects.filter(
                person=person, digest=image_digest(data), created_at__gte=job.created_at
            )
            return "enrolled" if earlier.exists() else "already enrolled"
        return f"refused: {getattr(reason, 'staff_message', reason.message)}"
    return "enrolled"


def _reembed_step(job: FaceJob) -> bool:
    """Re-embed the next FACES["JOB_CHUNK"] samples; False when none is left."""
    failed = [key for key, *_ in job.outcomes]
    scope = _reembed_scope(since=job.created_at, everything=job.everything, failed=failed)
    chunk = list(scope.select_related("person").order_by("pk")[: settings.FACES["JOB_CHUNK"]])
    if not chunk:
        return False
    problems = []

    def note(sample, problem):
        if problem:
            problems.append([str(sample.pk), f"{sample.person} sample {sample.pk}", problem])

    reembed_samples(chunk, progress=note)
    outcomes = [*job.outcomes, *problems]
    remaining = _reembed_scope(
        since=job.created_at, everything=job.everything, failed=[key for key, *_ in outcomes]
    ).count()
    FaceJob.objects.filter(pk=job.pk).update(
        position=max(0, job.total - remaining),
        failed=len(outcomes),
        outcomes=outcomes,
        heartbeat_at=timezone.now(),
    )
    return True


def _summary(job: FaceJob) -> str:
    if job.kind == JobKind.REEMBED:
        return f"Re-embedded {job.position - job.failed} sample(s); {job.failed} kept their old embedding."
    counts = {"enrolled": 0, "already enrolled": 0, "refused": 0}
    for _, outcome in job.outcomes:
        counts[outcome.split(":")[0]] += 1
    return f"{counts['enrolled']} enrolled, {counts['already enrolled']} already enrolled, {counts['refused']} refused."


def _finish(job: FaceJob, state: str, summary: str) -> None:
    # A finished job stays as it finished, whatever a late duplicate delivery concludes.
    FaceJob.objects.filter(pk=job.pk).unfinished().update(
        state=state, summary=summary[:300], finished_at=timezone.now(), heartbeat_at=timezone.now()
    )
    _delete_staged([item["file"] for item in job.items])
    logger.info("Face job %s %s: %s", job.pk, state, summary)


def _delete_staged(names: Sequence[str], *, folders: Sequence[str] = ()) -> None:
    """Delete staged photos, then their folders once empty."""
    storage = private_face_storage()
    for name in names:
        storage.delete(name)
    for folder in {*folders, *(str(PurePosixPath(name).parent) for name in names)}:
        try:
            os.rmdir(storage.path(folder))
        except OSError:
            pass  # already gone, or not empty yet


# Periodic upkeep (CELERY_BEAT_SCHEDULE)


def resume_stalled_jobs() -> int:
    """Queue again the unfinished jobs that made no progress for FACES["JOB_STALL_SECONDS"]."""
    from attendx.queue import QueueUnavailable

    queued = 0
    for job in FaceJob.objects.stalled():
        # Only one sweep queues it, and not again until it has been quiet that long once more.
        if not FaceJob.objects.filter(pk=job.pk, heartbeat_at=job.heartbeat_at).update(heartbeat_at=timezone.now()):
            continue
        try:
            _queue(job)
        except QueueUnavailable:
            break
        queued += 1
    if queued:
        logger.info("Queued %d stalled face job(s) again", queued)
    return queued


def purge_face_jobs(*, moment=None) -> tuple[int, int]:
    """Delete finished jobs older than FACES["JOB_DAYS"], and staged photos no unfinished job needs
    (left by a process that died between staging and queueing); return (jobs, staged folders)."""
    moment = moment or timezone.now()
    jobs, _ = FaceJob.objects.expired(moment).delete()
    storage = private_face_storage()
    if not storage.exists(STAGING):
        return jobs, 0
    needed = {
        str(PurePosixPath(item["file"]).parent)
        for job in FaceJob.objects.unfinished().filter(kind=JobKind.ENROLL)
        for item in job.items
    }
    folders, _ = storage.listdir(STAGING)
    cutoff = moment - timedelta(days=1)
    removed = 0
    for folder in folders:
        name = f"{STAGING}/{folder}"
        if name in needed or storage.get_modified_time(name) > cutoff:
            continue
        _, files = storage.listdir(name)
        _delete_staged([f"{name}/{file}" for file in files], folders=[name])
        removed += 1
    return jobs, removed


def follow_job(job_key: str, *, progress: Callable[[FaceJob], None], every: float = 0.5) -> FaceJob:
    """Poll a job until it is finished (the commands' progress bars), calling ``progress`` on each change."""
    seen = None
    while True:
        job = FaceJob.objects.get(pk=job_key)
        if (job.state, job.position) != seen:
            seen = (job.state, job.position)
            progress(job)
        if job.finished:
            return job
        time.sleep(every)
