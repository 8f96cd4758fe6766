"""Writes for attendance: check-in by face, check-out by a second scan, manual marks, review decisions.

A check-in is acknowledged only after its records are committed. A face marks a person only when
frames agree (attendance.agreement); the mark keeps its evidence (attendance.models.Evidence). The
database enforces one record per person per session; two kiosks racing for the same person both get
an answer, and exactly one record exists. An Idempotency-Key's answer is stored in the same
transaction and replayed on retries.
"""

import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.utils import timezone
from django.utils.formats import time_format
from django.utils.translation import gettext as _

from accounts.devices import serving_device
from accounts.models import Liveness
from attendance import agreement, presence
from attendance.evidence import face_crop
from attendance.models import (
    AbsenceReason,
    Change,
    CheckInRequest,
    Evidence,
    Method,
    NotLiveAttempt,
    PendingCheckIn,
    Record,
    RecordChange,
    Review,
    Session,
    Status,
    WebhookEvent,
)
from attendance.outcomes import CheckIn, FaceOutcome, Replayed, Result, api_answer
from attendance.selectors import ATTENDED, bump_reports_generation, day_start
from attendance.webhooks import create_deliveries
from attendx.db import on_commit, run_in_transaction
from faces.exceptions import RecognitionUnavailable
from faces.identification import face_identify
from faces.images import DecodedImage, encode_jpeg
from faces.matching import Decision

logger = logging.getLogger(__name__)


UPLOAD_LIVENESS = "not checked: a staff member's photo upload"


class NoSessionRunning(LookupError):
    """Nothing that ``device`` may check in to is open at ``moment``; ``next_session`` is the next one it
    serves later that day (at ``location``, when given), looked up only when asked for."""

    def __init__(self, *, device=None, moment=None, location: str | None = None):
        super().__init__()
        self.device, self.moment, self.location = device, moment, location

    @cached_property
    def next_session(self) -> Session | None:
        if self.moment is None:
            return None
        tomorrow = timezone.localtime(self.moment).date() + timedelta(days=1)
        later = Session.objects.filter(starts_at__gt=self.moment, starts_at__lt=day_start(tomorrow))
        served_by = serving_device(self.device)
        later = later if served_by is None else served_by.serves(later)
        if self.location is not None:
            later = later.filter(location=self.location)
        return later.order_by("starts_at").first()

    @property
    def message(self) -> str:
        if self.moment is None:
            return _("No session is open for check-in right now.")
        upcoming = self.next_session
        if upcoming is None:
            return _("No session now; none later today")
        starts = time_format(timezone.localtime(upcoming.starts_at), "H:i")
        return _("No session now; next: %(title)s at %(time)s") % {"title": upcoming.title, "time": starts}


class SessionNotServed(PermissionError):
    @property
    def message(self) -> str:
        return _("This device does not serve that session: staff choose its groups and sessions on its page.")


def session_for(person_keys_by_session: dict, person_key: str, open_sessions: list) -> Session | None:
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


def _check_out_gap() -> timedelta:
    return timedelta(minutes=settings.ATTENDANCE["CHECK_OUT_AFTER_MINUTES"])


def check_out_due(*, record: Record, session: Session, moment) -> bool:
    """Whether a scan at ``moment`` of the person of ``record`` (at ``session``) checks them out.

    Only a person who came and has not checked out yet, at least CHECK_OUT_AFTER_MINUTES after arriving
    (a scan before is the same visit); CHECK_OUT_MODE "workplace": any time, "school": only before the
    session ends (they leave early), "off": never.
    """
    mode = settings.ATTENDANCE["CHECK_OUT_MODE"]
    if mode not in ("workplace", "school") or record.status not in ATTENDED or record.checked_out_at is not None:
        return False
    if moment < record.marked_at + _check_out_gap():
        return False
    return mode == "workplace" or not session.has_ended(moment)


