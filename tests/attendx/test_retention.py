"""Retention (attendx.retention): under a frozen clock each kind of personal data goes exactly at its
RETENTION limit, rows and files; templates of people who left go after their days; a second purge finds
nothing; `manage.py purge --dry-run` only counts; beat runs the same purge; the page shows the settings."""

import io
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.checks import run_checks
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditAction, AuditEvent
from attendance.models import CheckInRequest, Evidence, Group, NotLiveAttempt, PendingCheckIn, Record
from attendx.retention import Purged, purge
from faces.models import FaceJob, FaceSample, JobKind, JobState
from tests.attendance.conftest import make_session
from tests.celery_worker import wait_for
from tests.factories import FaceSampleFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

SECOND = timedelta(seconds=1)
RETENTION = {
    "TEMPLATES_AFTER_LEAVING_DAYS": 30,
    "EVIDENCE_DAYS": 30,
    "REVIEW_FRAME_HOURS": 24,
    "NOT_LIVE_DAYS": 14,
    "CHECK_IN_ANSWER_HOURS": 24,
}


@pytest.fixture(autouse=True)
def _retention(settings):
    settings.RETENTION = dict(RETENTION)


@pytest.fixture
def born():
    """The moment every row in a test was made; purges run at moments after it."""
    return timezone.now().replace(microsecond=0)


def _with_file(row, field: str, name: str):
    getattr(row, field).save(name, ContentFile(b"personal pixels"), save=False)
    row.save()
    return Path(getattr(row, field).path)


def _session():
    return make_session(Group.objects.get_or_create(name="Class 7B")[0])


def review_frame(born):
    kiosk, person = UserFactory(role="kiosk"), UserFactory()
    pending = PendingCheckIn(
        session=_session(),
        candidate=person,
        distance=0.08,
        box=[0, 0, 10, 10],
        device=kiosk,
        captured_at=born,
        expires_at=born + timedelta(hours=RETENTION["REVIEW_FRAME_HOURS"]),
    )
    return PendingCheckIn.objects, _with_file(pending, "frame", "frame.jpg")


def evidence(born):
    session, person = _session(), UserFactory()
    record = Record.objects.create(session=session, person=person, status="present", method="face", distance=0.05)
    path = _with_file(Evidence(record=record, distance=0.05), "face", "face.jpg")
    Evidence.objects.update(created_at=born)
    return Evidence.objects, path


def not_live(born):
    attempt = NotLiveAttempt(device=UserFactory(role="kiosk"), candidate=UserFactory(), reason="screen")
    path = _with_file(attempt, "face", "face.jpg")
    NotLiveAttempt.objects.update(seen_at=born)
    return NotLiveAttempt.objects, path


def check_in_answer(born):
    CheckInRequest.objects.create(device=UserFactory(role="kiosk"), key="k-1", status_code=201, response={})
    CheckInRequest.objects.update(created_at=born)
    return CheckInRequest.objects, None


KINDS = [
    pytest.param(review_frame, timedelta(hours=RETENTION["REVIEW_FRAME_HOURS"]), "review_frames", id="review-frame"),
    pytest.param(evidence, timedelta(days=RETENTION["EVIDENCE_DAYS"]), "evidence", id="evidence"),
    pytest.param(not_live, timedelta(days=RETENTION["NOT_LIVE_DAYS"]), "not_live", id="not-live"),
    pytest.param(check_in_answer, timedelta(hours=RETENTION["CHECK_IN_ANSWER_HOURS"]), "check_in_answers", id="answer"),
]


@pytest.mark.parametrize(("make", "limit", "count"), KINDS)
def test_each_kind_goes_exactly_at_its_limit_with_its_file(make, limit, count, born):
    rows, path = make(born)
    assert purge(moment=born + limit - SECOND) == Purged()
    assert rows.count() == 1 and (path is None or path.is_file())
    assert getattr(purge(moment=born + limit), count) == 1
    assert not rows.exists() and (path is None or not path.exists())


def test_a_shorter_limit_applies_to_review_frames_already_waiting(settings, born):
    rows, path = review_frame(born)
    settings.RETENTION = {**RETENTION, "REVIEW_FRAME_HOURS": 2}
    assert purge(moment=born + timedelta(hours=2) - SECOND).review_frames == 0
    assert purge(moment=born + timedelta(hours=2)).review_frames == 1
    assert not rows.exists() and not path.exists()


