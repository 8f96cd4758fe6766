"""Email notifications through a real SMTP server (aiosmtpd on a loopback port): a guardian told once of
an absence or a late arrival, the staff digest, rate alerts once a week, and retries while the mail
server refuses or is down, by a real Celery worker."""

import email
import threading
from datetime import timedelta
from email.policy import default as default_policy

import pytest
import redis
from aiosmtpd.controller import Controller
from django.utils import timezone

from attendance import notifications
from attendance.models import (
    AbsenceReason,
    Group,
    Notification,
    NotificationKind,
    NotificationState,
    Record,
    Session,
    Status,
)
from attendance.selectors import day_start
from tests.celery_worker import broker_at, running_worker, wait_for
from tests.conftest import free_port
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


class Mailbox:
    """An aiosmtpd handler that keeps what it accepts; ``refuse_data`` replies are given first, in turn."""

    def __init__(self):
        self.lock = threading.Lock()
        self.messages = []  # (envelope recipients, parsed message)
        self.refuse_data: list[str] = []
        self.refuse_recipients = ""
        self.refused = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse_recipients:
            return self.refuse_recipients
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            if self.refuse_data:
                self.refused += 1
                return self.refuse_data.pop(0)
            message = email.message_from_bytes(envelope.content, policy=default_policy)
            self.messages.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def received(self) -> list:
        with self.lock:
            return list(self.messages)


@pytest.fixture
def smtp_server(settings):
    """A real SMTP server on a free loopback port, and Django's SMTP backend pointed at it."""
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", controller.port, 5
    settings.EMAIL_USE_TLS = False
    mailbox.port = controller.port
    yield mailbox
    controller.stop()


def text(message) -> str:
    """A received email's body, its SMTP line endings as in Python."""
    return message.get_content().replace("\r\n", "\n")


def broker() -> redis.Redis:
    from django.conf import settings

    return redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=1)


def ended_session(group, *, title="Maths", ended_minutes_ago=5, length_minutes=60) -> Session:
    end = timezone.now() - timedelta(minutes=ended_minutes_ago)
    return Session.objects.create(
        group=group, title=title, starts_at=end - timedelta(minutes=length_minutes), ends_at=end, late_after_minutes=10
    )


def mark(session, person, status, *, minutes_after_start=0, reason=None) -> Record:
    return Record.objects.create(
        session=session,
        person=person,
        status=status,
        method="manual",
        reason=reason,
        marked_at=session.starts_at + timedelta(minutes=minutes_after_start),
    )


def pupil(first_name, last_name, *, guardian=True):
    contact = f"guardian.of.{first_name.lower()}@example.org" if guardian else ""
    return UserFactory(first_name=first_name, last_name=last_name, contact_email=contact)


def send_all() -> list[str]:
    """One attempt of every pending notification, in this process (the worker's task, called directly)."""
    from attendance.tasks import send_notification

    pending = Notification.objects.filter(state=NotificationState.PENDING).values_list("pk", flat=True)
    return [send_notification(str(pk)) for pk in pending]


# Absent and late


def test_an_absent_member_s_guardian_gets_one_email_however_often_the_scan_runs(smtp_server):
    group = Group.objects.create(name="Class 9A", notify_absent=True)
    ada = pupil("Ada", "Lovelace")
    group.members.add(ada)
    session = ended_session(group, title="Algebra")
    assert notifications.notify_ended_sessions() == 1
    assert send_all() == ["sent"]
    [(recipients, message)] = smtp_server.received()
    assert recipients == ["guardian.of.ada@example.org"]
    assert message["To"] == "guardian.of.ada@example.org"
    assert "Ada Lovelace" in message["Subject"] and "Algebra" in message["Subject"]
    body = text(message)
    assert "Ada Lovelace was absent from this session:" in body and "  Algebra (Class 9A)\n" in body
    notification = Notification.objects.get()
    assert notification.key == f"absent:{session.pk}:{ada.pk}" and notification.kind == NotificationKind.ABSENT
    assert notification.state == NotificationState.SENT and notification.attempts == 1
    assert notification.sent_at is not None and notification.person == ada and notification.session == session

    assert notifications.notify_ended_sessions() == 0  # the next scans, five minutes later and after
    assert notifications.notify_ended_sessions() == 0
    assert send_all() == []
    assert len(smtp_server.received()) == 1


