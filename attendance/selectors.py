"""Reads for attendance: rosters, histories, rates and exports.

Rosters and reports are cached in Redis under a generation token that every change of a record
bumps; without Redis they are computed on every request, and stay correct.
"""

import hashlib
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Role
from attendance.models import AbsenceReason, Evidence, Group, NotLiveAttempt, PendingCheckIn, Record, Session, Status
from attendx.cache import bump_generation, cache_get, cache_set, current_generation

REPORTS = "attendance-reports"
ABSENT = "absent"
EXPECTED = "expected"  # the session has not ended and the person has not arrived yet
ATTENDED = (Status.PRESENT, Status.LATE)  # the statuses of a person who came: they have an arrival time


def bump_reports_generation() -> None:
    bump_generation(REPORTS)


def _cached(key: str, compute):
    """``compute()`` cached under the reports generation; JSON-able values only."""
    generation = current_generation(REPORTS)
    if generation is None:
        return compute()
    full_key = f"report:{generation}:{key}"
    value = cache_get(full_key)
    if value is None:
        value = compute()
        cache_set(full_key, value, expire=settings.ATTENDANCE["REPORT_CACHE_TTL"])
    return value


def worked_minutes(arrived_at: datetime | None, left_at: datetime | None) -> int | None:
    """Whole minutes from arrival to check-out; None until both are known."""
    if arrived_at is None or left_at is None:
        return None
    return max(0, int((left_at - arrived_at).total_seconds() // 60))


def duration_words(minutes: int) -> str:
    """8 h 2 min, or 45 min."""
    hours, minutes = divmod(minutes, 60)
    if not hours:
        return _("%(minutes)d min") % {"minutes": minutes}
    return _("%(hours)d h %(minutes)d min") % {"hours": hours, "minutes": minutes}


def arrival_of(record: Record) -> datetime | None:
    """When the person arrived: none for an excused or absent mark (its marked_at is when it was made)."""
    return record.marked_at if record.status in ATTENDED else None


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


@dataclass(frozen=True)
class RosterLine:
    person_id: str
    name: str
    username: str
    status: str  # present, late, excused, absent, expected
    marked_at: str | None  # ISO time
    method: str | None
    marked_by: str | None  # who marked it by hand (or approved it from review), who last edited it
    record_id: str | None = None
    evidence: bool = False  # a face crop to show
    arrived_at: str | None = None  # ISO time; none for excused and absent
    checked_out_at: str | None = None  # ISO time
    worked_minutes: int | None = None
    reason: str | None = None  # the absence reason's code
    reason_label: str | None = None
    note: str = ""
    edited_at: str | None = None  # ISO time of the last change by hand


def _roster(session: Session, moment: datetime) -> list[dict]:
    records = {
        record.person_id: record
        for record in Record.objects.filter(session=session).select_related("marked_by", "reason")
    }
    with_evidence = set(Evidence.objects.filter(record__session=session).values_list("record_id", flat=True))
    people = list(session.group.members.all())
    known = {person.pk for person in people}
    people += list(get_user_model().objects.filter(pk__in=[pk for pk in records if pk not in known]))
    missing = ABSENT if session.has_ended(moment) else EXPECTED
    lines = []
    for person in sorted(people, key=lambda p: (p.last_name.lower(), p.first_name.lower(), p.username)):
        record = records.get(person.pk)
        lines.append(
            asdict(
                RosterLine(
                    person_id=str(person.pk),
                    name=str(person),
                    username=person.username,
                    status=record.status if record else missing,
                    marked_at=record.marked_at.isoformat() if record else None,
                    method=record.method if record else None,
                    marked_by=str(record.marked_by) if record and record.marked_by else None,
                    record_id=str(record.pk) if record else None,
                    evidence=bool(record and record.pk in with_evidence),
                    **(record_fields(record) if record else {}),
                )
            )
        )
    return lines


def record_fields(record: Record) -> dict:
    """A record's arrival, check-out, reason and last edit, JSON-able, for rosters and histories."""
    arrived_at = arrival_of(record)
    return {
        "arrived_at": _iso(arrived_at),
        "checked_out_at": _iso(record.checked_out_at),
        "worked_minutes": worked_minutes(arrived_at, record.checked_out_at),
        "reason": record.reason.code if record.reason else None,
        "reason_label": record.reason.label if record.reason else None,
        "note": record.note,
        "edited_at": _iso(record.edited_at),
    }


def roster_for_session(session: Session, *, moment: datetime | None = None) -> list[dict]:
    moment = moment or timezone.now()
    phase = "ended" if session.has_ended(moment) else "open"
    # "roster2": the lines gained fields (arrival, check-out, reason); a line cached before has none.
    return _cached(f"roster2:{session.pk}:{phase}", lambda: _roster(session, moment))


SUMMARY_STATUSES = (Status.PRESENT, Status.LATE, Status.EXCUSED, ABSENT, EXPECTED)


def roster_summary(lines: list[dict]) -> dict[str, int]:
    counts = Counter(line["status"] for line in lines)
    return {status: counts.get(status, 0) for status in SUMMARY_STATUSES}


def _summaries(sessions: list[Session], moment: datetime) -> dict[str, dict[str, int]]:
    """Roster counts of many sessions from two queries, not one roster per session."""
    group_ids = {session.group_id for session in sessions}
    members = defaultdict(set)
    for group_id, person_id in Group.members.through.objects.filter(group_id__in=group_ids).values_list(
        "group_id", "user_id"
    ):
        members[group_id].add(person_id)
    records = defaultdict(list)
    for session_id, person_id, status in Record.objects.filter(session__in=sessions).values_list(
        "session_id", "person_id", "status"
    ):
        records[session_id].append((person_id, status))
    summaries = {}
    for session in sessions:
        marked = records[session.pk]
        counts = Counter(status for _, status in marked)
        missing = len(members[session.group_id] - {person_id for person_id, _ in marked})
        counts[ABSENT if session.has_ended(moment) else EXPECTED] += missing
        summaries[str(session.pk)] = {status: counts.get(status, 0) for status in SUMMARY_STATUSES}
    return summaries


def day_summaries(day: date, *, moment: datetime | None = None) -> list[tuple[Session, dict[str, int]]]:
    """Today's sessions in start order, each with its roster counts; one cache key for the whole day."""
    moment = moment or timezone.now()
    sessions = list(sessions_for_day(day).select_related("group").order_by("starts_at"))
    # Keyed by the sessions themselves and which of them have ended (that turns "expected" into "absent").
    signature = hashlib.sha256(
        repr([(session.pk, session.group_id, session.has_ended(moment)) for session in sessions]).encode()
    ).hexdigest()[:16]
    summaries = _cached(f"day:{day}:{signature}", lambda: _summaries(sessions, moment))
    return [(session, summaries[str(session.pk)]) for session in sessions]


def day_start(day: date) -> datetime:
    """Midnight of ``day`` in the organisation's time zone."""
    return timezone.make_aware(datetime.combine(day, datetime.min.time()), timezone.get_current_timezone())


def sessions_for_day(day: date):
    return Session.objects.filter(starts_at__gte=day_start(day), starts_at__lt=day_start(day + timedelta(days=1)))


def past_sessions(before: date):
    return Session.objects.filter(starts_at__lt=day_start(before))


def visible_groups(user):
    """The groups ``user`` runs: administrators see every group, other staff the groups they own."""
    groups = Group.objects.all()
    return groups if user.role == Role.ADMIN else groups.filter(owner=user)


def _rate(attended: int, expected: int) -> float | None:
    return round(attended / expected, 4) if expected else None


def _history(person) -> dict:
    moment = timezone.now()
    records = {r.session_id: r for r in Record.objects.filter(person=person).select_related("reason")}
    sessions = Session.objects.filter(group__members=person) | Session.objects.filter(pk__in=list(records))
    rows, attended, expected, excused = [], 0, 0, 0
    for session in sessions.distinct().select_related("group").order_by("-starts_at"):
        record = records.get(session.pk)
        if record:
            status = record.status
        elif session.has_ended(moment):
            status = ABSENT
        elif session.starts_at > moment:
            continue  # not yet
        else:
            status = EXPECTED
        if status in ATTENDED:
            attended += 1
        if status in (*ATTENDED, ABSENT):
            expected += 1
        if status == Status.EXCUSED:
            excused += 1
        rows.append(
            {
                "session_id": str(session.pk),
                "title": session.title,
                "group": session.group.name,
                "starts_at": session.starts_at.isoformat(),
                "status": status,
                "marked_at": record.marked_at.isoformat() if record else None,
                "method": record.method if record else None,
                **(record_fields(record) if record else {}),
            }
        )
    rate = _rate(attended, expected)
    return {"rows": rows, "attended": attended, "expected": expected, "excused": excused, "rate": rate}


def person_history(person) -> dict:
    """Every session the person was expected at (or attended): status, and the attendance rate.

    Excused sessions count neither for nor against the rate: attended / (sessions expected - excused).
    """
    # "history2": the rows gained fields (arrival, check-out, reason); a history cached before has none.
    return _cached(f"history2:{person.pk}", lambda: _history(person))


@dataclass(frozen=True)
class WorkedDay:
    day: date  # the day of arrival, in the organisation's time zone
    minutes: int

    @property
    def words(self) -> str:
        return duration_words(self.minutes)


@dataclass(frozen=True)
class WorkedWeek:
    year: int  # ISO year and week
    week: int
    days: tuple[WorkedDay, ...]  # in day order, only the days with worked time

    @property
    def monday(self) -> date:
        return date.fromisocalendar(self.year, self.week, 1)

    @property
    def minutes(self) -> int:
        return sum(day.minutes for day in self.days)

    @property
    def words(self) -> str:
        return duration_words(self.minutes)


def worked_hours(person, *, start: date | None = None, end: date | None = None) -> list[WorkedWeek]:
    """The time ``person`` spent between arriving and checking out, per day and per ISO week, newest week
    first; from ``start`` to ``end`` (days of arrival, both included) when given. A visit without a
    check-out counts nothing: its length is not known."""
    records = Record.objects.filter(person=person, status__in=ATTENDED, checked_out_at__isnull=False)
    if start is not None:
        records = records.filter(marked_at__gte=day_start(start))
    if end is not None:
        records = records.filter(marked_at__lt=day_start(end + timedelta(days=1)))
    per_day = defaultdict(int)
    for arrived_at, left_at in records.values_list("marked_at", "checked_out_at"):
        per_day[timezone.localtime(arrived_at).date()] += worked_minutes(arrived_at, left_at)
    weeks = defaultdict(list)
    for day in sorted(per_day):
        weeks[day.isocalendar()[:2]].append(WorkedDay(day=day, minutes=per_day[day]))
    newest_first = sorted(weeks, reverse=True)
    return [WorkedWeek(year=year, week=week, days=tuple(weeks[year, week])) for year, week in newest_first]


def _daily_rates(group, start: date, end: date) -> list[dict]:
    moment = timezone.now()
    sessions = Session.objects.filter(
        group=group, starts_at__gte=day_start(start), starts_at__lt=day_start(end + timedelta(days=1))
    )
    members = group.members.count()
    attended, expected = defaultdict(int), defaultdict(int)
    for session in sessions:
        if not session.has_ended(moment):
            continue
        day = timezone.localtime(session.starts_at).date().isoformat()
        statuses = Counter(Record.objects.filter(session=session).values_list("status", flat=True))
        attended[day] += statuses[Status.PRESENT] + statuses[Status.LATE]
        expected[day] += members - statuses[Status.EXCUSED]
    return [
        {"day": day, "attended": attended[day], "expected": expected[day], "rate": _rate(attended[day], expected[day])}
        for day in sorted(expected)
    ]


def daily_attendance_rates(group, *, start: date, end: date) -> list[dict]:
    return _cached(f"daily:{group.pk}:{start}:{end}", lambda: _daily_rates(group, start, end))


def records_for_export(
    *, session: Session | None = None, group=None, start: date | None = None, end: date | None = None
):
    """Records in session order, for CSV export: one session, or a group and/or a date range."""
    records = Record.objects.select_related("session__group", "person", "marked_by", "reason").order_by(
        "session__starts_at", "person__last_name", "person__first_name"
    )
    if session is not None:
        records = records.filter(session=session)
    if group is not None:
        records = records.filter(session__group=group)
    if start is not None:
        records = records.filter(session__starts_at__gte=day_start(start))
    if end is not None:
        records = records.filter(session__starts_at__lt=day_start(end + timedelta(days=1)))
    return records


def active_absence_reasons():
    return AbsenceReason.objects.filter(is_active=True)


def recent_not_live(limit: int = 30):
    """The latest attempts not judged live, newest first, for staff beside the review queue."""
    return NotLiveAttempt.objects.select_related("device", "candidate")[:limit]


def open_reviews():
    return PendingCheckIn.objects.open().select_related("session__group", "candidate", "runner_up", "device")


@dataclass(frozen=True)
class ReviewItem:
    """A pending check-in as staff decide it: plain words, the face, who it may be, where in the frame."""

    pending: PendingCheckIn
    doubt: str  # in plain words, never a raw distance
    sample_id: str | None  # the candidate's most recent enrolled photo
    outline: dict | None  # the face's box in percent of the frame (left, top, width, height)
    already: Record | None  # the candidate's record for the session, when they are marked already


def doubt_in_words(pending: PendingCheckIn, review_distance: float) -> str:
    if pending.runner_up_id is not None and pending.runner_up_distance is not None:
        if pending.runner_up_distance < review_distance:
            names = {"candidate": pending.candidate, "runner_up": pending.runner_up}
            return _("Looks like %(candidate)s or %(runner_up)s: both came close.") % names
    return _("Close to %(candidate)s, but not certain.") % {"candidate": pending.candidate}


def _outline(pending: PendingCheckIn) -> dict | None:
    if not pending.frame_width or not pending.frame_height:
        return None
    x, y, w, h = pending.box
    width, height = pending.frame_width, pending.frame_height
    return {"left": 100 * x / width, "top": 100 * y / height, "width": 100 * w / width, "height": 100 * h / height}


def review_items(review_distance: float) -> list[ReviewItem]:
    from faces.models import FaceSample

    pending = list(open_reviews())
    samples = {}
    # Only samples with a photo: with FACES_KEEP_PHOTOS off there is none to show.
    with_photo = FaceSample.objects.filter(person__in={p.candidate_id for p in pending}).exclude(image="")
    for person_id, sample_id in with_photo.values_list("person_id", "pk"):
        samples.setdefault(person_id, str(sample_id))  # newest first (FaceSample.Meta.ordering)
    records = {
        (record.session_id, record.person_id): record
        for record in Record.objects.filter(session__in={p.session_id for p in pending})
    }
    return [
        ReviewItem(
            pending=item,
            doubt=doubt_in_words(item, review_distance),
            sample_id=samples.get(item.candidate_id),
            outline=_outline(item),
            already=records.get((item.session_id, item.candidate_id)),
        )
        for item in pending
    ]
