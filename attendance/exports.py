"""Attendance as CSV: one row per person and session, with the columns of the staff export page, from the
roster lines of attendance.selectors or from records. A cell a spreadsheet would run as a formula starts
with an apostrophe."""

import csv
from collections.abc import Iterable, Iterator
from datetime import datetime

from django.http import HttpResponse
from django.utils import timezone

from attendance.models import Record, Session
from attendance.selectors import MarkDetails, RosterLine, mark_details

CSV_COLUMNS = [
    "session",
    "group",
    "starts_at",
    "username",
    "name",
    "status",
    "marked_at",
    "method",
    "marked_by",
    "arrived_at",
    "left_at",
    "worked_minutes",
    "reason",
    "note",
    "edited_at",
]


def csv_cell(value) -> str:
    text = "" if value is None else str(value)
    # A leading = + - @ would run as a formula in spreadsheet programs.
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def local_minute(moment: datetime | None) -> str:
    """The moment in the organisation's time zone, to the minute; blank for none."""
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M") if moment else ""


def _row(
    session: Session, *, username: str, name: str, status: str, marked_at, method, marked_by, details: MarkDetails
) -> list[str]:
    cells = [session.title, session.group.name, local_minute(session.starts_at), username, name, status]
    cells += [local_minute(marked_at), method, marked_by]
    cells += [
        local_minute(details.arrived_at),
        local_minute(details.checked_out_at),
        details.worked_minutes,
        details.reason,
        details.note,
        local_minute(details.edited_at),
    ]
    return [csv_cell(value) for value in cells]


def roster_rows(session: Session, lines: Iterable[RosterLine]) -> Iterator[list[str]]:
    """A session's roster as CSV rows: every member, marked or not."""
    for line in lines:
        mark = {"status": line.status, "marked_at": line.marked_at, "method": line.method, "marked_by": line.marked_by}
        yield _row(session, username=line.username, name=line.name, **mark, details=line)


def record_row(record: Record) -> list[str]:
    """One record as a CSV row; its session, group, person and marker fetched with it."""
    return _row(
        record.session,
        username=record.person.username,
        name=str(record.person),
        status=record.status,
        marked_at=record.marked_at,
        method=record.method,
        marked_by=str(record.marked_by or ""),
        details=mark_details(record),
    )


def csv_response(filename: str, rows: Iterable[list[str]]) -> HttpResponse:
    """A CSV attachment: the header, then ``rows``."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow(CSV_COLUMNS)
    writer.writerows(rows)
    return response
