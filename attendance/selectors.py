"""Reads for attendance: rosters, histories, rates and the records the pages and exports show, as typed
objects. Rosters and reports are cached in Redis as JSON under a generation token that every change of a
record bumps (``_cached`` converts both ways); without Redis they are computed every time, and stay correct.
"""

import hashlib
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any, TypeVar, get_args, get_type_hints

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Role
from attendance.charts import DayRate
from attendance.models import (
    AbsenceReason,
    CheckInCredential,
    Evidence,
    Group,
    Holiday,
    NotLiveAttempt,
    PendingCheckIn,
    Record,
    Session,
    Status,
    Timetable,
    WebhookEndpoint,
    day_start,
)
from attendx.cache import bump_generation, cache_get, cache_set, current_generation

REPORTS = "attendance-reports"
ABSENT = "absent"
EXPECTED = "expected"  # the session has not ended and the person has not arrived yet
ATTENDED = (Status.PRESENT, Status.LATE)  # the statuses of a person who came: they have an arrival time

T = TypeVar("T")


def bump_reports_generation() -> None:
    bump_generation(REPORTS)


def _cached(key: str, compute: Callable[[], T], *, to_json: Callable[[T], Any], from_json: Callable[[Any], T]) -> T:
    """``compute()`` cached as JSON under the reports generation: ``to_json`` on the way in, ``from_json`` out."""
    generation = current_generation(REPORTS)
    if generation is None:
        return compute()
    full_key = f"report:{generation}:{key}"
    stored = cache_get(full_key)
    if stored is not None:
        return from_json(stored)
    value = compute()
    cache_set(full_key, to_json(value), expire=settings.ATTENDANCE["REPORT_CACHE_TTL"])
    return value


@cache
def _dated_fields(cls) -> dict[str, type]:
    """The fields of a dataclass that hold a datetime or a date (or None), with which of the two."""
    dated = {}
    for name, hint in get_type_hints(cls).items():
        kind = next((kind for kind in (datetime, date) if hint is kind or kind in get_args(hint)), None)
        if kind is not None:
            dated[name] = kind
    return dated


def _to_json(item) -> dict:
    """A flat dataclass as a JSON object: datetimes and dates as ISO text."""
    values = {field.name: getattr(item, field.name) for field in fields(item)}
    return {name: value.isoformat() if isinstance(value, date) else value for name, value in values.items()}


def _from_json(cls: type[T], data: dict) -> T:
    dated = _dated_fields(cls)
    return cls(
        **{
            name: dated[name].fromisoformat(value) if name in dated and value is not None else value
            for name, value in data.items()
        }
    )


def _list_codec(cls: type[T]) -> dict[str, Callable]:
    return {
        "to_json": lambda items: [_to_json(item) for item in items],
        "from_json": lambda data: [_from_json(cls, item) for item in data],
    }


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


@dataclass(frozen=True, kw_only=True)
class MarkDetails:
    """A record's arrival, check-out, reason and last edit, as rosters, histories and exports show them."""

    arrived_at: datetime | None = None  # none for excused and absent
    checked_out_at: datetime | None = None
    worked_minutes: int | None = None
    reason: str | None = None  # the absence reason's code
    reason_label: str | None = None
    note: str = ""
    edited_at: datetime | None = None  # the last change by hand

    @property
    def worked(self) -> str:
        """The worked time in words; empty until both arrival and check-out are known."""
        return "" if self.worked_minutes is None else duration_words(self.worked_minutes)


def _detail_fields(record: Record) -> dict:
    arrived_at = arrival_of(record)
    return {
        "arrived_at": arrived_at,
        "checked_out_at": record.checked_out_at,
        "worked_minutes": worked_minutes(arrived_at, record.checked_out_at),
        "reason": record.reason.code if record.reason else None,
        "reason_label": record.reason.label if record.reason else None,
        "note": record.note,
        "edited_at": record.edited_at,
    }


def mark_details(record: Record) -> MarkDetails:
    return MarkDetails(**_detail_fields(record))


@dataclass(frozen=True, kw_only=True)
class RosterLine(MarkDetails):
    person_id: str
    name: str
    username: str
    status: str  # present, late, excused, absent, expected
    marked_at: datetime | None
    method: str | None
    marked_by: str | None  # who marked it by hand (or approved it from review), who last edited it
    record_id: str | None = None
    evidence: bool = False  # a face crop to show


