"""A teacher's week in the real browser: she imports her class from a CSV file, records a guardian's paper
consent and enrolls a pupil's photo, sets a weekly lesson and a holiday, the kiosk checks the pupil in and
out, she marks an excused and an absent pupil, and prints the week's register."""

import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.db.models import F
from django.utils import timezone

from accounts.models import ConsentText, Role, User
from attendance.models import Record
from tests.conftest import FACES_DIR
from tests.e2e.conftest import SCREENSHOTS, screenshot, sign_in
from tests.e2e.test_print import A4_LONG, A4_SHORT, pdf_pages
from tests.factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.without_consent]

GROUP = "Year 8 Kestrel"
HEADER = "external_id,name,groups,contact_email\n"
PUPILS = [  # external id, name, contact email; Rose's face is the one the kiosk sees
    ("P2001", "Rose Leslie", "guardian.leslie@example.org"),
    ("P2002", "Ada Lovelace", ""),
    ("P2003", "Alan Turing", "guardian.turing@example.org"),
    ("P2004", "Grace Hopper", ""),
]
ROSE, ADA, ALAN, GRACE = (external_id.lower() for external_id, _, _ in PUPILS)  # their usernames, made by the import


def class_csv(folder, *, typo: bool) -> str:
    rows = [f"{external_id},{name},{GROUP},{email}\n" for external_id, name, email in PUPILS]
    if typo:
        rows[2] = rows[2].replace("@", "(at)")
    path = folder / "year8.csv"
    path.write_text(HEADER + "".join(rows), encoding="utf-8")
    return str(path)


def pdf_title(pdf: bytes) -> str:
    """The document title Chromium writes in a PDF's information dictionary (UTF-16 in hexadecimal)."""
    (title,) = re.findall(rb"/Title\s*<FEFF([0-9A-F]*)>", pdf)
    return bytes.fromhex(title.decode()).decode("utf-16-be")


def shot(page, step: str):
    screenshot(page, f"teachers-week-{step}")


def flash(page) -> str:
    return page.locator("ul.messages").inner_text()


def nav(page, name: str):
    page.locator("nav.nav").get_by_role("link", name=name, exact=True).click()


def open_group(page):
    nav(page, "Groups")
    row = page.get_by_role("row", name=re.compile(GROUP))
    assert row.locator("td").nth(1).inner_text() == "Tess Teacher"  # she imported the group: it is hers
    row.get_by_role("link", name=GROUP, exact=True).click()
    page.get_by_role("heading", name=GROUP, exact=True).wait_for()


def import_the_class(page, folder):
    nav(page, "Import")
    page.get_by_role("heading", name="Import people").wait_for()
    page.get_by_label("CSV file").set_input_files(class_csv(folder, typo=True))
    page.get_by_role("button", name="Check the file").click()
    report = page.locator("#import-report")
    assert "1 row has errors: nothing will be imported until the file is corrected." in report.inner_text()
    rows = report.locator("tbody tr")
    assert rows.count() == len(PUPILS)  # every row is reported, not only the bad one
    bad = report.locator("tr[data-line='4']")
    assert "tone-bad" in bad.get_attribute("class")
    assert "invalid contact email “guardian.turing(at)example.org”" in bad.inner_text()
    assert page.locator("#import-confirm").count() == 0
    shot(page, "02-import-row-error")

    page.get_by_label("CSV file").set_input_files(class_csv(folder, typo=False))
    page.get_by_role("button", name="Check the file").click()
    summary = page.locator("#import-summary").inner_text()
    assert "4 to create, 0 to update, 0 unchanged." in summary and f"New groups: {GROUP}." in summary
    for line, (external_id, name, _) in enumerate(PUPILS, start=2):
        row = page.locator(f"#import-report tr[data-line='{line}']").inner_text()
        assert external_id in row and name in row and "create" in row
    shot(page, "03-import-report")
    page.get_by_role("button", name="Import 4 people").click()
    assert flash(page).startswith("Imported: 4 created, 0 updated, 0 unchanged;")
    assert page.locator("#import-report").count() == 0
    shot(page, "04-imported")


def enroll_rose(page):
    nav(page, "People")
    page.get_by_label("Search").fill("Leslie")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("row", name=re.compile("Rose Leslie")).get_by_role("link", name="Enroll face").click()
    page.get_by_role("heading", name="Enroll Rose Leslie").wait_for()
    assert page.locator("#consent-missing").is_visible()  # nothing can be enrolled before consent
    page.get_by_label("Signed by").select_option("guardian")
    page.get_by_label("Name of who signed").fill("Lily Leslie")
    page.get_by_role("button", name="Record signed paper form on file").click()
    assert "A signed paper consent of Rose Leslie is recorded, by Tess Teacher." in flash(page)
    assert "Lily Leslie" in page.locator("#consent-state").inner_text()
    page.locator("#id_photos").set_input_files(str(FACES_DIR / "rose_leslie" / "01.jpg"))
    page.get_by_role("button", name="Upload and enroll").click()
    assert "1 photo enrolled for Rose Leslie." in flash(page)
    assert page.get_by_role("heading", name="Enrolled photos (1)").is_visible()
    shot(page, "05-enrolled")


