"""The printable pages in Chromium: a 30-member register on one landscape A4 page, a report on portrait A4."""

import re
from datetime import date, datetime, timedelta

import pytest
from django.utils import timezone

from accounts.models import Role
from attendance.models import AbsenceReason, Group, Record, Session, Status
from tests.e2e.conftest import screenshot, sign_in
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

MONDAY = date(2026, 11, 2)  # ISO week 2026-W45
A4_LONG, A4_SHORT = 842, 595  # points
PAGE = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")
MEDIA_BOX = re.compile(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]")


def pdf_pages(pdf: bytes) -> list[tuple[float, float]]:
    """The size of each page of a PDF from Chromium (an uncompressed page tree), in points."""
    assert pdf.startswith(b"%PDF-")
    boxes = [(float(width), float(height)) for width, height in MEDIA_BOX.findall(pdf)]
    assert len(boxes) == len(PAGE.findall(pdf))
    return boxes


@pytest.fixture
def full_class():
    """30 members, two lessons a day from Monday to Friday of MONDAY's week, everybody marked somehow."""
    teacher = UserFactory(username="teacher", role=Role.STAFF, first_name="Tess", last_name="Teacher")
    group = Group.objects.create(name="Year 9 Blue", owner=teacher)
    people = [
        UserFactory(username=f"pupil{n:02d}", first_name=f"Pupil{n:02d}", last_name=f"Surname-{n:02d}")
        for n in range(30)
    ]
    group.members.set(people)
    illness = AbsenceReason.objects.get_or_create(code="illness", defaults={"label": "Illness"})[0]
    statuses = [Status.PRESENT] * 6 + [Status.LATE, Status.EXCUSED, Status.ABSENT, None]
    zone = timezone.get_current_timezone()
    for offset in range(5):
        day = MONDAY + timedelta(days=offset)
        for hour, title in ((9, "Mathematics"), (13, "Geography")):
            start = datetime(day.year, day.month, day.day, hour, tzinfo=zone)
            ends = start + timedelta(hours=1)
            session = Session.objects.create(group=group, title=title, starts_at=start, ends_at=ends)
            for index, person in enumerate(people):
                status = statuses[(index + offset + hour) % len(statuses)]
                if status is not None:
                    Record.objects.create(
                        session=session,
                        person=person,
                        status=status,
                        method="manual",
                        marked_at=start + timedelta(minutes=12 if status == Status.LATE else 0),
                        checked_out_at=start + timedelta(minutes=55) if status == Status.PRESENT else None,
                        reason=illness if status == Status.EXCUSED else None,
                    )
    return teacher, group, people


def test_a_register_of_30_prints_on_one_landscape_a4_page_without_the_site_around_it(live_server, page, full_class):
    teacher, group, _ = full_class
    sign_in(page, live_server.url, teacher.username, PASSWORD)
    page.goto(f"{live_server.url}/attendance/groups/{group.pk}/register/?week=2026-W45")
    assert page.locator("#register tbody tr").count() == 30
    assert page.locator("#print-button").is_visible() and page.locator(".topbar").is_visible()
    screenshot(page, "print-01-register-screen")

    page.emulate_media(media="print")
    for chrome in (".topbar", ".footer", "#print-button", ".sheet-actions"):
        assert not page.locator(chrome).first.is_visible(), chrome
    assert page.locator("#register").is_visible() and page.locator(".rate-chart").is_visible()
    pdf = page.pdf(format="A4", landscape=True, prefer_css_page_size=True)
    (size,) = pdf_pages(pdf)  # one page
    assert size == (pytest.approx(A4_LONG, abs=1), pytest.approx(A4_SHORT, abs=1))


def test_the_person_report_prints_on_portrait_a4(live_server, page, full_class):
    teacher, _, people = full_class
    sign_in(page, live_server.url, teacher.username, PASSWORD)
    page.goto(f"{live_server.url}/attendance/people/{people[0].pk}/report/?from=2026-11-01&to=2026-11-30")
    assert page.locator("#report tbody tr").count() == 10
    screenshot(page, "print-02-report-screen")
    page.emulate_media(media="print")
    assert not page.locator(".topbar").is_visible() and not page.locator("#print-button").is_visible()
    # The page's own @page size wins over the format asked for.
    pages = pdf_pages(page.pdf(format="A4", landscape=True, prefer_css_page_size=True))
    assert len(pages) == 1
    assert pages[0] == (pytest.approx(A4_SHORT, abs=1), pytest.approx(A4_LONG, abs=1))