def check_out(*, record: Record, session: Session, moment, device) -> tuple[Record, bool]:
    """A second scan of the person of ``record``: check them out at ``moment`` if it is due (check_out_due).

    Returns (the record as it is now, checked out now). Two kiosks scanning the person at once check them
    out once: the update is conditional on nobody having done it, and the other gets the record as it
    stands. The change is recorded as made by ``device`` (the kiosk's account).
    """
    if not check_out_due(record=record, session=session, moment=moment):
        return record, False

    def write() -> tuple[Record, bool]:
        checked_out = Record.objects.filter(
            pk=record.pk, checked_out_at__isnull=True, status__in=ATTENDED, marked_at__lte=moment - _check_out_gap()
        ).update(checked_out_at=moment)
        current = Record.objects.select_related("person").filter(pk=record.pk).first() or record
        if checked_out:
            RecordChange.objects.create(
                session=session, person=current.person, action=Change.CHECKED_OUT, status=current.status, by=device
            )
            create_deliveries(record=current, event=WebhookEvent.RECORD_CHANGED)  # update() sends no post_save
            on_commit(bump_reports_generation)
        return current, bool(checked_out)

    return run_in_transaction(write)


def _replay(device, idempotency_key: str) -> Replayed | None:
    previous = CheckInRequest.objects.filter(device=device, key=idempotency_key).first()
    return None if previous is None else Replayed(previous.status_code, previous.response)


def _remembered(found, image: DecodedImage, *, landmarks: bool) -> agreement.Face:
    """A face of a frame for the device's recent frames; with its landmarks when liveness is on."""
    accepted = found.decision is Decision.ACCEPT
    points = None
    if landmarks:
        from faces.landmarks import LandmarksUnavailable, get_landmark_model

        try:
            points = get_landmark_model().landmarks(image.rgb, found.box)
        except LandmarksUnavailable as error:
            raise RecognitionUnavailable(str(error)) from error
    return agreement.Face(
        box=found.box,
        person=found.match.person if accepted else None,
        distance=found.match.distance if accepted else None,
        landmarks=points,
    )


def _record_not_live(device, candidate, reason: str, moment, crop: bytes, save_file) -> None:
    """Keep an attempt not judged live for staff: a few per device per hour, so a flood stays small."""
    recent = NotLiveAttempt.objects.filter(device=device, seen_at__gt=moment - timedelta(hours=1))
    if recent.count() >= settings.ATTENDANCE["NOT_LIVE_RECORDS_PER_HOUR"]:
        return
    attempt = NotLiveAttempt(device=device, candidate=candidate, seen_at=moment, reason=reason[:64])
    save_file(attempt.face, f"{moment:%H%M%S}-{secrets.token_hex(4)}.jpg", crop)
    attempt.save()


def _margin(match) -> float | None:
    return None if match.runner_up_distance is None else match.runner_up_distance - match.distance


def candidate_sessions(*, device, session: Session | None, moment, location: str | None = None) -> list[Session]:
    """The sessions a check-in by ``device`` at ``moment`` may mark: ``session``, or every session running
    (at ``location``, when given); a registered device's only among those it serves. Raises
    SessionNotServed for a session it does not serve, NoSessionRunning when none is left."""
    served_by = serving_device(device)
    if session is not None:
        if served_by is not None and not served_by.serves_session(session):
            raise SessionNotServed()
        sessions = [session]
    else:
        running = Session.objects.open_for_scans_at(moment).select_related("group")
        running = running if served_by is None else served_by.serves(running)
        # Running sessions first: an arrival goes to one of them, never to one that has ended.
        found = running if location is None else running.filter(location=location)
        sessions = sorted(found, key=lambda candidate: candidate.has_ended(moment))
    if not sessions:
        raise NoSessionRunning(device=device, moment=moment, location=location)
    return sessions


def session_rosters(sessions: list[Session]) -> dict[Session, set[str]]:
    """Each session's members' keys; an empty set for a group without members (it admits anyone)."""
    return {s: {str(pk) for pk in s.group.members.values_list("pk", flat=True)} for s in sessions}