def test_only_the_unexcused_absent_and_the_late_are_told_as_each_group_asks(smtp_server):
    ill, _ = AbsenceReason.objects.get_or_create(code="test-ill", defaults={"label": "Ill", "excused": True})
    truant, _ = AbsenceReason.objects.get_or_create(
        code="test-truant", defaults={"label": "Unauthorised", "excused": False}
    )
    group = Group.objects.create(name="Class 9B", notify_absent=True, notify_late=True)
    people = {name: pupil(name, "Pupil") for name in ["Missing", "Truant", "Excused", "Ill", "Present", "Late", "Left"]}
    no_guardian = pupil("Alone", "Pupil", guardian=False)
    people["Left"].is_active = False
    people["Left"].save()
    group.members.add(no_guardian, *people.values())
    session = ended_session(group, title="Chemistry")
    mark(session, people["Truant"], Status.ABSENT, reason=truant)
    mark(session, people["Excused"], Status.EXCUSED)
    mark(session, people["Ill"], Status.ABSENT, reason=ill)
    mark(session, people["Present"], Status.PRESENT, minutes_after_start=2)
    mark(session, people["Late"], Status.LATE, minutes_after_start=25)
    # Neither setting: nobody of this group is told.
    quiet = Group.objects.create(name="Choir")
    quiet.members.add(people["Missing"], people["Late"])
    quiet_session = ended_session(quiet, title="Rehearsal")
    mark(quiet_session, people["Late"], Status.LATE, minutes_after_start=30)
    # Not ended yet: nobody is absent.
    ended_session(group, title="Still running", ended_minutes_ago=-30)

    assert notifications.notify_ended_sessions() == 3
    sent = {(n.kind, n.person.first_name) for n in Notification.objects.select_related("person")}
    assert sent == {("absent", "Missing"), ("absent", "Truant"), ("late", "Late")}
    assert Notification.objects.filter(session=session).count() == 3
    assert send_all() == ["sent"] * 3
    bodies = {tuple(recipients): message for recipients, message in smtp_server.received()}
    late = bodies[("guardian.of.late@example.org",)]
    assert "Late Pupil arrived late" in late["Subject"] and "Chemistry" in late["Subject"]
    assert "Late Pupil arrived late at this session, 25 minutes after the start:" in text(late)
    assert "  Chemistry (Class 9B)\n" in text(late)
    assert "Reason recorded: Unauthorised" in text(bodies[("guardian.of.truant@example.org",)])

    group.notify_late = False
    group.save()
    Notification.objects.all().delete()
    assert notifications.notify_ended_sessions() == 2  # absences only, made again as the rows went


def test_an_email_is_written_in_the_site_language(settings):
    settings.LANGUAGE_CODE = "es"
    group = Group.objects.create(name="Clase 1", notify_absent=True)
    group.members.add(pupil("Ada", "Lovelace"))
    session = ended_session(group, title="Historia")
    Session.objects.filter(pk=session.pk).update(
        starts_at=day_start(timezone.localdate()) - timedelta(days=30) + timedelta(hours=9)
    )
    notifications.session_notices(session=Session.objects.get(pk=session.pk))
    month = timezone.localdate() - timedelta(days=30)
    spanish_months = "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre"
    assert spanish_months.split()[month.month - 1] in Notification.objects.get().subject


# Retries


def test_a_refusing_mail_server_gets_the_email_again_from_the_worker(smtp_server):
    smtp_server.refuse_data = ["451 4.3.0 Try again later"]
    group = Group.objects.create(name="Night shift", notify_absent=True)
    group.members.add(pupil("Grace", "Hopper"))
    ended_session(group, title="Shift")
    broker().flushdb()
    env = {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_server.port),
        "NOTIFICATIONS_RETRY_SECONDS": "1",
    }
    with running_worker(name="notifications", env=env):
        assert notifications.notify_ended_sessions() == 1  # queued when it commits
        notification = Notification.objects.get()

        def sent():
            notification.refresh_from_db()
            return notification.state == NotificationState.SENT

        wait_for(sent, timeout=60, what="the email")
    assert smtp_server.refused == 1 and len(smtp_server.received()) == 1
    assert notification.attempts == 2 and notification.last_error == ""
    [(recipients, message)] = smtp_server.received()
    assert recipients == ["guardian.of.grace@example.org"] and "Grace Hopper" in message["Subject"]


