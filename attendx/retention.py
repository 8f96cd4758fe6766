"""Retention: the one purge that deletes personal data past its settings.RETENTION limit, across apps
(check-in data in attendance, face templates of people who left and finished face jobs with their
staged photos in faces). Run by ``manage.py purge`` and the hourly ``attendx.tasks.purge``; idempotent,
so a second run finds nothing."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from attendance.services import purge_expired
from faces.erasure import carry_out_pending_purges, erase_biometrics
from faces.jobs import purge_face_jobs
from faces.models import FaceJob, FaceSample, PendingCachePurge


@dataclass(frozen=True)
class Purged:
    """What one purge deleted (or, in a dry run, would delete)."""

    review_frames: int = 0
    evidence: int = 0
    not_live: int = 0
    check_in_answers: int = 0
    people_who_left: int = 0  # whose face templates were erased
    face_samples: int = 0
    cache_purges: int = 0  # pending Redis purges carried out
    face_jobs: int = 0  # finished bulk enrollment and re-embedding jobs past FACES["JOB_DAYS"]
    staged_uploads: int = 0  # folders of staged photos no unfinished job needs


def left_too_long_ago(*, moment: datetime):
    """Deactivated accounts that left RETENTION["TEMPLATES_AFTER_LEAVING_DAYS"] ago or more and still have
    face samples."""
    cutoff = moment - timedelta(days=settings.RETENTION["TEMPLATES_AFTER_LEAVING_DAYS"])
    with_samples = FaceSample.objects.values("person")
    return get_user_model().objects.filter(is_active=False, left_at__lte=cutoff, pk__in=with_samples)


def purge(*, moment: datetime | None = None, dry_run: bool = False) -> Purged:
    """Delete everything past its RETENTION limit at ``moment`` (default now), exactly at the limit and not
    before; ``dry_run`` counts without deleting. Running it again deletes nothing more."""
    moment = moment or timezone.now()
    expired = purge_expired(moment=moment, dry_run=dry_run)
    people = list(left_too_long_ago(moment=moment))
    if dry_run:
        samples = FaceSample.objects.filter(person__in=people).count()
        cache_purges = PendingCachePurge.objects.filter(done_at=None).count()
        jobs, staged = FaceJob.objects.expired(moment).count(), 0
    else:
        jobs, staged = purge_face_jobs(moment=moment)
        samples = 0
        for person in people:
            reason = f"retention: left on {timezone.localdate(person.left_at)}"
            samples += erase_biometrics(person=person, by=None, reason=reason).samples
        # Redis copies an erasure (this one or an earlier) could not delete while Redis was down.
        cache_purges = carry_out_pending_purges()
    return Purged(
        review_frames=expired.review_frames,
        evidence=expired.evidence,
        not_live=expired.not_live,
        check_in_answers=expired.answers,
        people_who_left=len(people),
        face_samples=samples,
        cache_purges=cache_purges,
        face_jobs=jobs,
        staged_uploads=staged,
    )
