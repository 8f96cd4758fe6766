"""Weekly timetables and holidays, and the sessions generated from them ahead of time.

A timetable makes one session a week on its weekday within its term, at its wall-clock time in the
organisation's time zone (settings.TIME_ZONE, whatever the daylight saving), skipping holidays. Sessions
not over yet are made (one under way too), and only those still to start are changed or removed: the
past is never rewritten. The unique constraint (timetable, starts_at) makes each session once, however
many workers generate at the same time; a session that no longer fits (a holiday added, a timetable
edited or deleted) goes unless it has records.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import IntegrityError
from django.utils import timezone

from attendance.models import Holiday, Record, Session, Timetable
from attendx.db import run_in_transaction

TIMETABLE_FIELDS = (
    "title",
    "weekday",
    "starts_at",
    "ends_at",
    "location",
    "late_after_minutes",
    "first_day",
    "last_day",
)
# What a generated session copies from its timetable, besides its start.
SESSION_DETAILS = ("title", "ends_at", "location", "late_after_minutes")


@dataclass(frozen=True)
class Generated:
    created: int
    removed: int


@dataclass(frozen=True)
class TimetableSaved:
    timetable: Timetable
    sessions: Generated
    until: date


def horizon(today: date | None = None) -> date:
    """The last day sessions are generated for: ATTENDANCE["TIMETABLE_WEEKS_AHEAD"] weeks from today."""
    today = today or timezone.localdate(timezone=timezone.get_default_timezone())
    return today + timedelta(weeks=settings.ATTENDANCE["TIMETABLE_WEEKS_AHEAD"])


class _Calendar:
    """The days and times of timetabled sessions, in the organisation's time zone."""

    def __init__(self, holidays: Iterable[tuple[date, date]]):
        self.zone = timezone.get_default_timezone()
        self.holidays = list(holidays)

    def is_holiday(self, day: date) -> bool:
        return any(first <= day <= last for first, last in self.holidays)

    def is_lesson_day(self, entry: Timetable, day: date) -> bool:
        return day.weekday() == entry.weekday and entry.first_day <= day <= entry.last_day and not self.is_holiday(day)

    def at(self, day: date, time) -> datetime:
        return timezone.make_aware(datetime.combine(day, time), self.zone)

    def local_day(self, moment: datetime) -> date:
        return timezone.localtime(moment, self.zone).date()

    def session(self, entry: Timetable, day: date) -> Session:
        return Session(
            group_id=entry.group_id,
            timetable=entry,
            title=entry.title,
            starts_at=self.at(day, entry.starts_at),
            ends_at=self.at(day, entry.ends_at),
            location=entry.location,
            late_after_minutes=entry.late_after_minutes,
        )


def upcoming_sessions(*, group):
    """The group's timetabled sessions still to start, soonest first."""
    return (
        Session.objects.filter(group=group, timetable__isnull=False, starts_at__gt=timezone.now())
        .select_related("timetable")
        .order_by("starts_at")
    )


def _create_once(planned_by) -> int:
    """1 when this call made the session ``planned_by()`` plans, 0 when it exists already (another worker's)."""

    def write():
        # A new object on every attempt: a failed attempt leaves its primary key on the one it saved.
        planned = planned_by()
        if Session.objects.filter(timetable=planned.timetable, starts_at=planned.starts_at).exists():
            return 0
        planned.save()
        return 1

    try:
        return run_in_transaction(write)
    except IntegrityError:
        # Another worker inserted it between this one's read and write (a database without transactions).
        return 0


