"""Webhooks: attendance events POSTed to the URLs staff configure, signed with each endpoint's secret.

An event becomes one WebhookDelivery row per subscribed endpoint, written in the transaction of the mark
and queued when it commits; the Celery task makes the attempts, and the beat sweep queues again what a
lost message left behind (docs/webhooks.md).
"""

import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from kombu.exceptions import OperationalError

from attendance.models import DeliveryState, Record, WebhookDelivery, WebhookEndpoint, new_webhook_secret
from attendx.db import on_commit
from attendx.queue import RETRY_POLICY, requeue_overdue

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-AttendX-Signature"
EVENT_HEADER = "X-AttendX-Event"
DELIVERY_HEADER = "X-AttendX-Delivery"
SIGNATURE_TOLERANCE_SECONDS = 300
# A message may run this early (timers, clocks); earlier than that, another message has the delivery.
EARLY_SECONDS = 2.0
# A delivery due this long without an attempt has lost its message: the sweep queues it again.
OVERDUE_SECONDS = 60.0
MAX_ERROR_CHARS = 500


# Payloads and signatures


def record_payload(*, record: Record, event: str, event_id, moment=None) -> dict:
    """The JSON body of an event; keys are strings (ObjectIds on MongoDB)."""
    person = record.person
    return {
        "id": str(event_id),
        "type": event,
        "created_at": (moment or timezone.now()).isoformat(),
        "data": {
            "record": {
                "id": str(record.pk),
                "session": str(record.session_id),
                "person": {"id": str(person.pk), "name": person.get_full_name() or person.get_username()},
                "status": record.status,
                "method": record.method,
                "marked_at": record.marked_at.isoformat(),
                "checked_out_at": record.checked_out_at.isoformat() if record.checked_out_at else None,
                "reason": record.reason.code if record.reason_id else None,
                "note": record.note,
            }
        },
    }


def encode_payload(payload: dict) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, *, timestamp: int | None = None) -> str:
    """The X-AttendX-Signature value: ``t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "t.body")>``."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    return f"t={timestamp},v1={_digest(secret, timestamp, body)}"


def verify_signature(
    secret: str, header: str, body: bytes | str, tolerance: float = SIGNATURE_TOLERANCE_SECONDS, *, now=None
) -> bool:
    """Whether ``header`` signs ``body`` with ``secret``, made at most ``tolerance`` seconds from ``now``."""
    if isinstance(body, str):
        body = body.encode()
    timestamp, candidates = None, []
    for part in (header or "").split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = _digest(secret, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)


# One HTTP attempt


@dataclass(frozen=True)
class DeliveryResult:
    delivered: bool
    status_code: int | None = None
    error: str = ""


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # A redirect is an answer, not a new destination: the secret-signed body goes only where staff said.
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def deliver(delivery: WebhookDelivery) -> DeliveryResult:
    """One signed POST of ``delivery``'s payload to its endpoint; a 2xx answer is delivered."""
    body = encode_payload(delivery.payload)
    request = urllib.request.Request(  # noqa: S310 - the URL's scheme is http or https (URLValidator)
        delivery.endpoint.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "AttendX-Webhooks/1",
            EVENT_HEADER: delivery.event,
            DELIVERY_HEADER: str(delivery.event_id),
            SIGNATURE_HEADER: sign(delivery.endpoint.secret, body),
        },
    )
    try:
        with _opener.open(request, timeout=settings.WEBHOOKS["TIMEOUT_SECONDS"]) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        with error:
            reason = error.read(200).decode(errors="replace").strip()
        return DeliveryResult(False, error.code, f"HTTP {error.code} {error.reason}: {reason}"[:MAX_ERROR_CHARS])
    except (urllib.error.URLError, OSError, ValueError) as error:
        return DeliveryResult(False, None, f"{type(error).__name__}: {error}"[:MAX_ERROR_CHARS])
    if 200 <= status < 300:
        return DeliveryResult(True, status)
    return DeliveryResult(False, status, f"HTTP {status}")


# Events into deliveries, deliveries onto the queue


def create_deliveries(*, record: Record, event: str) -> list[WebhookDelivery]:
    """The deliveries of ``event`` for every active endpoint that receives it, queued on commit.

    Runs on every mark: without active endpoints it costs one small query and writes nothing.
    """
    endpoints = [e for e in WebhookEndpoint.objects.filter(is_active=True).only("pk", "events") if e.receives(event)]
    if not endpoints:
        return []
    moment = timezone.now()
    deliveries = []
    for endpoint in endpoints:
        delivery = WebhookDelivery(endpoint=endpoint, event=event, next_attempt_at=moment, created_at=moment)
        delivery.payload = record_payload(record=record, event=event, event_id=delivery.event_id, moment=moment)
        delivery.save()
        deliveries.append(delivery)
    keys = [delivery.pk for delivery in deliveries]
    on_commit(lambda: [queue_delivery(key) for key in keys])
    return deliveries


