"""Reads behind the printable pages: a group's register for one ISO week, and a person's report over a
range of days with the hours worked (check-out minus arrival, per week). Both give the daily rates
their charts draw (attendance.charts).
"""

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.translation import gettext_lazy, pgettext_lazy

from attendance.charts import DayRate, percent_label
from attendance.models import Record, Session, Status, day_start
from attendance.selectors import ABSENT, EXPECTED, arrival_of, worked_minutes

# The one-letter codes of the register's cells and totals, in the reader's language.
CODES = {
    Status.PRESENT: pgettext_lazy("register code", "P"),
    Status.LATE: pgettext_lazy("register code", "L"),
    Status.EXCUSED: pgettext_lazy("register code", "E"),
    Status.ABSENT: pgettext_lazy("register code", "A"),
}
STATUS_WORDS = {
    Status.PRESENT: gettext_lazy("present"),
    Status.LATE: gettext_lazy("late"),
    Status.EXCUSED: gettext_lazy("excused"),
    Status.ABSENT: gettext_lazy("absent"),
    EXPECTED: gettext_lazy("not yet"),
}
ISO_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
FIRST_YEAR, LAST_YEAR = 2000, 2099


@dataclass(frozen=True, order=True)
class IsoWeek:
    year: int
    week: int

    @classmethod
    def of(cls, day: date) -> "IsoWeek":
        year, week, _ = day.isocalendar()
        return cls(year, week)

    @classmethod
    def parse(cls, text: str) -> "IsoWeek":
        """ "2026-W49"; ValueError for anything else, a week 53 of a year with 52, or a year out of range."""
        match = ISO_WEEK.match(text.strip())
        if not match:
            raise ValueError(text)
        year, week = int(match[1]), int(match[2])
        if not FIRST_YEAR <= year <= LAST_YEAR:
            raise ValueError(text)
        date.fromisocalendar(year, week, 1)  # ValueError for week 0, or 53 of a 52-week year
        return cls(year, week)

    def __str__(self) -> str:
        return f"{self.year}-W{self.week:02d}"

    @property
    def monday(self) -> date:
        return date.fromisocalendar(self.year, self.week, 1)

    @property
    def sunday(self) -> date:
        return self.monday + timedelta(days=6)

    @property
    def previous(self) -> "IsoWeek | None":
        week = IsoWeek.of(self.monday - timedelta(days=7))
        return week if week.year >= FIRST_YEAR else None

    @property
    def next(self) -> "IsoWeek | None":
        week = IsoWeek.of(self.monday + timedelta(days=7))
        return week if week.year <= LAST_YEAR else None


def by_last_name(person) -> tuple:
    return (person.last_name.lower(), person.first_name.lower(), person.username)


def counted_status(record: Record | None, session: Session, moment: datetime) -> str:
    """The record's status; without one, absent once the session has ended, else still expected."""
    if record is not None:
        return record.status
    return ABSENT if session.has_ended(moment) else EXPECTED


@dataclass
class Totals:
    present: int = 0
    late: int = 0
    excused: int = 0
    absent: int = 0

    def add(self, status: str) -> None:
        if status in CODES:
            setattr(self, status, getattr(self, status) + 1)

    @property
    def attended(self) -> int:
        return self.present + self.late

    @property
    def expected(self) -> int:
        """Excused people are not expected: they count neither for nor against the rate."""
        return self.present + self.late + self.absent


@dataclass(frozen=True)
class Footnote:
    number: int
    code: str
    label: str


@dataclass(frozen=True)
class Cell:
    code: str  # P, L, E or A; "" for a session still to come
    status: str
    reason_code: str = ""
    reason_label: str = ""
    note: str = ""
    footnote: int | None = None  # the number of the reason in the register's legend


@dataclass(frozen=True)
class RegisterColumn:
    session: Session
    totals: Totals


@dataclass(frozen=True)
class RegisterRow:
    person: object
    cells: list[Cell]
    totals: Totals


@dataclass(frozen=True)
class WeekRegister:
    group: object
    week: IsoWeek
    columns: list[RegisterColumn]
    rows: list[RegisterRow]
    days: list[DayRate]  # every day from Monday to Friday, and a weekend day with sessions
    reasons: list[Footnote]  # the absence reasons given this week, numbered for the legend
    moment: datetime

    @property
    def totals(self) -> Totals:
        totals = Totals()
        for row in self.rows:
            for name in CODES:
                setattr(totals, name, getattr(totals, name) + getattr(row.totals, name))
        return totals


def _cell(record: Record | None, session: Session, moment: datetime, footnotes: dict[str, Footnote]) -> Cell:
    status = counted_status(record, session, moment)
    if record is None:
        return Cell(code=str(CODES.get(status, "")), status=status)
    reason = record.reason
    return Cell(
        code=str(CODES[status]),
        status=status,
        reason_code=reason.code if reason else "",
        reason_label=reason.label if reason else "",
        note=record.note,
        footnote=footnotes[reason.code].number if reason else None,
    )


def _week_days(week: IsoWeek, sessions: list[Session]) -> list[date]:
    with_sessions = {timezone.localtime(session.starts_at).date() for session in sessions}
    days = [week.monday + timedelta(days=offset) for offset in range(7)]
    return [day for day in days if day.weekday() < 5 or day in with_sessions]