def scheduled_days(page) -> list[str]:
    return [row.get_attribute("data-day") for row in page.locator("#upcoming-sessions tbody tr[data-day]").all()]


def set_the_timetable(page, start, today):
    open_group(page)
    assert page.locator("ul.members li").count() == len(PUPILS)
    page.get_by_role("link", name="Timetable", exact=True).click()
    form = page.locator("#timetable-form")
    form.get_by_label("Title").fill("Science")
    form.get_by_label("Weekday").select_option(str(today.weekday()))
    form.get_by_label("Starts at").fill(f"{start:%H:%M}")
    form.get_by_label("Ends at").fill(f"{start + timedelta(hours=1):%H:%M}")
    form.get_by_label("Location").fill("Lab 2")
    form.get_by_label("Term starts").fill(f"{today - timedelta(weeks=2):%Y-%m-%d}")
    form.get_by_label("Term ends").fill(f"{today + timedelta(weeks=8):%Y-%m-%d}")
    form.get_by_role("button", name="Add to the timetable").click()
    weeks = settings.ATTENDANCE["TIMETABLE_WEEKS_AHEAD"]
    assert flash(page).startswith(f"Timetable saved: {weeks + 1} new sessions up to ")
    lessons = [today + timedelta(weeks=week) for week in range(weeks + 1)]
    assert scheduled_days(page) == [f"{day:%Y-%m-%d}" for day in lessons]
    assert f"{start:%H:%M}" in page.locator("#timetable-entries").inner_text()
    shot(page, "06-timetable")

    page.get_by_role("link", name="Holidays", exact=True).first.click()
    page.get_by_role("heading", name="Holidays", exact=True).wait_for()
    form = page.locator("#holiday-form")
    form.get_by_label("Name").fill("Half term")
    form.get_by_label("First day").fill(f"{today + timedelta(days=5):%Y-%m-%d}")
    form.get_by_label("Last day").fill(f"{today + timedelta(days=9):%Y-%m-%d}")
    form.get_by_role("button", name="Add holiday").click()
    assert "Holiday Half term added: 1 timetabled session on its days was removed." in flash(page)
    assert "Half term" in page.locator("#holiday-list").inner_text()
    shot(page, "07-holiday")

    open_group(page)
    page.get_by_role("link", name="Timetable", exact=True).click()
    holiday_week = today + timedelta(weeks=1)
    assert scheduled_days(page) == [f"{day:%Y-%m-%d}" for day in lessons if day != holiday_week]
    assert "Holidays to come: Half term" in page.locator("main").inner_text()
    shot(page, "08-timetable-with-holiday")


def check_in_and_out(browser_with_camera, base_url, kiosk, rose):
    page = browser_with_camera("rose_leslie/02.jpg")  # another photo than the enrolled one
    sign_in(page, base_url, kiosk.username, PASSWORD)
    assert page.url.endswith("/attendance/kiosk/")
    assert page.inner_text("#kiosk-sessions") == f"Science · {GROUP}"
    page.wait_for_selector("#kiosk-result.tone-ok", timeout=30_000)
    assert re.fullmatch(r"Rose Leslie: checked in at \d\d:\d\d", page.inner_text("#kiosk-result"))
    shot(page, "09-kiosk-checked-in")

    # She is still in front of it: a scan within CHECK_OUT_AFTER_MINUTES of the arrival is the same visit.
    page.wait_for_selector("#kiosk-result.tone-info", timeout=30_000)
    assert re.fullmatch(r"Rose Leslie: already checked in at \d\d:\d\d", page.inner_text("#kiosk-result"))
    assert Record.objects.get(person=rose).checked_out_at is None

    # Half an hour passes (her arrival moves back), and her next scan checks her out.
    gap = settings.ATTENDANCE["CHECK_OUT_AFTER_MINUTES"] + 1
    assert Record.objects.filter(person=rose).update(marked_at=F("marked_at") - timedelta(minutes=gap)) == 1
    page.wait_for_selector("#kiosk-result.tone-out", timeout=30_000)
    assert re.fullmatch(rf"Rose Leslie: checked out at \d\d:\d\d, {gap} min", page.inner_text("#kiosk-result"))
    shot(page, "10-kiosk-checked-out")
    page.close()  # the kiosk stops scanning: recognition is heavy on a shared machine