def test_attendance_records_stay_when_their_evidence_goes(born):
    evidence(born)
    purge(moment=born + timedelta(days=RETENTION["EVIDENCE_DAYS"]))
    assert Record.objects.count() == 1 and not Evidence.objects.exists()


def person_who_left(*, days_ago: float, now):
    person = UserFactory(is_active=False)
    type(person).objects.filter(pk=person.pk).update(left_at=now - timedelta(days=days_ago))
    sample = FaceSampleFactory(person=person)
    return person, Path(sample.image.path)


def test_templates_of_people_who_left_go_after_their_days(born):
    gone, gone_photo = person_who_left(days_ago=31, now=born)
    staying, staying_photo = person_who_left(days_ago=29, now=born)
    active = FaceSampleFactory(person=UserFactory()).person

    purged = purge(moment=born)

    assert (purged.people_who_left, purged.face_samples) == (1, 1)
    assert not FaceSample.objects.filter(person=gone).exists() and not gone_photo.exists()
    assert FaceSample.objects.filter(person=staying).count() == 1 and staying_photo.is_file()
    assert FaceSample.objects.filter(person=active).count() == 1
    erased = AuditEvent.objects.get(action=AuditAction.ERASED, subject=gone)
    assert erased.actor is None and erased.detail["reason"].startswith("retention: left on ")


def test_templates_go_exactly_at_the_days_after_leaving(born):
    person, photo = person_who_left(days_ago=0, now=born)
    limit = timedelta(days=RETENTION["TEMPLATES_AFTER_LEAVING_DAYS"])
    assert purge(moment=born + limit - SECOND).people_who_left == 0
    assert photo.is_file()
    assert purge(moment=born + limit).people_who_left == 1
    assert not FaceSample.objects.filter(person=person).exists() and not photo.exists()


def test_an_active_person_keeps_their_templates_however_old(born):
    sample = FaceSampleFactory(person=UserFactory())
    assert purge(moment=born + timedelta(days=3650)).face_samples == 0
    assert FaceSample.objects.filter(pk=sample.pk).exists()


def everything(born):
    for make in (review_frame, evidence, not_live, check_in_answer):
        make(born)
    person_who_left(days_ago=0, now=born)


def test_a_second_purge_deletes_nothing(born):
    everything(born)
    later = born + timedelta(days=31)
    first = purge(moment=later)
    assert (first.review_frames, first.evidence, first.not_live, first.check_in_answers) == (1, 1, 1, 1)
    assert (first.people_who_left, first.face_samples) == (1, 1)
    erasures = AuditEvent.objects.filter(action=AuditAction.ERASED).count()
    assert purge(moment=later) == Purged()
    assert AuditEvent.objects.filter(action=AuditAction.ERASED).count() == erasures  # nobody erased twice


def test_dry_run_counts_and_deletes_nothing(born, _media_root):
    everything(born)
    # The command purges at the real clock: make everything old enough for that.
    PendingCheckIn.objects.update(captured_at=born - timedelta(days=31), expires_at=born - timedelta(days=30))
    Evidence.objects.update(created_at=born - timedelta(days=31))
    NotLiveAttempt.objects.update(seen_at=born - timedelta(days=31))
    CheckInRequest.objects.update(created_at=born - timedelta(days=31))
    type(FaceSample.objects.get().person).objects.filter(is_active=False).update(left_at=born - timedelta(days=31))
    files = sorted(path for path in Path(_media_root).rglob("*") if path.is_file())
    out = io.StringIO()

    call_command("purge", "--dry-run", stdout=out)

    assert out.getvalue().strip() == (
        "Would delete 1 review frame(s), the evidence of 1 mark(s), 1 attempt(s) not judged live, "
        "1 stored check-in answer(s), 1 face sample(s) of 1 person(s) who left, 0 finished face job(s) and "
        "0 folder(s) of staged photos."
    )
    assert sorted(path for path in files if path.is_file()) == files and len(files) == 4
    for model in (PendingCheckIn, Evidence, NotLiveAttempt, CheckInRequest, FaceSample):
        assert model.objects.count() == 1
    out = io.StringIO()
    call_command("purge", stdout=out)
    assert out.getvalue().startswith("Deleted 1 review frame(s)") and not any(path.exists() for path in files)