def _sync(entry: Timetable, calendar: _Calendar, *, today: date, until: date, now: datetime) -> Generated:
    future = list(Session.objects.filter(timetable=entry, starts_at__gt=now))
    unfitting, changed = [], []
    for session in future:
        day = calendar.local_day(session.starts_at)
        if not calendar.is_lesson_day(entry, day) or session.starts_at != calendar.at(day, entry.starts_at):
            unfitting.append(session.pk)
            continue
        planned = calendar.session(entry, day)
        if any(getattr(session, field) != getattr(planned, field) for field in SESSION_DETAILS):
            for field in SESSION_DETAILS:
                setattr(session, field, getattr(planned, field))
            changed.append(session)
    removed = _remove_unrecorded(unfitting)
    if changed:
        run_in_transaction(lambda: [session.save(update_fields=SESSION_DETAILS) for session in changed])

    existing = {session.starts_at for session in future}
    created = 0
    day = max(today, entry.first_day)
    day += timedelta(days=(entry.weekday - day.weekday()) % 7)
    while day <= min(until, entry.last_day):
        if not calendar.is_holiday(day):
            starts_at = calendar.at(day, entry.starts_at)
            # A lesson already under way is made too (a teacher adding today's at 9:03); one over is not.
            if calendar.at(day, entry.ends_at) > now and starts_at not in existing:
                created += _create_once(partial(calendar.session, entry, day))
        day += timedelta(weeks=1)
    return Generated(created=created, removed=removed)


def _remove_unrecorded(session_ids: list) -> int:
    """Delete those of the sessions nobody has a record of; the others stay as they are."""
    if not session_ids:
        return 0

    def write():
        recorded = set(Record.objects.filter(session__in=session_ids).values_list("session_id", flat=True))
        doomed = [pk for pk in session_ids if pk not in recorded]
        Session.objects.filter(pk__in=doomed).delete()
        return len(doomed)

    return run_in_transaction(write)


def sync_sessions(*, until: date, timetable: Timetable | None = None, moment: datetime | None = None) -> Generated:
    """Make the sessions of ``timetable`` (of every timetable whose term has not ended, when None) up to
    ``until``, and remove its future ones that no longer fit and have no records. Safe to run twice or
    from several workers at once."""
    now = moment or timezone.now()
    today = timezone.localdate(now, timezone=timezone.get_default_timezone())
    calendar = _Calendar(Holiday.objects.filter(last_day__gte=today).values_list("first_day", "last_day"))
    entries = [timetable] if timetable is not None else Timetable.objects.filter(last_day__gte=today)
    created = removed = 0
    for entry in entries:
        outcome = _sync(entry, calendar, today=today, until=until, now=now)
        created, removed = created + outcome.created, removed + outcome.removed
    return Generated(created=created, removed=removed)


def generate_sessions(*, until: date, timetable: Timetable | None = None, moment: datetime | None = None) -> int:
    """The number of sessions made: see sync_sessions()."""
    return sync_sessions(until=until, timetable=timetable, moment=moment).created


def _saved(entry: Timetable) -> TimetableSaved:
    until = horizon()
    return TimetableSaved(timetable=entry, sessions=sync_sessions(until=until, timetable=entry), until=until)


def create_timetable(*, group, by=None, **fields) -> TimetableSaved:
    """A new weekly entry of ``group`` (fields: TIMETABLE_FIELDS), and its sessions up to horizon()."""
    entry = Timetable(group=group, created_by=by, **{name: fields[name] for name in TIMETABLE_FIELDS})
    run_in_transaction(entry.save)
    return _saved(entry)


def update_timetable(*, timetable: Timetable, **fields) -> TimetableSaved:
    """Change an entry; its future sessions move with it (those with records stay where they were)."""
    for name in TIMETABLE_FIELDS:
        setattr(timetable, name, fields[name])
    run_in_transaction(lambda: timetable.save(update_fields=TIMETABLE_FIELDS))
    return _saved(timetable)


def delete_timetable(*, timetable: Timetable) -> int:
    """Delete an entry and its future sessions without records; return how many sessions went. Its past
    sessions, and future ones with records, stay as sessions of their own."""
    future = list(
        Session.objects.filter(timetable=timetable, starts_at__gt=timezone.now()).values_list("pk", flat=True)
    )
    removed = _remove_unrecorded(future)
    run_in_transaction(timetable.delete)
    return removed


def add_holiday(*, name: str, first_day: date, last_day: date) -> tuple[Holiday, Generated]:
    """A holiday for every group; the future sessions on its days go (those with records stay)."""
    holiday = Holiday(name=name, first_day=first_day, last_day=last_day)
    run_in_transaction(holiday.save)
    return holiday, sync_sessions(until=horizon())


def delete_holiday(*, holiday: Holiday) -> Generated:
    """Delete a holiday; the timetables' sessions on its days are made again."""
    run_in_transaction(holiday.delete)
    return sync_sessions(until=horizon())