def week_register(group, week: IsoWeek, *, moment: datetime | None = None) -> WeekRegister:
    """Every member's mark at every session of ``group`` in ``week``, with the totals both ways."""
    moment = moment or timezone.now()
    sessions = list(Session.objects.between(week.monday, week.sunday).filter(group=group).order_by("starts_at"))
    records = {
        (record.session_id, record.person_id): record
        for record in Record.objects.filter(session__in=[session.pk for session in sessions]).select_related("reason")
    }
    people = list(group.members.all())
    # People marked this week who have left the group since stay on its register.
    known = {person.pk for person in people}
    others = {person_id for _, person_id in records if person_id not in known}
    people += list(get_user_model().objects.filter(pk__in=list(others)))
    people.sort(key=by_last_name)

    given = sorted({(record.reason.code, record.reason.label) for record in records.values() if record.reason})
    footnotes = {code: Footnote(number, code, label) for number, (code, label) in enumerate(given, start=1)}
    columns = [RegisterColumn(session=session, totals=Totals()) for session in sessions]
    per_day = defaultdict(Totals)
    rows = []
    for person in people:
        cells, totals = [], Totals()
        for column in columns:
            session = column.session
            record = records.get((session.pk, person.pk))
            cell = _cell(record, session, moment, footnotes)
            cells.append(cell)
            totals.add(cell.status)
            column.totals.add(cell.status)
            if session.has_ended(moment):
                per_day[timezone.localtime(session.starts_at).date()].add(cell.status)
        rows.append(RegisterRow(person=person, cells=cells, totals=totals))
    days = [
        DayRate(day=day, attended=per_day[day].attended, expected=per_day[day].expected)
        for day in _week_days(week, sessions)
    ]
    return WeekRegister(
        group=group,
        week=week,
        columns=columns,
        rows=rows,
        days=days,
        reasons=list(footnotes.values()),
        moment=moment,
    )


def hours_and_minutes(worked: timedelta) -> str:
    """7:05 for seven hours and five minutes (whole minutes, rounded down)."""
    minutes = int(worked.total_seconds() // 60)
    return f"{minutes // 60}:{minutes % 60:02d}"


def worked_time(record: Record | None) -> timedelta | None:
    """From arrival to check-out, in whole minutes as on the history page (attendance.selectors); None when
    either is unknown."""
    minutes = None if record is None else worked_minutes(arrival_of(record), record.checked_out_at)
    return None if minutes is None else timedelta(minutes=minutes)


@dataclass(frozen=True)
class ReportRow:
    session: Session
    status: str  # present, late, excused, absent, or expected (running, not arrived yet)
    arrived_at: datetime | None  # none for excused and absent: their marked_at is when the mark was made
    left_at: datetime | None
    reason_code: str
    reason_label: str
    note: str
    worked: timedelta | None

    @property
    def status_label(self) -> str:
        return str(STATUS_WORDS.get(self.status, self.status))


@dataclass(frozen=True)
class WeekHours:
    week: IsoWeek
    worked: timedelta

    @property
    def text(self) -> str:
        return hours_and_minutes(self.worked)


@dataclass(frozen=True)
class PersonReport:
    person: object
    start: date
    end: date
    groups: list
    rows: list[ReportRow]
    totals: Totals
    days: list[DayRate]  # the days with a finished session, in order
    weeks: list[WeekHours] = field(default_factory=list)  # only weeks with a check-out, in order
    moment: datetime | None = None

    @property
    def rate(self) -> float | None:
        return self.totals.attended / self.totals.expected if self.totals.expected else None

    @property
    def rate_text(self) -> str:
        return percent_label(self.rate)

    @property
    def worked(self) -> timedelta:
        return sum((week.worked for week in self.weeks), timedelta(0))

    @property
    def worked_text(self) -> str:
        return hours_and_minutes(self.worked)


def person_report(person, *, start: date, end: date, moment: datetime | None = None) -> PersonReport:
    """Every session of ``person``'s groups from ``start`` to ``end`` (and any other they were marked at):
    status, arrival, check-out, reason and note; the rate, the hours per week and the daily rates."""
    moment = moment or timezone.now()
    first, after = day_start(start), day_start(end + timedelta(days=1))  # as Session.objects.between(start, end)
    records = {
        record.session_id: record
        for record in Record.objects.filter(
            person=person, session__starts_at__gte=first, session__starts_at__lt=after
        ).select_related("reason")
    }
    theirs = Session.objects.between(start, end).filter(group__members=person)
    sessions = theirs | Session.objects.filter(pk__in=list(records))
    rows, totals = [], Totals()
    per_day, per_week = defaultdict(Totals), defaultdict(timedelta)
    for session in sessions.distinct().select_related("group").order_by("starts_at"):
        record = records.get(session.pk)
        if record is None and session.starts_at > moment:
            continue  # still to come
        status = counted_status(record, session, moment)
        totals.add(status)
        day = timezone.localtime(session.starts_at).date()
        if session.has_ended(moment):
            per_day[day].add(status)
        worked = worked_time(record)
        if worked is not None:
            per_week[IsoWeek.of(day)] += worked
        reason = record.reason if record else None
        rows.append(
            ReportRow(
                session=session,
                status=status,
                arrived_at=arrival_of(record) if record else None,
                left_at=record.checked_out_at if record else None,
                reason_code=reason.code if reason else "",
                reason_label=reason.label if reason else "",
                note=record.note if record else "",
                worked=worked,
            )
        )
    return PersonReport(
        person=person,
        start=start,
        end=end,
        groups=list(person.attendance_groups.all()),
        rows=rows,
        totals=totals,
        days=[DayRate(day=day, attended=t.attended, expected=t.expected) for day, t in sorted(per_day.items())],
        weeks=[WeekHours(week=week, worked=per_week[week]) for week in sorted(per_week)],
        moment=moment,
    )
