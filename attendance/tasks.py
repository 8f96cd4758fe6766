"""Celery tasks of the attendance app (the schedule is settings.CELERY_BEAT_SCHEDULE)."""

from celery import shared_task


@shared_task
def purge_check_ins() -> dict[str, int]:
    """Deprecated alias of attendx.tasks.purge (the one purge), for messages queued under the old name."""
    from attendx.tasks import purge

    return purge()


@shared_task
def deliver_webhook(delivery_id: str) -> str:
    """One attempt of a webhook delivery; a failed one queues the next after its backoff.

    Safe to run twice: a delivered row is skipped, and only one message claims each attempt.
    """
    from attendance.webhooks import attempt_delivery, queue_delivery

    attempt = attempt_delivery(delivery_id=delivery_id)
    if attempt.retry_in is not None:
        # If the broker refuses it, the row stays pending and resume_webhook_deliveries queues it later.
        queue_delivery(delivery_id, countdown=attempt.retry_in)
    return attempt.state


@shared_task
def resume_webhook_deliveries() -> int:
    """Queue again pending webhook deliveries whose message was lost or never published."""
    from attendance.webhooks import resume_overdue_deliveries

    return resume_overdue_deliveries()


@shared_task
def send_notification(notification_id: str) -> str:
    """One attempt of an email notification; a failed one queues the next after its backoff.

    Safe to run twice: a sent row is skipped, and only one message claims each attempt.
    """
    from attendance.notifications import attempt_notification, queue_notification

    attempt = attempt_notification(notification_id=notification_id)
    if attempt.retry_in is not None:
        # If the broker refuses it, the row stays pending and resume_notifications queues it later.
        queue_notification(notification_id, countdown=attempt.retry_in)
    return attempt.state


@shared_task
def notify_ended_sessions() -> int:
    """Absent and late notices of the sessions that ended within the last day, each made once."""
    from attendance.notifications import notify_ended_sessions

    return notify_ended_sessions()


@shared_task
def send_daily_digests() -> int:
    """Yesterday's digest for each staff member and administrator whose groups had sessions."""
    from attendance.notifications import daily_digests

    return len(daily_digests())


@shared_task
def send_rate_alerts() -> int:
    """Alerts to group owners about members whose attendance rate is below the group's threshold."""
    from attendance.notifications import rate_alerts

    return len(rate_alerts())


@shared_task
def resume_notifications() -> int:
    """Queue again pending notifications whose message was lost or never published."""
    from attendance.notifications import resume_overdue_notifications

    return resume_overdue_notifications()


@shared_task
def generate_timetables() -> int:
    """The timetables' sessions up to ATTENDANCE["TIMETABLE_WEEKS_AHEAD"] weeks ahead; the number made.

    Safe to run twice or on two workers: each session is made once (attendance.timetables).
    """
    from attendance.timetables import generate_sessions, horizon

    return generate_sessions(until=horizon())