def check_in_by_face(
    *,
    frames: Sequence[DecodedImage],
    device,
    session: Session | None = None,
    location: str | None = None,
    method: str = Method.FACE,
    idempotency_key: str = "",
    moment=None,
) -> CheckIn | Replayed:
    """Recognise the faces of ``frames`` (one, or a short burst, oldest first) and mark each person on
    whom enough frames agree (attendance.agreement), once per session, with the evidence.

    A person marked already is checked out by a later scan when that is due (check_out_due), after the
    same agreement and liveness as a check-in; otherwise they are answered ALREADY at once.

    The outcome is the faces of the last frame. Without ``session``, every session running now is a
    candidate, or only those at ``location``; a registered device only ever checks in to the sessions
    it serves (raises SessionNotServed for another). A face sent to review keeps the frame as decoded,
    re-encoded as JPEG (never the uploaded bytes); an open review of the same person is not repeated.
    """
    if not frames:
        raise ValueError("A check-in needs at least one frame.")
    moment = moment or timezone.now()
    if idempotency_key and (replayed := _replay(device, idempotency_key)):
        return replayed

    sessions = candidate_sessions(device=device, session=session, location=location, moment=moment)
    rosters = session_rosters(sessions)
    open_sessions = [s for s, keys in rosters.items() if not keys]
    among = None if open_sessions else set().union(*rosters.values())

    rule = agreement.Rule.from_settings()
    mode = presence.mode_for(device, method)
    device_key, at = str(device.pk), moment.timestamp()
    seen = []
    for image in frames:
        # IP cameras see people from afar: their frames are searched for smaller faces.
        identifications = face_identify(image=image, among=among, small_faces=method == Method.CAMERA)
        seen.append(
            (image.digest, [_remembered(found, image, landmarks=mode != Liveness.OFF) for found in identifications])
        )
    # The outcome is the last frame's: ``image`` and ``identifications`` are its own from here on.
    observations = agreement.observe(device_key, frames=seen, at=at, rule=rule)
    if method == Method.UPLOAD:
        agreed = set(observations)  # a staff member's photo: one is enough, and it is flagged as such
    else:
        agreed = {person for person, observed in observations.items() if len(observed.agreeing) >= rule.frames}
    # One read for every person accepted in the last frame: marked already needs no agreement or liveness,
    # unless this scan checks them out.
    targets = {person: session_for(rosters, person, open_sessions) for person in observations}
    marked_before = {
        (str(record.session_id), str(record.person_id)): record
        for record in Record.objects.filter(session__in=sessions, person__in=list(observations))
    }
    already = {p: marked_before.get((str(target.pk), p)) for p, target in targets.items() if target is not None}
    # A session that has ended only takes check-outs: whoever it has no record of is told so.
    too_late = {p for p, target in targets.items() if target is not None and target.has_ended(moment)}
    too_late -= {p for p in too_late if already.get(p) is not None}
    # An IP camera sees people walk past all day: only a scan at a kiosk checks somebody out.
    checking_out = {
        person
        for person, record in already.items()
        if record is not None
        and method != Method.CAMERA
        and check_out_due(record=record, session=targets[person], moment=moment)
    }
    presences = {
        person: presence.decide(device_key, person, observations[person].track, mode=mode, at=at)
        for person in agreed - too_late
        if already.get(person) is None or person in checking_out
    }
    crops = {
        id(found): face_crop(image.rgb, found.box)
        for found in identifications
        if found.decision is Decision.ACCEPT and found.match.person in presences
    }
    reviewing = any(found.decision is Decision.REVIEW for found in identifications)
    frame = encode_jpeg(image.rgb) if reviewing else b""
    saved_files = []

    def save_file(field_file, name: str, data: bytes) -> None:
        field_file.save(name, ContentFile(data), save=False)
        saved_files.append(field_file.name)

    def accept(found, target) -> FaceOutcome:
        person = found.match.person
        outcome = {
            "box": found.box,
            "decision": found.decision,
            "person": found.person,
            "distance": found.match.distance,
            "margin": _margin(found.match),
            "agreeing": tuple(observations[person].agreeing),
            "needed": rule.frames,
        }
        marked = already.get(person)
        if marked is not None and person not in checking_out:
            return FaceOutcome(result=Result.ALREADY, record=marked, **outcome)
        if person in too_late:
            return FaceOutcome(result=Result.ENDED, **outcome)
        if person not in agreed:
            return FaceOutcome(result=Result.AGREEING, **outcome)
        live = presences[person]
        if not live.marks:
            if live.record:
                _record_not_live(device, found.person, live.reason, moment, crops[id(found)], save_file)
            result = Result.CHALLENGE if live.status is presence.Status.CHALLENGE else Result.NOT_LIVE
            return FaceOutcome(result=result, liveness=live, **outcome)
        if marked is not None:
            record, checked_out = check_out(record=marked, session=target, moment=moment, device=device)
            result = Result.CHECKED_OUT if checked_out else Result.ALREADY
            return FaceOutcome(result=result, record=record, liveness=live, **outcome)
        record, created = mark_arrival(
            session=target,
            person=found.person,
            moment=moment,
            method=method,
            distance=found.match.distance,
            device=device,
        )
        if created:
            evidence = Evidence(
                record=record,
                distance=found.match.distance,
                margin=outcome["margin"],
                frames=[one.to_json() for one in outcome["agreeing"]],
                liveness=UPLOAD_LIVENESS if method == Method.UPLOAD else live.describe(),
                created_at=moment,
            )
            save_file(evidence.face, f"{record.pk}-{image.digest[:16]}.jpg", crops[id(found)])
            evidence.save()
        result = Result.CHECKED_IN if created else Result.ALREADY
        return FaceOutcome(result=result, record=record, liveness=live, **outcome)

    def review(found, target) -> FaceOutcome:
        if target.has_ended(moment):
            return FaceOutcome(box=found.box, decision=found.decision, result=Result.ENDED)
        waiting = PendingCheckIn.objects.open(moment).filter(session=target, candidate=found.person)
        if not waiting.exists():
            runner_up = found.match.runner_up
            pending = PendingCheckIn(
                session=target,
                candidate=found.person,
                distance=found.match.distance,
                runner_up=get_user_model().objects.filter(pk=runner_up).first() if runner_up else None,
                runner_up_distance=found.match.runner_up_distance,
                frame_width=image.size[0],
                frame_height=image.size[1],
                box=list(found.box),
                device=device,
                method=method,
                captured_at=moment,
                expires_at=moment + timedelta(hours=settings.RETENTION["REVIEW_FRAME_HOURS"]),
            )
            save_file(pending.frame, f"{image.digest}.jpg", frame)
            pending.save()
        return FaceOutcome(box=found.box, decision=found.decision, result=Result.REVIEW, distance=found.match.distance)

    def write() -> CheckIn | Replayed:
        # Run again after a conflict (MongoDB): the files of the aborted attempt go first.
        _delete_files(saved_files)
        saved_files.clear()
        if idempotency_key and (replayed := _replay(device, idempotency_key)):
            return replayed
        faces = []
        for found in identifications:
            if found.decision is Decision.REJECT:
                faces.append(FaceOutcome(box=found.box, decision=found.decision, result=Result.UNKNOWN))
                continue
            target = session_for(rosters, found.match.person, open_sessions)
            faces.append(accept(found, target) if found.decision is Decision.ACCEPT else review(found, target))
        check_in = CheckIn(faces=faces, frames=len(frames))
        if idempotency_key:
            status_code, body = api_answer(check_in)
            CheckInRequest.objects.create(device=device, key=idempotency_key, status_code=status_code, response=body)
        if check_in.created:
            on_commit(bump_reports_generation)
        return check_in

    try:
        result = run_in_transaction(write)
    except BaseException:
        _delete_files(saved_files)
        raise
    if isinstance(result, CheckIn):
        # A camera sends a frame every few seconds: its worker logs the marks, not every frame.
        level = logging.DEBUG if method == Method.CAMERA else logging.INFO
        logger.log(level, "Check-in by %s: %s", device, result.message)
    return result


