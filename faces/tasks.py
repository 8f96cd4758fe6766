"""Celery tasks of the faces app: thin wrappers over faces.jobs, each safe to run twice."""

import logging

from celery import shared_task

from faces.exceptions import RecognitionUnavailable

logger = logging.getLogger(__name__)


@shared_task(bind=True, max_retries=None)
def run_face_job(self, job_key: str, continued: bool = False) -> str:
    """A bulk enrollment or a re-embedding (faces.FaceJob), a step at a time."""
    from attendx.queue import QueueUnavailable, enqueue
    from faces import jobs

    try:
        outcome = jobs.run_job(job_key, continued=continued)
    except RecognitionUnavailable as error:
        # The engine cannot run on this worker now: later, as a new attempt (JOB_MAX_ATTEMPTS bounds it).
        raise self.retry(exc=error, countdown=60) from error
    if outcome == "more":
        try:
            enqueue(run_face_job, job_key, continued=True)
        except QueueUnavailable:
            logger.warning("Face job %s: its next step waits for resume_face_jobs (no broker)", job_key)
    return outcome


@shared_task
def resume_face_jobs() -> int:
    """Queue again unfinished jobs that have been quiet too long (their message may be lost)."""
    from faces.jobs import resume_stalled_jobs

    return resume_stalled_jobs()


@shared_task
def purge_face_jobs() -> dict[str, int]:
    """The old name of attendx.tasks.purge (which now purges face jobs too), for messages already queued."""
    from attendx.tasks import purge

    return purge()


@shared_task
def carry_out_cache_purges() -> int:
    """Delete the Redis copies an erasure could not delete while Redis was down (faces.erasure)."""
    from faces.erasure import carry_out_pending_purges

    return carry_out_pending_purges()
