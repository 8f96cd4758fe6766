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