def test_with_the_mail_server_down_attempts_back_off_then_fail(settings, caplog):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # nothing listens there
    settings.NOTIFICATIONS = {**settings.NOTIFICATIONS, "MAX_ATTEMPTS": 3, "RETRY_SECONDS": 60}
    group = Group.objects.create(name="Class 7", notify_absent=True)
    group.members.add(pupil("Alan", "Turing"))
    ended_session(group)
    notifications.notify_ended_sessions()
    notification = Notification.objects.get()

    before = timezone.now()
    attempt = notifications.attempt_notification(notification_id=notification.pk)
    assert attempt.state == NotificationState.PENDING and attempt.retry_in == 60
    notification.refresh_from_db()
    assert notification.attempts == 1 and "ConnectionRefusedError" in notification.last_error
    assert before + timedelta(seconds=59) < notification.next_attempt_at < timezone.now() + timedelta(seconds=61)
    # Not due yet: a second message (a duplicate, or one queued early) does nothing.
    assert notifications.attempt_notification(notification_id=notification.pk) == notifications.SKIPPED

    Notification.objects.filter(pk=notification.pk).update(next_attempt_at=timezone.now())
    assert notifications.attempt_notification(notification_id=notification.pk).retry_in == 120  # doubled
    Notification.objects.filter(pk=notification.pk).update(next_attempt_at=timezone.now())
    assert notifications.attempt_notification(notification_id=notification.pk).state == NotificationState.FAILED
    notification.refresh_from_db()
    assert notification.state == NotificationState.FAILED and notification.attempts == 3
    assert notification.sent_at is None and "ConnectionRefusedError" in notification.last_error
    assert "failed after 3 attempt(s)" in caplog.text
    assert notifications.attempt_notification(notification_id=notification.pk) == notifications.SKIPPED
    assert [notifications.retry_delay(n) for n in (1, 2, 3, 4)] == [60, 120, 240, 480]


def test_an_address_the_server_does_not_know_fails_at_once(smtp_server):
    smtp_server.refuse_recipients = "550 5.1.1 No such user"
    group = Group.objects.create(name="Class 8", notify_absent=True)
    group.members.add(pupil("Edsger", "Dijkstra"))
    ended_session(group)
    notifications.notify_ended_sessions()
    assert send_all() == ["failed"]
    notification = Notification.objects.get()
    assert notification.attempts == 1 and "No such user" in notification.last_error


def test_two_messages_for_one_notification_send_it_once(smtp_server):
    group = Group.objects.create(name="Class 6", notify_absent=True)
    group.members.add(pupil("Barbara", "Liskov"))
    ended_session(group)
    notifications.notify_ended_sessions()
    notification = Notification.objects.get()
    first = notifications.attempt_notification(notification_id=notification.pk)
    again = notifications.attempt_notification(notification_id=notification.pk)
    assert (first.state, again) == (NotificationState.SENT, notifications.SKIPPED)
    assert len(smtp_server.received()) == 1


def test_with_the_broker_down_a_notice_waits_and_the_sweep_queues_it(smtp_server):
    group = Group.objects.create(name="Class 5", notify_absent=True)
    group.members.add(pupil("Donald", "Knuth"))
    ended_session(group)
    with broker_at(f"redis://127.0.0.1:{free_port()}/1"):
        assert notifications.notify_ended_sessions() == 1  # the scan still works
    notification = Notification.objects.get()
    assert notification.state == NotificationState.PENDING and notification.attempts == 0
    broker().flushdb()
    assert notifications.resume_overdue_notifications() == 0  # not overdue yet: its message may still come
    Notification.objects.filter(pk=notification.pk).update(next_attempt_at=timezone.now() - timedelta(minutes=5))
    from attendance.tasks import resume_notifications

    assert resume_notifications() == 1  # what beat runs every two minutes
    queued = [m for m in broker().lrange("celery", 0, -1) if b"attendance.tasks.send_notification" in m]
    assert len(queued) == 1 and str(notification.pk).encode() in queued[0]
    assert notifications.resume_overdue_notifications() == 0  # queued once, not again at the next sweep
    assert send_all() == ["sent"] and len(smtp_server.received()) == 1


# The staff digest


def test_the_daily_digest_tells_each_owner_about_their_groups_and_administrators_about_all(smtp_server):
    owner = UserFactory(role="staff", first_name="Olive", last_name="Owner")
    UserFactory(role="staff")  # owns nothing: no digest
    UserFactory(role="staff", email=None)  # no address
    admin = UserFactory(role="admin", first_name="Ada", last_name="Admin")
    mine = Group.objects.create(name="Class 9A", owner=owner)
    theirs = Group.objects.create(name="Class 9B")
    present, late, excused, absent = (pupil(name, "Pupil") for name in ["Present", "Late", "Excused", "Absent"])
    mine.members.add(present, late, excused, absent)
    theirs.members.add(absent)
    yesterday = timezone.localdate() - timedelta(days=1)
    start = day_start(yesterday) + timedelta(hours=9)
    maths = Session.objects.create(group=mine, title="Maths", starts_at=start, ends_at=start + timedelta(hours=1))
    Session.objects.create(
        group=theirs, title="French", starts_at=start + timedelta(hours=2), ends_at=start + timedelta(hours=3)
    )
    mark(maths, present, Status.PRESENT)
    mark(maths, late, Status.LATE, minutes_after_start=20)
    mark(maths, excused, Status.EXCUSED)

    from attendance.tasks import send_daily_digests

    assert send_daily_digests() == 2
    digests = {n.recipient: n for n in Notification.objects.filter(kind=NotificationKind.DIGEST)}
    assert set(digests) == {owner.email, admin.email}
    assert digests[owner.email].key == f"digest:{yesterday.isoformat()}:{owner.pk}"
    body = digests[owner.email].body
    assert body.startswith("Hello Olive Owner,")
    assert "Maths (Class 9A)" in body and "French" not in body
    assert "Present 1, late 1, excused 1, absent 1" in body
    assert "Absent: Absent Pupil" in body
    admin_body = digests[admin.email].body
    assert "Maths (Class 9A)" in admin_body and "French (Class 9B)" in admin_body
    assert "Present 0, late 0, excused 0, absent 1" in admin_body
    assert send_daily_digests() == 0  # one per person per day
    assert notifications.daily_digests(day=yesterday - timedelta(days=1)) == []  # no sessions that day

    assert send_all() == ["sent", "sent"]
    received = {recipients[0]: message for recipients, message in smtp_server.received()}
    assert set(received) == {owner.email, admin.email}
    assert received[owner.email]["Subject"].startswith("Attendance on ")
    assert "Absent: Absent Pupil" in text(received[owner.email])