def _roster(session: Session, moment: datetime) -> list[RosterLine]:
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
            RosterLine(
                person_id=str(person.pk),
                name=str(person),
                username=person.username,
                status=record.status if record else missing,
                marked_at=record.marked_at if record else None,
                method=record.method if record else None,
                marked_by=str(record.marked_by) if record and record.marked_by else None,
                record_id=str(record.pk) if record else None,
                evidence=bool(record and record.pk in with_evidence),
                **(_detail_fields(record) if record else {}),
            )
        )
    return lines


def roster_for_session(session: Session, *, moment: datetime | None = None) -> list[RosterLine]:
    moment = moment or timezone.now()
    phase = "ended" if session.has_ended(moment) else "open"
    # "roster3": the lines became typed objects; a line cached before is not read back.
    return _cached(f"roster3:{session.pk}:{phase}", lambda: _roster(session, moment), **_list_codec(RosterLine))


SUMMARY_STATUSES = (Status.PRESENT, Status.LATE, Status.EXCUSED, ABSENT, EXPECTED)


def roster_summary(lines: list[RosterLine]) -> dict[str, int]:
    counts = Counter(line.status for line in lines)
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
    summaries = _cached(f"day:{day}:{signature}", lambda: _summaries(sessions, moment), to_json=dict, from_json=dict)
    return [(session, summaries[str(session.pk)]) for session in sessions]


def sessions_for_day(day: date):
    return Session.objects.between(day, day)


def past_sessions(before: date):
    """Sessions that started before the day ``before``, latest first, with their groups."""
    return Session.objects.between(None, before - timedelta(days=1)).select_related("group")


def sessions_between(start: date, end: date, *, group: Group | None = None):
    """The sessions of the days from ``start`` to ``end`` in start order, of ``group`` when given."""
    sessions = Session.objects.between(start, end).select_related("group").order_by("starts_at")
    return sessions if group is None else sessions.filter(group=group)


def sessions_with_group():
    return Session.objects.select_related("group")


def recent_changes(session: Session, *, limit: int = 20):
    """The latest changes of the session's marks, newest first."""
    return session.changes.select_related("person", "by")[:limit]


def people():
    """Every account, for the pages about one person."""
    return get_user_model().objects.all()


def visible_groups(user):
    """The groups ``user`` runs: administrators see every group, other staff the groups they own."""
    groups = Group.objects.all()
    return groups if user.role == Role.ADMIN else groups.filter(owner=user)


def with_member_counts(groups):
    """``groups`` with ``member_count`` and their owners, in two queries however many groups."""
    # The owners prefetched, not joined: django-mongodb-backend misreads a select_related beside a Count.
    return groups.annotate(member_count=Count("members")).prefetch_related("owner")


def group_list(user):
    """The groups ``user`` runs, with their owners and ``member_count``."""
    return with_member_counts(visible_groups(user))


def visible_timetable_entry(user, entry_id) -> Timetable | None:
    """A timetable entry of a group ``user`` runs (attendance.selectors.visible_groups), or None."""
    try:
        entry = Timetable.objects.select_related("group").get(pk=entry_id)
    except Timetable.DoesNotExist:
        return None
    return entry if visible_groups(user).filter(pk=entry.group_id).exists() else None


def members_of(group: Group):
    return group.members.all()


def timetable_entries(group: Group):
    return group.timetables.all()


def holidays(*, since: date | None = None):
    """Every holiday in day order; from ``since`` on (those not over by then) when given."""
    every = Holiday.objects.all()
    return every if since is None else every.filter(last_day__gte=since)


def _rate(attended: int, expected: int) -> float | None:
    return round(attended / expected, 4) if expected else None


@dataclass(frozen=True, kw_only=True)
class HistoryRow(MarkDetails):
    session_id: str
    title: str
    group: str
    starts_at: datetime
    status: str  # present, late, excused, absent, expected
    marked_at: datetime | None = None
    method: str | None = None


@dataclass(frozen=True)
class PersonHistory:
    rows: tuple[HistoryRow, ...]  # latest session first
    attended: int
    expected: int  # present, late or absent: excused sessions are not expected
    excused: int

    @property
    def rate(self) -> float | None:
        return _rate(self.attended, self.expected)


def _history_to_json(history: PersonHistory) -> dict:
    counts = {"attended": history.attended, "expected": history.expected, "excused": history.excused}
    return {"rows": [_to_json(row) for row in history.rows], **counts}


def _history_from_json(data: dict) -> PersonHistory:
    rows = tuple(_from_json(HistoryRow, row) for row in data["rows"])
    return PersonHistory(rows=rows, attended=data["attended"], expected=data["expected"], excused=data["excused"])


