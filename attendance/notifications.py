"""Email notifications: a guardian or manager told of an absence or a late arrival, a morning digest for
staff, and an alert to a group's owner when a member's attendance rate falls below the group's threshold.

Each notice is one Notification row whose unique key makes it once however often a scan runs; it is
queued when it commits, and the Celery task sends it, retrying while the mail server fails; the beat
sweep queues again what a lost message left behind (docs/notifications.md).
"""

import logging
import smtplib
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from kombu.exceptions import OperationalError

from accounts.models import STAFF_ROLES, Role
from attendance.models import Group, Notification, NotificationKind, NotificationState, Record, Session, Status
from attendance.selectors import ABSENT, roster_for_session, roster_summary, sessions_for_day
from attendx.db import on_commit, run_in_transaction
from attendx.queue import RETRY_POLICY, requeue_overdue

logger = logging.getLogger(__name__)

# A message may run this early (timers, clocks); earlier than that, another message has the notification.
EARLY_SECONDS = 2.0
# A notification due this long without an attempt has lost its message: the sweep queues it again.
OVERDUE_SECONDS = 60.0
MAX_ERROR_CHARS = 500
SUBJECT_MAX_CHARS = 200
SCAN_DAYS = 1


# Drafts into rows, rows onto the queue


@dataclass(frozen=True)
class Draft:
    """A notice to save unless a notification with its key exists already."""

    key: str
    kind: str
    recipient: str
    subject: str
    body: str
    person: object = None
    session: Session | None = None


def _subject(text: str) -> str:
    # A header: one line, whatever a title or a name holds.
    return " ".join(text.split())[:SUBJECT_MAX_CHARS]


def _body(template: str, context: dict) -> str:
    return render_to_string(f"attendance/email/{template}.txt", context).strip() + "\n"


def _existing_keys(keys) -> set[str]:
    return set(Notification.objects.filter(key__in=list(keys)).values_list("key", flat=True))


def create_notifications(drafts: list[Draft]) -> list[Notification]:
    """Save the drafts whose key is new and queue them when the transaction commits; return those saved.

    Reads before it inserts (a duplicate key aborts a whole MongoDB transaction); the unique key is the
    backstop for a concurrent scan.
    """
    if not drafts:
        return []

    def write() -> list[Notification]:
        existing = _existing_keys(draft.key for draft in drafts)
        moment = timezone.now()
        created = []
        for draft in drafts:
            if draft.key in existing:
                continue
            existing.add(draft.key)
            notification = Notification(
                key=draft.key,
                kind=draft.kind,
                recipient=draft.recipient,
                subject=_subject(draft.subject),
                body=draft.body,
                person=draft.person,
                session=draft.session,
                next_attempt_at=moment,
                created_at=moment,
            )
            notification.save()
            created.append(notification)
        keys = [notification.pk for notification in created]
        on_commit(lambda: [queue_notification(key) for key in keys])
        return created

    return run_in_transaction(write)


def queue_notification(notification_id, *, countdown: float | None = None) -> bool:
    """Publish an attempt; False when the broker cannot take it (the row waits for the sweep)."""
    from attendance.tasks import send_notification

    try:
        send_notification.apply_async(
            args=[str(notification_id)], countdown=countdown, retry=True, retry_policy=RETRY_POLICY
        )
    except OperationalError as error:
        logger.warning(
            "Notification %s waits for the sweep: the task queue is unavailable (%s)", notification_id, error
        )
        return False
    return True


# Absent and late, after a session


def absent_key(session: Session, person) -> str:
    return f"absent:{session.pk}:{person.pk}"


def late_key(session: Session, person) -> str:
    return f"late:{session.pk}:{person.pk}"


def _is_excused(record: Record) -> bool:
    return record.status == Status.EXCUSED or (record.reason is not None and record.reason.excused)


def _session_context(session: Session, person) -> dict:
    return {
        "person": str(person),
        "session": session,
        "group": session.group,
        "starts_at": timezone.localtime(session.starts_at),
        "ends_at": timezone.localtime(session.ends_at),
    }