def test_the_old_command_name_runs_the_same_purge(born):
    check_in_answer(born - timedelta(days=2))
    err = io.StringIO()
    call_command("purge_check_ins", stdout=io.StringIO(), stderr=err)
    assert "deprecated" in err.getvalue() and not CheckInRequest.objects.exists()


def test_beat_schedules_the_purge_hourly(settings):
    from celery.schedules import crontab

    from attendx.celery import app

    app.loader.import_default_modules()
    entry = settings.CELERY_BEAT_SCHEDULE["purge"]
    assert entry["task"] == "attendx.tasks.purge" and entry["task"] in app.tasks
    assert entry["schedule"] == crontab(minute="15")
    assert "purge-check-ins" not in settings.CELERY_BEAT_SCHEDULE  # one purge job


def test_the_task_runs_the_purge_on_a_real_worker(celery_worker, born):
    from attendx.tasks import purge as purge_task

    check_in_answer(born - timedelta(days=2))
    purge_task.delay()
    wait_for(lambda: not CheckInRequest.objects.exists(), timeout=30, what="the purge task")


def test_the_task_returns_the_counts(born):
    from attendx.tasks import purge as purge_task

    check_in_answer(born - timedelta(days=2))
    assert purge_task() == asdict(Purged(check_in_answers=1))


def test_retention_limits_must_be_positive_numbers(settings):
    settings.RETENTION = {**RETENTION, "EVIDENCE_DAYS": 0, "NOT_LIVE_DAYS": "14"}
    errors = [message for message in run_checks() if message.id == "attendx.E002"]
    assert [error.msg.split(" must")[0] for error in errors] == ["RETENTION_EVIDENCE_DAYS", "RETENTION_NOT_LIVE_DAYS"]
    settings.RETENTION = dict(RETENTION)
    assert not [message for message in run_checks() if message.id.startswith("attendx.")]


def test_the_retention_page_shows_the_configured_limits(client, member, settings):
    client.force_login(member)
    page = client.get(reverse("retention"))
    content = page.content.decode()
    assert page.status_code == 200
    assert "at most 30 days after your account is deactivated" in content
    assert "24 hours, or until staff decide" in content and "14 days." in content
    settings.RETENTION = {**RETENTION, "TEMPLATES_AFTER_LEAVING_DAYS": 7, "NOT_LIVE_DAYS": 1}
    content = client.get(reverse("retention")).content.decode()
    assert "at most 7 days after your account is deactivated" in content and "<td>1 day.</td>" in content


def test_the_retention_page_is_linked_for_people_signed_in(client, member, staff):
    for user in (member, staff):
        client.force_login(user)
        assert reverse("retention") in client.get(reverse("home")).content.decode()


def test_anonymous_people_sign_in_first_and_kiosks_are_refused(client, kiosk):
    page = client.get(reverse("retention"))
    assert page.status_code == 302 and page.url.startswith(reverse("accounts:login"))
    client.force_login(kiosk)
    assert client.get(reverse("retention")).status_code == 403


def test_the_one_purge_also_deletes_finished_face_jobs_past_their_days(settings):
    settings.FACES = {**settings.FACES, "JOB_DAYS": 30}
    now = timezone.now()
    old = FaceJob.objects.create(kind=JobKind.ENROLL, state=JobState.DONE, created_at=now - timedelta(days=31))
    recent = FaceJob.objects.create(kind=JobKind.ENROLL, state=JobState.DONE, created_at=now - timedelta(days=29))
    running = FaceJob.objects.create(kind=JobKind.ENROLL, state=JobState.RUNNING, created_at=now - timedelta(days=90))

    assert purge(moment=now, dry_run=True).face_jobs == 1 and FaceJob.objects.count() == 3
    assert purge(moment=now).face_jobs == 1
    assert set(FaceJob.objects.values_list("pk", flat=True)) == {recent.pk, running.pk}
    assert purge(moment=now).face_jobs == 0 and not FaceJob.objects.filter(pk=old.pk).exists()