def _delete_files(names):
    storage = PendingCheckIn.frame.field.storage
    for name in names:
        storage.delete(name)


class MarkRefused(ValueError):
    """A manual mark whose status, reason and arrival time do not fit together: nothing was changed."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _local_time(moment) -> str:
    return time_format(timezone.localtime(moment), "H:i")


def _refuse_mismatch(*, session: Session, status: str, reason: AbsenceReason | None, arrived_at) -> None:
    if status in ATTENDED:
        if arrived_at is None:
            return
        opens = session.starts_at - timedelta(minutes=settings.ATTENDANCE["CHECK_IN_OPENS_MINUTES_BEFORE"])
        if not opens <= arrived_at <= session.ends_at:
            times = {"opens": _local_time(opens), "ends": _local_time(session.ends_at)}
            raise MarkRefused(_("Give an arrival time from %(opens)s to %(ends)s.") % times)
        return
    if arrived_at is not None:
        raise MarkRefused(_("An excused or absent mark has no arrival time: leave it empty."))
    named = {"reason": reason}
    if reason is not None and status == Status.EXCUSED and not reason.excused:
        raise MarkRefused(_("“%(reason)s” does not excuse: mark absent, or choose another reason.") % named)
    if reason is not None and status == Status.ABSENT and reason.excused:
        raise MarkRefused(_("“%(reason)s” excuses: mark excused, or choose another reason.") % named)


def mark_manually(
    *,
    session: Session,
    person,
    status: str,
    by,
    reason: AbsenceReason | None = None,
    note: str = "",
    arrived_at=None,
) -> Record:
    """Set (or change) a person's mark by hand; recorded with who, when, the reason and the note.

    The arrival (marked_at) is ``arrived_at`` when given (present or late only, from when check-in opens
    to the session's end); else a record that had one keeps it, and a new present mark arrives at the
    start, a new late one now (at the latest the session's end). ``reason`` goes with excused (an excusing
    reason) and absent (one that does not excuse), and is dropped for present and late. Raises MarkRefused
    for what does not fit, and changes nothing then.
    """
    _refuse_mismatch(session=session, status=status, reason=reason, arrived_at=arrived_at)

    def write() -> Record:
        now = timezone.now()
        record = Record.objects.filter(session=session, person=person).first()
        came_before = record is not None and record.status in ATTENDED
        record = record or Record(session=session, person=person, marked_at=now)
        if arrived_at is not None:
            record.marked_at = arrived_at
        elif status in ATTENDED and not came_before:
            record.marked_at = session.starts_at if status == Status.PRESENT else min(now, session.ends_at)
        if status not in ATTENDED:
            record.checked_out_at = None
        elif record.checked_out_at is not None and record.checked_out_at < record.marked_at:
            left = _local_time(record.checked_out_at)
            raise MarkRefused(_("The arrival must come before the check-out at %(time)s.") % {"time": left})
        record.status, record.method, record.marked_by = status, Method.MANUAL, by
        record.reason = reason if status not in ATTENDED else None
        record.note, record.edited_at, record.distance, record.device = note, now, None, None
        record.save()
        RecordChange.objects.create(
            session=session,
            person=person,
            action=Change.MARKED,
            status=status,
            reason=record.reason.code if record.reason else "",
            note=note,
            by=by,
        )
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


def approve_pending(*, pending: PendingCheckIn, by) -> tuple[Record, bool]:
    """Approve a review: the candidate is marked as of the moment they were seen, by the same method.

    Returns (record, created). A candidate already marked keeps their record as it is: the review is
    closed and nothing else changes.
    """

    def write() -> tuple[Record, bool]:
        record, created = mark_arrival(
            session=pending.session,
            person=pending.candidate,
            moment=pending.captured_at,
            method=pending.method,
            distance=pending.distance,
            device=pending.device,
            marked_by=by,
        )
        _close(pending, Review.APPROVED, by)
        if created:
            RecordChange.objects.create(
                session=pending.session, person=pending.candidate, action=Change.APPROVED, status=record.status, by=by
            )
            on_commit(bump_reports_generation)
        return record, created

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


def _delete_with_files(rows, field: str, *, dry_run: bool = False) -> int:
    """Delete ``rows`` (a queryset) and the file each names in ``field``; return how many rows."""
    if dry_run:
        return rows.count()
    doomed = list(rows)
    for row in doomed:
        stored = getattr(row, field)
        if stored.name:
            stored.storage.delete(stored.name)
    rows.model.objects.filter(pk__in=[row.pk for row in doomed]).delete()
    return len(doomed)


@dataclass(frozen=True)
class Expired:
    """What purge_expired deleted (or, in a dry run, would delete)."""

    review_frames: int
    evidence: int
    not_live: int
    answers: int


def purge_expired(*, moment: datetime | None = None, dry_run: bool = False) -> Expired:
    """Delete what is past its settings.RETENTION limit at ``moment`` (default now): pending check-ins and
    their review frames, evidence and attempts not judged live (with their files), stored check-in answers.

    Deleted exactly at the limit, not before; the attendance records themselves stay. ``dry_run`` only counts.
    """
    moment = moment or timezone.now()
    retention = settings.RETENTION
    answers = CheckInRequest.objects.filter(
        created_at__lte=moment - timedelta(hours=retention["CHECK_IN_ANSWER_HOURS"])
    )
    expired = Expired(
        review_frames=_delete_with_files(PendingCheckIn.objects.expired(moment), "frame", dry_run=dry_run),
        evidence=_delete_with_files(Evidence.objects.expired(moment), "face", dry_run=dry_run),
        not_live=_delete_with_files(NotLiveAttempt.objects.expired(moment), "face", dry_run=dry_run),
        answers=answers.count() if dry_run else answers.delete()[0],
    )
    if expired.evidence and not dry_run:
        bump_reports_generation()  # rosters show the crops
    return expired