# Rate alerts


def test_a_rate_below_the_threshold_alerts_the_owner_once_a_week_and_at_it_not(smtp_server, settings):
    settings.NOTIFICATIONS = {**settings.NOTIFICATIONS, "RATE_ALERT_DAYS": 28}
    owner = UserFactory(role="staff", first_name="Olive", last_name="Owner")
    group = Group.objects.create(name="Class 10", owner=owner, rate_alert_below=75)
    low, excused, at = pupil("Low", "Rate"), pupil("Excused", "Rate"), pupil("Threshold", "Rate")
    group.members.add(low, excused, at)
    sessions = [ended_session(group, title=f"Lesson {n}", ended_minutes_ago=60 * 24 * n) for n in (1, 2, 3, 4)]
    old = ended_session(group, title="Long ago", ended_minutes_ago=60 * 24 * 40)
    for session in sessions[:2]:
        mark(session, low, Status.PRESENT)  # 2 of 4: 50 %
    for session in sessions[:3]:
        mark(session, excused, Status.LATE, minutes_after_start=15)
        mark(session, at, Status.PRESENT)  # 3 of 4: 75 %, not below
    mark(sessions[3], excused, Status.EXCUSED)  # 3 of 3
    mark(old, at, Status.EXCUSED)  # outside the window

    from attendance.tasks import send_rate_alerts

    assert send_rate_alerts() == 1
    alert = Notification.objects.get(kind=NotificationKind.RATE_ALERT)
    assert alert.recipient == owner.email and alert.person == low
    assert "Low Rate" in alert.subject and "Class 10" in alert.subject and "50%" in alert.subject
    assert "over the last 28 days is 50%, below the group's threshold of 75%" in alert.body
    assert "Attended 2 of 4 sessions" in alert.body
    assert send_rate_alerts() == 0  # this week's alert is made
    assert len(notifications.rate_alerts(moment=timezone.now() + timedelta(days=7))) == 1  # next week's
    assert send_all() == ["sent", "sent"]
    assert {recipients[0] for recipients, _ in smtp_server.received()} == {owner.email}

    group.rate_alert_below = 50
    group.save()
    assert notifications.rate_alerts(moment=timezone.now() + timedelta(days=14)) == []  # at it: no alert


def test_the_beat_schedule_names_the_notification_tasks(settings):
    from attendx.celery import app

    app.loader.import_default_modules()
    for entry in ["notify-sessions", "daily-digest", "rate-alerts", "resume-notifications"]:
        assert settings.CELERY_BEAT_SCHEDULE[entry]["task"] in app.tasks


def test_administrators_see_the_notifications_in_the_admin_and_cannot_change_them(client):
    from django.urls import reverse

    group = Group.objects.create(name="Class 4", notify_absent=True)
    group.members.add(pupil("Katherine", "Johnson"))
    ended_session(group)
    notifications.notify_ended_sessions()
    notification = Notification.objects.get()
    client.force_login(UserFactory(role="admin"))
    listing = client.get(reverse("admin:attendance_notification_changelist"), {"kind": "absent", "state": "pending"})
    assert listing.status_code == 200 and b"guardian.of.katherine@example.org" in listing.content
    assert client.get(reverse("admin:attendance_notification_add")).status_code == 403
    change = reverse("admin:attendance_notification_change", args=[notification.pk])
    assert client.post(change, {"state": "sent"}).status_code == 403
    notification.refresh_from_db()
    assert notification.state == NotificationState.PENDING
