"""The beat schedule: it names real tasks, settings can change it, and beat runs the purges through a
real worker."""

from datetime import timedelta
from pathlib import Path

import pytest
from celery.schedules import crontab
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.files.base import ContentFile
from django.utils import timezone

from attendance.models import CheckInRequest, Group, PendingCheckIn
from tests.attendance.conftest import make_session
from tests.celery_worker import running_beat, wait_for
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_every_scheduled_task_is_a_registered_task():
    from attendx.celery import app

    app.loader.import_default_modules()
    schedule = settings.CELERY_BEAT_SCHEDULE
    assert {entry["task"] for entry in schedule.values()} <= set(app.tasks)
    assert schedule["purge"]["task"] == "attendx.tasks.purge"
    assert schedule["purge"]["schedule"] == crontab(minute="15")  # hourly
    assert schedule["clear-sessions"]["task"] == "accounts.tasks.clear_expired_sessions"
    assert schedule["resume-face-jobs"]["schedule"] == 120.0


def test_the_environment_changes_or_switches_off_an_entry(monkeypatch):
    from attendx.settings.base import _schedule

    monkeypatch.setenv("SCHEDULE_PURGE", "15 2 * * 1")
    assert _schedule("PURGE", "15 * * * *") == crontab(minute="15", hour="2", day_of_week="1")
    monkeypatch.setenv("SCHEDULE_PURGE", "5")
    assert _schedule("PURGE", "15 * * * *") == 5.0
    monkeypatch.setenv("SCHEDULE_PURGE", "off")
    assert _schedule("PURGE", "15 * * * *") is None


def test_beat_runs_the_purges_on_the_worker(celery_worker, tmp_path):
    kiosk, person = UserFactory(role="kiosk"), UserFactory(role="member")
    session = make_session(Group.objects.create(name="Class 7B"))
    expired = PendingCheckIn(
        session=session,
        candidate=person,
        distance=0.08,
        box=[0, 0, 10, 10],
        device=kiosk,
        expires_at=timezone.now() - timedelta(minutes=1),
    )
    expired.frame.save("frame.jpg", ContentFile(b"a frame"), save=False)
    expired.save()
    frame = Path(expired.frame.path)
    old_answer = CheckInRequest.objects.create(device=kiosk, key="k-1", status_code=201, response={})
    CheckInRequest.objects.filter(pk=old_answer.pk).update(created_at=timezone.now() - timedelta(days=2))
    Session.objects.create(session_key="x" * 32, session_data="", expire_date=timezone.now() - timedelta(days=1))
    every_second = {"SCHEDULE_PURGE": "1", "SCHEDULE_CLEAR_SESSIONS": "1"}
    every_second |= {"SCHEDULE_RESUME_FACE_JOBS": "off"}
    with running_beat(schedule_file=tmp_path / "beat-schedule", env=every_second):
        wait_for(
            lambda: not PendingCheckIn.objects.exists() and not Session.objects.exists(),
            timeout=30,
            what="the scheduled purges",
        )
    assert not frame.exists() and not CheckInRequest.objects.exists()