def queue_delivery(delivery_id, *, countdown: float | None = None) -> bool:
    """Publish the attempt; False when the broker cannot take it (the row waits for the sweep)."""
    from attendance.tasks import deliver_webhook

    try:
        deliver_webhook.apply_async(args=[str(delivery_id)], countdown=countdown, retry=True, retry_policy=RETRY_POLICY)
    except OperationalError as error:
        logger.warning(
            "Webhook delivery %s waits for the sweep: the task queue is unavailable (%s)", delivery_id, error
        )
        return False
    return True


@dataclass(frozen=True)
class Attempt:
    """What one run of the task did: the delivery's state after it, and when to try again."""

    state: str  # a DeliveryState, or "skipped" when there was nothing to do
    retry_in: float | None = None


SKIPPED = Attempt("skipped")


def retry_delay(attempts: int) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt: the base, doubled each time."""
    return settings.WEBHOOKS["RETRY_BASE_SECONDS"] * 2 ** (attempts - 1)


def attempt_delivery(*, delivery_id) -> Attempt:
    """Make the next attempt of a pending, due delivery, once, however many messages name it."""
    delivery = WebhookDelivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
    now = timezone.now()
    if delivery is None or delivery.state != DeliveryState.PENDING:
        return SKIPPED
    if delivery.next_attempt_at > now + timedelta(seconds=EARLY_SECONDS):
        return SKIPPED
    rows = WebhookDelivery.objects.filter(pk=delivery.pk)
    if not delivery.endpoint.is_active:
        rows.filter(state=DeliveryState.PENDING).update(state=DeliveryState.FAILED, last_error="Endpoint deactivated.")
        return Attempt(DeliveryState.FAILED)
    # Claim the attempt: of two messages for the same delivery only one moves `attempts` on, and until
    # the lease ends no other message finds it due.
    lease = now + timedelta(seconds=settings.WEBHOOKS["TIMEOUT_SECONDS"] + OVERDUE_SECONDS)
    claimed = rows.filter(
        state=DeliveryState.PENDING, attempts=delivery.attempts, next_attempt_at=delivery.next_attempt_at
    )
    if not claimed.update(attempts=delivery.attempts + 1, next_attempt_at=lease):
        return SKIPPED
    delivery.attempts += 1
    result = deliver(delivery)
    outcome = {"last_status_code": result.status_code, "last_error": result.error}
    if result.delivered:
        rows.update(state=DeliveryState.DELIVERED, delivered_at=timezone.now(), **outcome)
        return Attempt(DeliveryState.DELIVERED)
    if delivery.attempts >= settings.WEBHOOKS["MAX_ATTEMPTS"]:
        rows.update(state=DeliveryState.FAILED, **outcome)
        logger.warning("Webhook delivery %s failed after %d attempts: %s", delivery.pk, delivery.attempts, result.error)
        return Attempt(DeliveryState.FAILED)
    delay = retry_delay(delivery.attempts)
    rows.update(next_attempt_at=timezone.now() + timedelta(seconds=delay), **outcome)
    return Attempt(DeliveryState.PENDING, retry_in=delay)


def resume_overdue_deliveries() -> int:
    """Queue again the pending deliveries overdue by OVERDUE_SECONDS (their message was lost, or never
    published); return how many were queued."""
    moment = timezone.now()
    overdue = WebhookDelivery.objects.filter(
        state=DeliveryState.PENDING, next_attempt_at__lte=moment - timedelta(seconds=OVERDUE_SECONDS)
    ).order_by("next_attempt_at")
    return requeue_overdue(overdue, queue=queue_delivery, moment=moment, what="webhook delivery(ies)")


# Endpoints, for the staff pages


def create_endpoint(*, url: str, events: list[str], description: str = "", by=None) -> WebhookEndpoint:
    endpoint = WebhookEndpoint(url=url, events=list(events), description=description, created_by=by)
    endpoint.full_clean()
    endpoint.save()
    return endpoint


def rotate_secret(*, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """A new secret at once: deliveries signed from now on use it, the old one stops verifying."""
    endpoint.secret = new_webhook_secret()
    endpoint.save(update_fields=["secret"])
    return endpoint


def set_active(*, endpoint: WebhookEndpoint, active: bool) -> WebhookEndpoint:
    endpoint.is_active = active
    endpoint.save(update_fields=["is_active"])
    return endpoint


def recent_deliveries(endpoint: WebhookEndpoint, *, limit: int = 50):
    return endpoint.deliveries.order_by("-created_at")[:limit]
