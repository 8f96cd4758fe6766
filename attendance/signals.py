"""Every saved attendance record is a webhook event: record.created for a new one, record.changed
otherwise. The deliveries are written in the same transaction and queued when it commits."""

from django.db.models.signals import post_save
from django.dispatch import receiver

from attendance.models import Record, WebhookEvent
from attendance.webhooks import create_deliveries


@receiver(post_save, sender=Record, dispatch_uid="attendance.record_saved")
def record_saved(sender, instance, created, raw=False, **kwargs):
    if raw:  # loaddata: not a mark anybody made
        return
    event = WebhookEvent.RECORD_CREATED if created else WebhookEvent.RECORD_CHANGED
    create_deliveries(record=instance, event=event)
