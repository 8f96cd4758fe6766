"""Erasure of one person's biometric data: enrolled photos and embeddings, evidence crops, review frames,
not-live crops, their files and every Redis copy. Attendance records stay. A Redis copy that cannot be
deleted now (Redis down or stalled) is stored as a PendingCachePurge and deleted when Redis answers."""

from dataclasses import asdict, dataclass

from django.db.models import Q
from django.utils import timezone

from accounts.audit import audit
from accounts.models import AuditAction, Consent
from attendance.models import Evidence, NotLiveAttempt, PendingCheckIn
from attendance.selectors import REPORTS
from attendx.cache import get_redis_client
from attendx.db import on_commit, run_in_transaction
from faces.models import FaceSample, PendingCachePurge
from faces.selectors import GALLERY

# Deleting a generation key is a bump: the next reader makes a new token, and every process reloads.
GENERATION_KEYS = (f"gen:{GALLERY}", f"gen:{REPORTS}")


@dataclass(frozen=True)
class Erased:
    samples: int = 0
    evidence_crops: int = 0
    review_frames: int = 0
    not_live_crops: int = 0
    files: int = 0
    consents_withdrawn: int = 0
    cache_keys: int = 0
    cache_purge_pending: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


def _embedding_patterns(digests) -> list[str]:
    # Every pipeline and both detector sizes (faces.embedding_cache.embedding_cache_key).
    return [f"emb:{digest}:*" for digest in sorted(set(digests)) if digest]


def _existing_files(field_files) -> list[tuple]:
    found = []
    for field_file in field_files:
        if field_file.name and field_file.storage.exists(field_file.name):
            found.append((field_file.storage, field_file.name))
    return found


def erase_biometrics(*, person, by=None, reason: str) -> Erased:
    """Delete ``person``'s biometric data and its files and cache copies; keep their attendance records.

    Evidence rows of the person's records go whole (the crop, and the digests of the frames that agreed);
    the record keeps its status, time, method and distance. Review frames where the person is the
    candidate or the runner-up go, as do not-live attempts naming them. Their open consents are withdrawn
    in the same transaction: enrolling them again needs a new consent, and an unfinished bulk job that
    names them is refused (faces.enrollment.face_enroll checks consent inside its write). Idempotent:
    erasing again finds nothing and returns zero counts; every call is audited (AuditAction.ERASED),
    with counts only.
    Files are deleted after the commit; cache keys then too, or later by carry_out_pending_purges().
    """
    after_commit: dict = {}

    def write() -> tuple[Erased, int | None]:
        plan: dict = {"files": [], "purge": None}

        def cleanup():
            for storage, name in plan["files"]:
                storage.delete(name)
            if plan["purge"] is not None:
                after_commit["cache_keys"] = _carry_out(plan["purge"])

        # First in line, before the sample signals' own cleanup (faces.signals), so the keys are counted here.
        on_commit(cleanup)
        samples = list(FaceSample.objects.filter(person=person))
        evidence = list(Evidence.objects.filter(record__person=person))
        pending = list(PendingCheckIn.objects.filter(Q(candidate=person) | Q(runner_up=person)))
        not_live = list(NotLiveAttempt.objects.filter(candidate=person))
        files = _existing_files(
            [row.image for row in samples]
            + [row.face for row in evidence]
            + [row.frame for row in pending]
            + [row.face for row in not_live]
        )
        digests = [row.digest for row in samples]
        # The frames that agreed on a mark are named by their SHA-256 (attendance.agreement.Seen).
        digests += [seen.get("frame") for row in evidence for seen in row.frames if isinstance(seen, dict)]
        for queryset, rows in (
            (FaceSample.objects, samples),
            (Evidence.objects, evidence),
            (PendingCheckIn.objects, pending),
            (NotLiveAttempt.objects, not_live),
        ):
            if rows:
                queryset.filter(pk__in=[row.pk for row in rows]).delete()
        consents = Consent.objects.filter(person=person, withdrawn_at__isnull=True).update(
            withdrawn_at=timezone.now(), withdrawn_by=by if getattr(by, "is_authenticated", False) else None
        )
        purge = None
        patterns = _embedding_patterns(digests)
        if samples or evidence or pending or not_live:
            purge = PendingCachePurge.objects.create(patterns=[*patterns, *GENERATION_KEYS], reason=reason[:160])
        counts = Erased(
            samples=len(samples),
            evidence_crops=len(evidence),
            review_frames=len(pending),
            not_live_crops=len(not_live),
            files=len(files),
            consents_withdrawn=consents,
        )
        audit(
            action=AuditAction.ERASED,
            actor=by,
            subject=person,
            reason=reason,
            cache_purge=str(purge.pk) if purge else "",
            **{name: value for name, value in counts.as_dict().items() if not name.startswith("cache_")},
        )
        plan.update(files=files, purge=purge)
        return counts, purge.pk if purge else None

    counts, purge_key = run_in_transaction(write)
    if purge_key is None:
        return counts
    deleted = after_commit.get("cache_keys")  # None: not committed yet (an enclosing transaction), or no Redis
    return Erased(
        **{**counts.as_dict(), "cache_keys": deleted or 0, "cache_purge_pending": deleted is None},
    )


def _carry_out(purge: PendingCachePurge) -> int | None:
    """Delete ``purge``'s keys and mark it done; None, and one more attempt counted, when Redis fails."""
    client = get_redis_client()
    deleted = 0
    for pattern in purge.patterns:
        count = client.clear_pattern(pattern)
        if count is None:
            PendingCachePurge.objects.filter(pk=purge.pk).update(attempts=purge.attempts + 1)
            return None
        if pattern not in GENERATION_KEYS:
            deleted += count
    PendingCachePurge.objects.filter(pk=purge.pk, done_at=None).update(done_at=timezone.now())
    return deleted


def carry_out_pending_purges() -> int:
    """Delete the cache keys of every pending purge, oldest first, while Redis answers; return how many
    purges were done. Safe to run twice: deleting a deleted key does nothing."""
    done = 0
    for purge in PendingCachePurge.objects.filter(done_at=None).order_by("created_at"):
        if _carry_out(purge) is None:
            break
        done += 1
    return done