def _history(person) -> PersonHistory:
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
            HistoryRow(
                session_id=str(session.pk),
                title=session.title,
                group=session.group.name,
                starts_at=session.starts_at,
                status=status,
                marked_at=record.marked_at if record else None,
                method=record.method if record else None,
                **(_detail_fields(record) if record else {}),
            )
        )
    return PersonHistory(rows=tuple(rows), attended=attended, expected=expected, excused=excused)


def person_history(person) -> PersonHistory:
    """Every session the person was expected at (or attended): status, and the attendance rate.

    Excused sessions count neither for nor against the rate: attended / (sessions expected - excused).
    """
    # "history3": the rows became typed objects; a history cached before is not read back.
    return _cached(
        f"history3:{person.pk}", lambda: _history(person), to_json=_history_to_json, from_json=_history_from_json
    )


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


def _daily_rates(group, start: date, end: date) -> list[DayRate]:
    """At most three queries whatever the number of days and sessions: ended sessions, members, marks."""
    moment = timezone.now()
    sessions = Session.objects.between(start, end).filter(group=group, ends_at__lt=moment)
    ended = list(sessions.values_list("pk", "starts_at"))
    if not ended:
        return []
    members = group.members.count()
    marks = defaultdict(Counter)
    per_status = (
        Record.objects.filter(session__in=[pk for pk, _ in ended])
        .order_by()
        .values("session_id", "status")
        .annotate(count=Count("pk"))
    )
    for row in per_status:
        marks[row["session_id"]][row["status"]] = row["count"]
    attended, expected = defaultdict(int), defaultdict(int)
    for pk, starts_at in ended:
        day = timezone.localtime(starts_at).date()
        attended[day] += marks[pk][Status.PRESENT] + marks[pk][Status.LATE]
        expected[day] += members - marks[pk][Status.EXCUSED]
    return [DayRate(day=day, attended=attended[day], expected=expected[day]) for day in sorted(expected)]


def daily_attendance_rates(group, *, start: date, end: date) -> list[DayRate]:
    """Who came on each day from ``start`` to ``end`` with a finished session of ``group``, in day order."""
    # "daily2": the days became typed objects.
    key = f"daily2:{group.pk}:{start}:{end}"
    return _cached(key, lambda: _daily_rates(group, start, end), **_list_codec(DayRate))


def records_for_export(*, group=None, start: date | None = None, end: date | None = None):
    """Records in session order, for the API's lists and CSV export: a group and/or a date range."""
    records = Record.objects.select_related("session__group", "person", "marked_by", "reason").order_by(
        "session__starts_at", "person__last_name", "person__first_name"
    )
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


def reviews_with_candidate():
    """Every pending check-in, decided or not, with its candidate: for the frame and face staff view."""
    return PendingCheckIn.objects.select_related("candidate")


def not_live_attempts():
    return NotLiveAttempt.objects.select_related("candidate")


def records_with_details():
    return Record.objects.select_related("session__group", "person", "device", "marked_by", "reason")


def evidence_with_person():
    return Evidence.objects.select_related("record__person")


@dataclass(frozen=True)
class RecordEvidence:
    """A record's evidence for its page: the face, distances and agreeing frames, when a face marked it."""

    evidence: Evidence | None
    frames: list[dict]  # each frame the matcher saw, with "at" as a datetime
    kept_until: datetime | None  # when the evidence is purged (RETENTION["EVIDENCE_DAYS"])
    worked_minutes: int | None

    @property
    def worked(self) -> str:
        return "" if self.worked_minutes is None else duration_words(self.worked_minutes)


def record_evidence(record: Record) -> RecordEvidence:
    evidence = Evidence.objects.filter(record=record).first()
    frames = []
    if evidence is not None:
        frames = [{**seen, "at": datetime.fromtimestamp(seen["at"], tz=UTC)} for seen in evidence.frames]
    days = settings.RETENTION["EVIDENCE_DAYS"]
    return RecordEvidence(
        evidence=evidence,
        frames=frames,
        kept_until=evidence.created_at + timedelta(days=days) if evidence else None,
        worked_minutes=worked_minutes(arrival_of(record), record.checked_out_at),
    )


def credential_holders():
    """The people who may hold a check-in PIN or QR card: every account but the kiosks'."""
    return get_user_model().objects.exclude(role=Role.KIOSK)


@dataclass(frozen=True)
class CredentialState:
    held: CheckInCredential | None
    locked: bool  # too many wrong PINs: refused until locked_until


def credential_state(person, *, moment: datetime | None = None) -> CredentialState:
    moment = moment or timezone.now()
    held = CheckInCredential.objects.filter(person=person).first()
    locked = held is not None and held.locked_until is not None and held.locked_until > moment
    return CredentialState(held=held, locked=locked)


def webhook_endpoints():
    return WebhookEndpoint.objects.all()


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
