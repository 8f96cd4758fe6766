"""Writes for attendance: check-in by face, manual marks, review decisions.

A check-in is acknowledged only after its records are committed. The database enforces one record
per person per session; two kiosks racing for the same person both get an answer, and exactly one
record exists. An Idempotency-Key's answer is stored in the same transaction and replayed on retries.
"""

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.utils import timezone
from django.utils.formats import time_format

from attendance.models import (
    Change,
    CheckInRequest,
    Method,
    PendingCheckIn,
    Record,
    RecordChange,
    Review,
    Session,
    Status,
)
from attendance.selectors import bump_reports_generation
from attendx.db import on_commit, run_in_transaction
from faces.images import DecodedImage, encode_jpeg
from faces.matching import Decision
from faces.services import face_identify

logger = logging.getLogger(__name__)


class NoSessionRunning(LookupError):
    message = "No session is open for check-in right now."


@dataclass
class CheckInResult:
    status_code: int
    body: dict
    replayed: bool = False
    records: list = field(default_factory=list)


def _person_json(person) -> dict:
    return {"id": str(person.pk), "name": str(person)}


def _record_json(record: Record) -> dict:
    return {
        "id": str(record.pk),
        "session": str(record.session_id),
        "status": str(record.status),
        "marked_at": record.marked_at.isoformat(),
        "method": str(record.method),
    }


def describe_record(record: Record, *, already: bool) -> str:
    when = time_format(timezone.localtime(record.marked_at), "H:i")
    if already:
        return f"{record.person}: already checked in at {when}"
    late = ", late" if record.status == Status.LATE else ""
    return f"{record.person}: checked in at {when}{late}"


def _session_for(person_keys_by_session: dict, person_key: str, open_sessions: list) -> Session | None:
    for session, keys in person_keys_by_session.items():
        if person_key in keys:
            return session
    return open_sessions[0] if open_sessions else None


def mark_arrival(*, session: Session, person, moment, method: str, distance=None, device=None, marked_by=None):
    """Return the person's record for the session, the one that exists or a new one: (record, created).

    It reads before it inserts: on MongoDB a duplicate key aborts the whole enclosing transaction (there
    are no savepoints), so the unique constraint is the backstop for a race, which run_in_transaction()
    then runs again.
    """

    def write():
        existing = Record.objects.select_related("person").filter(session=session, person=person).first()
        if existing is not None:
            return existing, False
        record = Record(
            session=session,
            person=person,
            status=session.status_for_arrival(moment),
            marked_at=moment,
            method=method,
            distance=distance,
            device=device,
            marked_by=marked_by,
        )
        record.save()
        return record, True

    return run_in_transaction(write)


def check_in_by_face(
    *,
    image: DecodedImage,
    device,
    session: Session | None = None,
    location: str | None = None,
    method: str = Method.FACE,
    idempotency_key: str = "",
    moment=None,
) -> CheckInResult:
    """Recognise every face in the frame and mark each accepted person once in their session.

    Without ``session``, every session running now is a candidate, or only those at ``location``.
    A face sent to review keeps the frame as decoded, re-encoded as JPEG: never the uploaded bytes.
    """
    moment = moment or timezone.now()
    if idempotency_key:
        previous = CheckInRequest.objects.filter(device=device, key=idempotency_key).first()
        if previous is not None:
            return CheckInResult(previous.status_code, previous.response, replayed=True)

    if session is not None:
        sessions = [session]
    else:
        running = Session.objects.running_at(moment).select_related("group")
        sessions = list(running if location is None else running.filter(location=location))
    if not sessions:
        raise NoSessionRunning()
    rosters = {s: {str(pk) for pk in s.group.members.values_list("pk", flat=True)} for s in sessions}
    open_sessions = [s for s, keys in rosters.items() if not keys]
    among = None if open_sessions else set().union(*rosters.values())

    # IP cameras see people from afar: their frames are searched for smaller faces.
    identifications = face_identify(image=image, among=among, small_faces=method == Method.CAMERA)
    reviewing = any(found.decision is Decision.REVIEW for found in identifications)
    frame = encode_jpeg(image.rgb) if reviewing else b""
    saved_files = []

    def write() -> CheckInResult:
        # Run again after a conflict (MongoDB): the frames of the aborted attempt go first.
        _delete_files(saved_files)
        saved_files.clear()
        if idempotency_key:
            previous = CheckInRequest.objects.filter(device=device, key=idempotency_key).first()
            if previous is not None:
                return CheckInResult(previous.status_code, previous.response, replayed=True)
        faces, records, created_any = [], [], False
        for found in identifications:
            entry = {"box": list(found.box), "decision": str(found.decision), "person": None}
            if found.decision is Decision.ACCEPT:
                target = _session_for(rosters, found.match.person, open_sessions)
                record, created = mark_arrival(
                    session=target,
                    person=found.person,
                    moment=moment,
                    method=method,
                    distance=found.match.distance,
                    device=device,
                )
                created_any |= created
                records.append(record)
                entry.update(
                    result="checked_in" if created else "already_checked_in",
                    person=_person_json(found.person),
                    record=_record_json(record),
                    message=describe_record(record, already=not created),
                )
            elif found.decision is Decision.REVIEW:
                target = _session_for(rosters, found.match.person, open_sessions)
                pending = PendingCheckIn(
                    session=target,
                    candidate=found.person,
                    distance=found.match.distance,
                    box=list(found.box),
                    device=device,
                    method=method,
                    captured_at=moment,
                    expires_at=moment + timedelta(hours=settings.ATTENDANCE["REVIEW_HOURS"]),
                )
                pending.frame.save(f"{image.digest}.jpg", ContentFile(frame), save=False)
                saved_files.append(pending.frame.name)
                pending.save()
                entry.update(result="review", message="Not sure who this is: a staff member will check.")
            else:
                entry.update(result="unknown", message="Not recognised.")
            faces.append(entry)
        body = {
            "faces": faces,
            "message": " · ".join(face["message"] for face in faces) if faces else "No face found.",
        }
        status_code = 201 if created_any else 200
        if idempotency_key:
            CheckInRequest.objects.create(device=device, key=idempotency_key, status_code=status_code, response=body)
        if created_any:
            on_commit(bump_reports_generation)
        return CheckInResult(status_code, body, records=records)

    try:
        result = run_in_transaction(write)
    except BaseException:
        _delete_files(saved_files)
        raise
    if not result.replayed:
        # A camera sends a frame every few seconds: its worker logs the marks, not every frame.
        level = logging.DEBUG if method == Method.CAMERA else logging.INFO
        logger.log(level, "Check-in by %s: %s", device, result.body["message"])
    return result