def _absent_draft(session: Session, person, record: Record | None) -> Draft:
    context = _session_context(session, person)
    context["reason"] = record.reason.label if record is not None and record.reason is not None else ""
    day = formats.date_format(context["starts_at"], "DATE_FORMAT")
    return Draft(
        key=absent_key(session, person),
        kind=NotificationKind.ABSENT,
        recipient=person.contact_email,
        subject=_("%(person)s was absent: %(session)s, %(day)s")
        % {"person": person, "session": session.title, "day": day},
        body=_body("absent", context),
        person=person,
        session=session,
    )


def _late_draft(session: Session, person, record: Record) -> Draft:
    context = _session_context(session, person)
    context["arrived_at"] = timezone.localtime(record.marked_at)
    context["minutes_late"] = max(0, int((record.marked_at - session.starts_at).total_seconds() // 60))
    day = formats.date_format(context["starts_at"], "DATE_FORMAT")
    return Draft(
        key=late_key(session, person),
        kind=NotificationKind.LATE,
        recipient=person.contact_email,
        subject=_("%(person)s arrived late: %(session)s, %(day)s")
        % {"person": person, "session": session.title, "day": day},
        body=_body("late", context),
        person=person,
        session=session,
    )


def session_notices(*, session: Session, moment: datetime | None = None) -> list[Notification]:
    """The absent and late notices of an ended session, as its group asks for them, each made once.

    Absent: a member with no record, or marked absent for a reason that does not excuse; never excused.
    Only people with a contact email (a guardian's or a manager's) and an active account are told.
    """
    moment = moment or timezone.now()
    group = session.group
    if not session.has_ended(moment) or not (group.notify_absent or group.notify_late):
        return []
    records = {
        record.person_id: record for record in Record.objects.filter(session=session).select_related("person", "reason")
    }
    people = {person.pk: person for person in group.members.all()}
    people.update({record.person_id: record.person for record in records.values()})
    candidates = []  # (key, person, record, draft-maker)
    for person in people.values():
        if not person.is_active or not person.contact_email:
            continue
        record = records.get(person.pk)
        # Without a record the person is a member: everyone else is here through a record.
        if group.notify_absent and (record is None or (record.status == Status.ABSENT and not _is_excused(record))):
            candidates.append((absent_key(session, person), person, record, _absent_draft))
        elif group.notify_late and record is not None and record.status == Status.LATE:
            candidates.append((late_key(session, person), person, record, _late_draft))
    existing = _existing_keys(key for key, *_ in candidates)
    with translation.override(settings.LANGUAGE_CODE):
        drafts = [make(session, person, record) for key, person, record, make in candidates if key not in existing]
    return create_notifications(drafts)


def notify_ended_sessions(*, moment: datetime | None = None) -> int:
    """Make the notices of every session that ended within the last day; return how many were new."""
    moment = moment or timezone.now()
    sessions = (
        Session.objects.filter(ends_at__lte=moment, ends_at__gt=moment - timedelta(days=SCAN_DAYS))
        .filter(Q(group__notify_absent=True) | Q(group__notify_late=True))
        .select_related("group")
        .order_by("ends_at")
    )
    created = sum(len(session_notices(session=session, moment=moment)) for session in sessions)
    if created:
        logger.info("Queued %d absence or late notice(s)", created)
    return created


# The staff digest


def digest_key(day: date, user) -> str:
    return f"digest:{day.isoformat()}:{user.pk}"


def _digest_line(session: Session, moment: datetime) -> dict:
    roster = roster_for_session(session, moment=moment)
    return {
        "title": session.title,
        "group": session.group.name,
        "starts_at": timezone.localtime(session.starts_at),
        "counts": roster_summary(roster),
        "absent": [line.name for line in roster if line.status == ABSENT],
    }


def daily_digests(*, day: date | None = None, moment: datetime | None = None) -> list[Notification]:
    """Each staff member's and administrator's digest of ``day`` (yesterday by default): the sessions of
    the groups they own (administrators: every group) with their counts and who was absent. One per
    person per day; nothing for a day without sessions of theirs."""
    moment = moment or timezone.now()
    day = day or timezone.localdate(moment) - timedelta(days=1)
    sessions = list(sessions_for_day(day).select_related("group").order_by("starts_at"))
    if not sessions:
        return []
    staff = list(
        get_user_model()
        .objects.filter(role__in=list(STAFF_ROLES), is_active=True, email__isnull=False)
        .exclude(email="")
    )
    existing = _existing_keys(digest_key(day, user) for user in staff)
    lines = {}
    drafts = []
    with translation.override(settings.LANGUAGE_CODE):
        for user in staff:
            if digest_key(day, user) in existing:
                continue
            theirs = [s for s in sessions if user.role == Role.ADMIN or s.group.owner_id == user.pk]
            if not theirs:
                continue
            for session in theirs:
                if session.pk not in lines:
                    lines[session.pk] = _digest_line(session, moment)
            formatted_day = formats.date_format(day, "DATE_FORMAT")
            drafts.append(
                Draft(
                    key=digest_key(day, user),
                    kind=NotificationKind.DIGEST,
                    recipient=user.email,
                    subject=_("Attendance on %(day)s") % {"day": formatted_day},
                    body=_body("digest", {"user": user, "day": day, "sessions": [lines[s.pk] for s in theirs]}),
                )
            )
    return create_notifications(drafts)


# Rate alerts


def rate_alert_key(moment: datetime, group: Group, person) -> str:
    year, week, _weekday = timezone.localdate(moment).isocalendar()
    return f"rate:{year}-W{week:02d}:{group.pk}:{person.pk}"


@dataclass(frozen=True)
class MemberRate:
    person: object
    attended: int  # present or late
    expected: int  # sessions that ended, excused ones left out

    @property
    def percent(self) -> float:
        return 100 * self.attended / self.expected


def group_rates(group: Group, *, since: datetime, until: datetime) -> list[MemberRate]:
    """Each active member's attendance at the group's sessions that started since ``since`` and ended by
    ``until``; members with no session to count are left out."""
    sessions = list(
        Session.objects.filter(group=group, starts_at__gte=since, ends_at__lte=until).values_list("pk", flat=True)
    )
    if not sessions:
        return []
    attended, excused = defaultdict(int), defaultdict(int)
    marks = Record.objects.filter(session__in=sessions).values_list("person_id", "status", "reason__excused")
    for person_id, status, reason_excuses in marks:
        if status in (Status.PRESENT, Status.LATE):
            attended[person_id] += 1
        elif status == Status.EXCUSED or reason_excuses:
            excused[person_id] += 1
    rates = []
    for person in group.members.filter(is_active=True):
        expected = len(sessions) - excused[person.pk]
        if expected > 0:
            rates.append(MemberRate(person=person, attended=attended[person.pk], expected=expected))
    return rates


def rate_alerts(*, moment: datetime | None = None) -> list[Notification]:
    """An email to the owner of each group with a threshold about each member whose rate over the last
    NOTIFICATIONS["RATE_ALERT_DAYS"] days is below it; at most once per ISO week per person and group."""
    moment = moment or timezone.now()
    days = settings.NOTIFICATIONS["RATE_ALERT_DAYS"]
    since = moment - timedelta(days=days)
    groups = Group.objects.filter(rate_alert_below__isnull=False, owner__isnull=False).select_related("owner")
    drafts = []
    with translation.override(settings.LANGUAGE_CODE):
        for group in groups:
            owner = group.owner
            if not owner.is_active or not owner.email:
                continue
            below = [r for r in group_rates(group, since=since, until=moment) if r.percent < group.rate_alert_below]
            existing = _existing_keys(rate_alert_key(moment, group, r.person) for r in below)
            for rate in below:
                key = rate_alert_key(moment, group, rate.person)
                if key in existing:
                    continue
                percent = formats.number_format(rate.percent, 0)
                context = {
                    "owner": owner,
                    "person": str(rate.person),
                    "group": group,
                    "rate": percent,
                    "threshold": group.rate_alert_below,
                    "attended": rate.attended,
                    "expected": rate.expected,
                    "days": days,
                }
                drafts.append(
                    Draft(
                        key=key,
                        kind=NotificationKind.RATE_ALERT,
                        recipient=owner.email,
                        subject=_("Attendance of %(person)s in %(group)s is %(rate)s%%")
                        % {"person": rate.person, "group": group.name, "rate": percent},
                        body=_body("rate_alert", context),
                        person=rate.person,
                    )
                )
    return create_notifications(drafts)


# One attempt of one email


@dataclass(frozen=True)
class Attempt:
    """What one run of the task did: the notification's state after it, and when to try again."""

    state: str  # a NotificationState, or "skipped" when there was nothing to do
    retry_in: float | None = None


SKIPPED = Attempt("skipped")


def retry_delay(attempts: int) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt: RETRY_SECONDS, doubled each time."""
    return settings.NOTIFICATIONS["RETRY_SECONDS"] * 2 ** (attempts - 1)


def send_email(notification: Notification) -> None:
    """Hand the email to the configured backend (EMAIL_BACKEND); raises OSError (smtplib's errors too)."""
    EmailMessage(
        subject=notification.subject,
        body=notification.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[notification.recipient],
    ).send()


def _is_permanent(error: OSError) -> bool:
    # Every recipient refused with a 5xx: the address does not exist, and asking again will not change that.
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return bool(error.recipients) and all(code >= 500 for code, _reply in error.recipients.values())
    return False


def attempt_notification(*, notification_id) -> Attempt:
    """Make the next attempt of a pending, due notification, once, however many messages name it."""
    notification = Notification.objects.filter(pk=notification_id).first()
    now = timezone.now()
    if notification is None or notification.state != NotificationState.PENDING:
        return SKIPPED
    if notification.next_attempt_at > now + timedelta(seconds=EARLY_SECONDS):
        return SKIPPED
    rows = Notification.objects.filter(pk=notification.pk)
    # Claim the attempt: of two messages for the same notification only one moves `attempts` on, and
    # until the lease ends no other message finds it due.
    lease = now + timedelta(seconds=(settings.EMAIL_TIMEOUT or 60) + OVERDUE_SECONDS)
    claimed = rows.filter(
        state=NotificationState.PENDING, attempts=notification.attempts, next_attempt_at=notification.next_attempt_at
    )
    if not claimed.update(attempts=notification.attempts + 1, next_attempt_at=lease):
        return SKIPPED
    notification.attempts += 1
    try:
        send_email(notification)
    except OSError as error:
        reason = f"{type(error).__name__}: {error}"[:MAX_ERROR_CHARS]
        if _is_permanent(error) or notification.attempts >= settings.NOTIFICATIONS["MAX_ATTEMPTS"]:
            rows.update(state=NotificationState.FAILED, last_error=reason)
            logger.warning(
                "Notification %s to %s failed after %d attempt(s): %s",
                notification.pk,
                notification.recipient,
                notification.attempts,
                reason,
            )
            return Attempt(NotificationState.FAILED)
        delay = retry_delay(notification.attempts)
        rows.update(last_error=reason, next_attempt_at=timezone.now() + timedelta(seconds=delay))
        return Attempt(NotificationState.PENDING, retry_in=delay)
    rows.update(state=NotificationState.SENT, sent_at=timezone.now(), last_error="")
    return Attempt(NotificationState.SENT)


def resume_overdue_notifications(*, moment: datetime | None = None) -> int:
    """Queue again the pending notifications due for OVERDUE_SECONDS (their message was lost, or never
    published because the broker was down); return how many were queued."""
    moment = moment or timezone.now()
    overdue = Notification.objects.filter(
        state=NotificationState.PENDING, next_attempt_at__lte=moment - timedelta(seconds=OVERDUE_SECONDS)
    ).order_by("next_attempt_at")
    return requeue_overdue(overdue, queue=queue_notification, moment=moment, what="notification(s)")