def mark_in_roster(page, name: str, status: str, reason: str, note: str = ""):
    page.get_by_label(f"New status for {name}").select_option(status)
    page.get_by_label(f"Reason {name} was not there (for excused or absent)").select_option(label=reason)
    page.get_by_label(f"Note on {name}").fill(note)
    page.get_by_role("row", name=re.compile(name)).get_by_role("button", name="Save").click()
    assert f"{name} marked {status}." in flash(page)


def mark_absences(page):
    nav(page, "Sessions")
    page.get_by_role("link", name="Science", exact=True).click()
    page.get_by_role("heading", name="Science", exact=True).wait_for()
    rose = page.locator(f"tr[data-person={ROSE}]")
    assert "present" in rose.locator(".badge").inner_text()
    assert re.fullmatch(r"\d\d:\d\d \(\d+ min\)", rose.locator("td.left").inner_text())

    mark_in_roster(page, "Ada Lovelace", "excused", "Illness (excused)", "Flu; her mother phoned")
    mark_in_roster(page, "Alan Turing", "absent", "Unauthorised absence")
    assert page.locator(f"tr[data-person={ADA}] td.reason").inner_text() == "Illness · Flu; her mother phoned"
    assert page.locator(f"tr[data-person={ADA}] .badge").inner_text() == "excused"
    assert page.locator(f"tr[data-person={ALAN}] td.reason").inner_text() == "Unauthorised absence"
    assert page.locator(f"tr[data-person={ALAN}] .badge").inner_text() == "absent"
    assert page.locator(f"tr[data-person={GRACE}] .badge").inner_text() == "not yet"
    shot(page, "11-roster-marked")

    nav(page, "Sessions")
    today = page.get_by_role("row", name=re.compile("Science"))
    cells = today.locator("td").all_inner_texts()
    present, late, excused, absent, not_yet = cells[4:9]
    assert (cells[2], present, late, excused, absent, not_yet) == (GROUP, "1", "0", "1", "1", "1")
    shot(page, "12-day-list")


def print_the_register(page):
    open_group(page)
    page.get_by_role("link", name="Print register").click()
    page.get_by_role("heading", name=f"Register: {GROUP}").wait_for()
    assert page.locator("#register thead th.session").count() == 1  # this week: today's lesson only
    codes = {
        username: page.locator(f"#register tr[data-person={username}] td.code").inner_text()
        for username in (ROSE, ADA, ALAN, GRACE)
    }
    # E and A carry the footnote of their reason; Grace, not marked, is blank until the lesson has ended.
    assert codes == {ROSE: "P", ADA: "E1", ALAN: "A2", GRACE: ""}
    legend = page.locator(".legend").inner_text()
    assert "1 illness: Illness" in legend and "2 unauthorised: Unauthorised absence" in legend
    assert "Teacher: Tess Teacher" in legend
    shot(page, "13-register")

    page.emulate_media(media="print")
    assert not page.locator(".topbar").is_visible() and not page.locator("#print-button").is_visible()
    assert page.get_by_role("heading", name=f"Register: {GROUP}").is_visible()
    shot(page, "14-register-print")
    pdf = page.pdf(format="A4", landscape=True, prefer_css_page_size=True)
    (size,) = pdf_pages(pdf)  # one page
    assert size == (pytest.approx(A4_LONG, abs=1), pytest.approx(A4_SHORT, abs=1))
    assert GROUP in pdf_title(pdf)
    (SCREENSHOTS / "teachers-week-register.pdf").write_bytes(pdf)


def test_a_teachers_week(live_server, browser_with_camera, kiosk, tmp_path, absence_reasons):
    start = (timezone.localtime() + timedelta(minutes=5)).replace(second=0, microsecond=0)
    today = start.date()
    if (start + timedelta(hours=1)).date() != today or timezone.localdate() != today:
        pytest.skip("too close to midnight for a lesson today")
    ConsentText.objects.create(version=1, body="We keep a template of your face for attendance.")
    UserFactory(username="tess", first_name="Tess", last_name="Teacher", role=Role.STAFF)

    page = browser_with_camera("_none/brick.png")
    sign_in(page, live_server.url, "tess", PASSWORD)
    assert page.locator(".who").inner_text() == "Tess Teacher · Staff"
    shot(page, "01-signed-in")

    import_the_class(page, tmp_path)
    enroll_rose(page)
    # Only lessons still to start are generated (attendance.timetables): this one starts in a few minutes,
    # within the check-in window (CHECK_IN_OPENS_MINUTES_BEFORE), so the kiosk takes arrivals already.
    set_the_timetable(page, start, today)
    rose = User.objects.get(username=ROSE)
    check_in_and_out(browser_with_camera, live_server.url, kiosk, rose)
    mark_absences(page)
    print_the_register(page)