def _delete_files(names):
    storage = PendingCheckIn.frame.field.storage
    for name in names:
        storage.delete(name)


def mark_manually(*, session: Session, person, status: str, by, note: str = "") -> Record:
    """Set (or change) a person's mark by hand; recorded with who and when."""

    def write() -> Record:
        record = Record.objects.filter(session=session, person=person).first() or Record(session=session, person=person)
        record.status, record.method, record.marked_by = status, Method.MANUAL, by
        record.marked_at, record.note, record.distance, record.device = timezone.now(), note, None, None
        record.save()
        RecordChange.objects.create(session=session, person=person, action=Change.MARKED, status=status, by=by)
        on_commit(bump_reports_generation)
        return record

    return run_in_transaction(write)


def unmark(*, session: Session, person, by) -> bool:
    def write() -> bool:
        deleted, _ = Record.objects.filter(session=session, person=person).delete()
        if deleted:
            RecordChange.objects.create(session=session, person=person, action=Change.UNMARKED, by=by)
            on_commit(bump_reports_generation)
        return bool(deleted)

    return run_in_transaction(write)


def approve_pending(*, pending: PendingCheckIn, by) -> Record:
    """Approve a review: the candidate is marked as of the moment they were seen, by the same method."""

    def write() -> Record:
        record, _ = mark_arrival(
            session=pending.session,
            person=pending.candidate,
            moment=pending.captured_at,
            method=pending.method,
            distance=pending.distance,
            device=pending.device,
            marked_by=by,
        )
        _close(pending, Review.APPROVED, by)
        RecordChange.objects.create(
            session=pending.session, person=pending.candidate, action=Change.APPROVED, status=record.status, by=by
        )
        on_commit(bump_reports_generation)
        return record

    return run_in_transaction(write)


def reject_pending(*, pending: PendingCheckIn, by) -> None:
    def write() -> None:
        _close(pending, Review.REJECTED, by)
        RecordChange.objects.create(session=pending.session, person=pending.candidate, action=Change.REJECTED, by=by)

    run_in_transaction(write)


def _close(pending: PendingCheckIn, state: str, by) -> None:
    """Decide a review; its frame is deleted once that commits, and the row no longer names it."""
    # The name is read from the row: run again after a conflict, this finds the instance already cleared.
    name = PendingCheckIn.objects.filter(pk=pending.pk).values_list("frame", flat=True).first()
    storage = pending.frame.storage
    pending.state, pending.reviewed_by, pending.reviewed_at, pending.frame = state, by, timezone.now(), ""
    pending.save(update_fields=["state", "reviewed_by", "reviewed_at", "frame"])
    if name:
        on_commit(lambda: storage.delete(name))


def purge_expired(*, moment=None) -> tuple[int, int]:
    """Delete expired pending check-ins (with their frames) and old idempotency answers."""
    moment = moment or timezone.now()
    expired = list(PendingCheckIn.objects.expired(moment))
    for pending in expired:
        if pending.frame.name:
            pending.frame.storage.delete(pending.frame.name)
    PendingCheckIn.objects.filter(pk__in=[p.pk for p in expired]).delete()
    cutoff = moment - timedelta(hours=settings.ATTENDANCE["IDEMPOTENCY_HOURS"])
    answers, _ = CheckInRequest.objects.filter(created_at__lt=cutoff).delete()
    return len(expired), answers
