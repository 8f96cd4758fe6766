"""Webhooks: marks become signed POSTs to the endpoints staff configure, retried with backoff by a real
Celery worker until the receiver accepts one, once; nothing for a rolled-back mark; the staff pages."""

import json
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import redis
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from attendance import webhooks
from attendance.models import DeliveryState, Group, Record, Status, WebhookDelivery, WebhookEndpoint, WebhookEvent
from attendance.services import mark_manually
from attendx.db import atomic
from tests.attendance.conftest import make_session
from tests.celery_worker import broker_at, running_worker, wait_for
from tests.conftest import free_port, missing_key, other_shape_key
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

BOTH = [WebhookEvent.RECORD_CREATED, WebhookEvent.RECORD_CHANGED]


@dataclass
class Received:
    headers: Message  # names are case-insensitive, as in HTTP (urllib sends "X-attendx-event")
    body: bytes
    status: int


class Receiver:
    """A real HTTP server on a loopback port answering POSTs with ``answers`` in turn (the last repeats)."""

    def __init__(self, answers: list[int]):
        self.answers, self.requests, self.lock = answers, [], threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    status = receiver.answers[min(len(receiver.requests), len(receiver.answers) - 1)]
                    receiver.requests.append(Received(self.headers, body, status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)  # a free port, chosen by the kernel
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/attendx"

    def count(self) -> int:
        with self.lock:
            return len(self.requests)


@contextmanager
def receiving(*answers: int):
    receiver = Receiver(list(answers))
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()


def broker() -> redis.Redis:
    from django.conf import settings

    return redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=1)


def queued_deliveries() -> list[str]:
    """The delivery ids of the deliver_webhook messages waiting in the broker's default queue."""
    messages = [json.loads(raw) for raw in broker().lrange("celery", 0, -1)]
    return [m["headers"]["argsrepr"] for m in messages if m["headers"]["task"] == "attendance.tasks.deliver_webhook"]


@pytest.fixture
def session():
    return make_session(Group.objects.create(name="Class 9A"))


@pytest.fixture
def person():
    return UserFactory(first_name="Ada", last_name="Lovelace")


def endpoint_for(url: str, events=BOTH, **fields) -> WebhookEndpoint:
    return webhooks.create_endpoint(url=url, events=list(events), description="test receiver", **fields)


# The whole way: a real receiver, a real worker, retries with backoff.


def test_a_mark_reaches_the_receiver_after_two_failures_exactly_once(session, person, staff):
    broker().flushdb()
    with receiving(500, 500, 200) as receiver:
        endpoint = endpoint_for(receiver.url)
        with running_worker(name="webhooks", env={"WEBHOOKS_RETRY_BASE_SECONDS": "0.2"}):
            record = mark_manually(session=session, person=person, status=Status.PRESENT, by=staff)
            delivery = WebhookDelivery.objects.get(endpoint=endpoint)

            def delivered():
                delivery.refresh_from_db()
                return delivery.state == DeliveryState.DELIVERED

            wait_for(delivered, timeout=60, what="the delivery")
        assert receiver.count() == 3
    assert [r.status for r in receiver.requests] == [500, 500, 200]
    assert delivery.attempts == 3 and delivery.last_status_code == 200 and delivery.delivered_at is not None
    accepted = receiver.requests[-1]
    assert webhooks.verify_signature(endpoint.secret, accepted.headers["X-AttendX-Signature"], accepted.body)
    assert not webhooks.verify_signature("another secret", accepted.headers["X-AttendX-Signature"], accepted.body)
    # Every attempt names the same event, so that a receiver can drop a repeat.
    assert {r.headers["X-AttendX-Delivery"] for r in receiver.requests} == {str(delivery.event_id)}
    assert accepted.headers["X-AttendX-Event"] == "record.created"
    body = json.loads(accepted.body)
    assert body["id"] == str(delivery.event_id) and body["type"] == "record.created"
    assert body["data"]["record"] == {
        "id": str(record.pk),
        "session": str(session.pk),
        "person": {"id": str(person.pk), "name": "Ada Lovelace"},
        "status": "present",
        "method": "manual",
        "marked_at": record.marked_at.isoformat(),
        "checked_out_at": None,
        "reason": None,
        "note": "",
    }


# Signatures


def test_a_signature_verifies_only_the_same_body_secret_and_a_recent_time():
    body = b'{"id":"1","type":"record.created"}'
    now = int(time.time())
    header = webhooks.sign("s3cret", body, timestamp=now)
    assert header.startswith(f"t={now},v1=")
    assert webhooks.verify_signature("s3cret", header, body)
    assert webhooks.verify_signature("s3cret", header, body.decode())
    assert not webhooks.verify_signature("s3cret", header, body.replace(b"created", b"changed"))
    assert not webhooks.verify_signature("another", header, body)
    old = webhooks.sign("s3cret", body, timestamp=now - 301)
    assert not webhooks.verify_signature("s3cret", old, body, tolerance=300)
    assert webhooks.verify_signature("s3cret", old, body, tolerance=400)
    for garbage in ["", "t=,v1=", f"t={now}", "v1=abc", f"t=x{now},v1=" + header.split("v1=")[1]]:
        assert not webhooks.verify_signature("s3cret", garbage, body)


# Which marks make deliveries


def test_without_active_endpoints_a_mark_costs_one_query_and_makes_no_delivery(session, person, staff):
    record = mark_manually(session=session, person=person, status=Status.PRESENT, by=staff)
    with CaptureQueriesContext(connection) as queries:
        assert webhooks.create_deliveries(record=record, event=WebhookEvent.RECORD_CHANGED) == []
    assert len(queries) == 1
    paused = endpoint_for("https://example.org/paused")
    webhooks.set_active(endpoint=paused, active=False)
    mark_manually(session=session, person=person, status=Status.LATE, by=staff)
    assert not WebhookDelivery.objects.exists()


def test_an_endpoint_gets_only_the_events_it_subscribed_to(session, person, staff):
    changes = endpoint_for("https://example.org/changes", events=[WebhookEvent.RECORD_CHANGED])
    mark_manually(session=session, person=person, status=Status.PRESENT, by=staff)
    assert not WebhookDelivery.objects.exists()
    record = mark_manually(session=session, person=person, status=Status.EXCUSED, by=staff)
    delivery = WebhookDelivery.objects.get()
    assert delivery.endpoint == changes and delivery.event == "record.changed"
    assert delivery.payload["data"]["record"]["status"] == "excused"
    assert delivery.payload["data"]["record"]["id"] == str(record.pk)


def test_a_rolled_back_mark_sends_nothing(session, person, staff):
    endpoint_for("https://example.org/hook")
    broker().flushdb()
    with pytest.raises(RuntimeError), atomic():
        mark_manually(session=session, person=person, status=Status.PRESENT, by=staff)
        raise RuntimeError("the request failed after the mark")
    assert not Record.objects.exists() and not WebhookDelivery.objects.exists()
    assert queued_deliveries() == []
    mark_manually(session=session, person=person, status=Status.PRESENT, by=staff)  # the same, committed
    assert queued_deliveries() == [repr([str(WebhookDelivery.objects.get().pk)])]


# Attempts, in this process


def test_attempts_stop_after_max_attempts_and_a_delivered_one_is_never_sent_again(session, person, staff, settings):
    settings.WEBHOOKS = {**settings.WEBHOOKS, "RETRY_BASE_SECONDS": 0.0, "MAX_ATTEMPTS": 3}
    with receiving(503) as receiver:
        endpoint_for(receiver.url)
        mark_manually(session=session, person=person, status=Status.PRESENT, by=staff)
        delivery = WebhookDelivery.objects.get()
        outcomes = [webhooks.attempt_delivery(delivery_id=delivery.pk) for _ in range(4)]
        assert [o.state for o in outcomes] == ["pending", "pending", "failed", "skipped"]
        assert receiver.count() == 3
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.FAILED and delivery.attempts == 3 and delivery.last_status_code == 503

    with receiving(204) as receiver:
        accepting = endpoint_for(receiver.url, events=[WebhookEvent.RECORD_CHANGED])
        mark_manually(session=session, person=person, status=Status.LATE, by=staff)
        delivery = WebhookDelivery.objects.get(endpoint=accepting)
        assert webhooks.attempt_delivery(delivery_id=delivery.pk).state == "delivered"
        assert webhooks.attempt_delivery(delivery_id=delivery.pk).state == "skipped"  # a repeated message
        assert receiver.count() == 1


def test_the_backoff_doubles_from_the_base(settings):
    settings.WEBHOOKS = {**settings.WEBHOOKS, "RETRY_BASE_SECONDS": 10.0}
    assert [webhooks.retry_delay(n) for n in range(1, 5)] == [10.0, 20.0, 40.0, 80.0]


def test_a_redirect_or_an_unreachable_receiver_is_a_failed_attempt(session, person, staff):
    with receiving(302) as receiver:
        endpoint_for(receiver.url)
        mark_manually(session=session, person=person, status=Status.PRESENT, by=staff)
        result = webhooks.deliver(WebhookDelivery.objects.select_related("endpoint").get())
    assert not result.delivered and result.status_code == 302
    delivery = WebhookDelivery.objects.select_related("endpoint").get()
    WebhookEndpoint.objects.filter(pk=delivery.endpoint_id).update(url=f"http://127.0.0.1:{free_port()}/")
    delivery.refresh_from_db()
    delivery.endpoint.refresh_from_db()
    result = webhooks.deliver(delivery)
    assert not result.delivered and result.status_code is None and "refused" in result.error.lower()


def test_with_the_broker_down_the_delivery_waits_and_the_sweep_queues_it(session, person, staff, settings):
    endpoint_for("https://example.org/hook")
    with broker_at(f"redis://127.0.0.1:{free_port()}/1"):
        mark_manually(session=session, person=person, status=Status.PRESENT, by=staff)  # the mark still works
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == DeliveryState.PENDING and delivery.attempts == 0
    broker().flushdb()
    assert webhooks.resume_overdue_deliveries() == 0  # not overdue yet: its message may still come
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() - timedelta(minutes=5))
    from attendance.tasks import resume_webhook_deliveries

    assert resume_webhook_deliveries() == 1  # what beat runs every minute
    assert queued_deliveries() == [repr([str(delivery.pk)])]
    assert webhooks.resume_overdue_deliveries() == 0  # queued once, not again at the next sweep
    assert settings.CELERY_BEAT_SCHEDULE["resume-webhooks"]["task"] == "attendance.tasks.resume_webhook_deliveries"


# Staff pages


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def test_staff_add_an_endpoint_and_see_its_secret(staff_client, staff):
    response = staff_client.post(
        reverse("attendance:webhooks"),
        {"url": "https://hooks.example.org/attendx", "description": "HR", "events": ["record.created"]},
    )
    endpoint = WebhookEndpoint.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("attendance:webhook", args=[endpoint.pk])
    assert endpoint.events == ["record.created"] and endpoint.created_by == staff and endpoint.is_active
    assert len(endpoint.secret) >= 40
    page = staff_client.get(response["Location"])
    assert page.status_code == 200 and endpoint.secret in page.content.decode()
    listing = staff_client.get(reverse("attendance:webhooks"))
    assert listing.status_code == 200 and "https://hooks.example.org/attendx" in listing.content.decode()


@pytest.mark.parametrize(
    "fields",
    [
        {"url": "ftp://x", "events": ["record.created"]},
        {"url": "ftp://files.example.org/hook", "events": ["record.created"]},
        {"url": "javascript:alert(1)", "events": ["record.created"]},
        {"url": "file:///etc/passwd", "events": ["record.created"]},
        {"url": "https://hooks.example.org/", "events": ["record.deleted"]},
        {"url": "https://hooks.example.org/", "events": []},
        {"url": "", "events": ["record.created"]},
    ],
)
def test_bad_input_is_a_400_with_the_error_and_no_endpoint(staff_client, fields):
    response = staff_client.post(reverse("attendance:webhooks"), fields)
    assert response.status_code == 400
    assert 'class="error"' in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_rotating_the_secret_and_pausing(staff_client):
    endpoint = endpoint_for("https://hooks.example.org/")
    old = endpoint.secret
    response = staff_client.post(reverse("attendance:webhook-rotate", args=[endpoint.pk]))
    endpoint.refresh_from_db()
    assert response.status_code == 302 and endpoint.secret != old and len(endpoint.secret) >= 40
    assert staff_client.get(reverse("attendance:webhook-rotate", args=[endpoint.pk])).status_code == 405
    assert (
        staff_client.post(reverse("attendance:webhook-active", args=[endpoint.pk]), {"active": "0"}).status_code == 302
    )
    endpoint.refresh_from_db()
    assert not endpoint.is_active
    assert (
        staff_client.post(reverse("attendance:webhook-active", args=[endpoint.pk]), {"active": "x"}).status_code == 400
    )
    staff_client.post(reverse("attendance:webhook-active", args=[endpoint.pk]), {"active": "1"})
    endpoint.refresh_from_db()
    assert endpoint.is_active


def test_the_log_shows_the_deliveries(staff_client, session, person, staff):
    endpoint = endpoint_for("https://hooks.example.org/")
    mark_manually(session=session, person=person, status=Status.PRESENT, by=staff)
    delivery = WebhookDelivery.objects.get()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(attempts=2, last_status_code=502, last_error="HTTP 502 Bad")
    content = staff_client.get(reverse("attendance:webhook", args=[endpoint.pk])).content.decode()
    assert str(delivery.event_id) in content and "record.created" in content
    assert "HTTP 502 Bad" in content and "<td>2</td>" in content and "<td>502</td>" in content


def test_members_get_403_and_unknown_endpoints_404(client, member, staff_client):
    endpoint = endpoint_for("https://hooks.example.org/")
    for key in (missing_key(), other_shape_key()):
        assert staff_client.get(reverse("attendance:webhook", args=[key])).status_code == 404
        assert staff_client.post(reverse("attendance:webhook-rotate", args=[key])).status_code == 404
        assert staff_client.post(reverse("attendance:webhook-active", args=[key]), {"active": "0"}).status_code == 404
    client.force_login(member)
    assert client.get(reverse("attendance:webhooks")).status_code == 403
    assert (
        client.post(reverse("attendance:webhooks"), {"url": "https://evil.example/", "events": BOTH}).status_code == 403
    )
    assert client.get(reverse("attendance:webhook", args=[endpoint.pk])).status_code == 403
    assert client.post(reverse("attendance:webhook-rotate", args=[endpoint.pk])).status_code == 403
    assert WebhookEndpoint.objects.count() == 1 and WebhookEndpoint.objects.get().secret == endpoint.secret


def test_settings_that_cannot_work_fail_the_system_checks(settings):
    from attendance.checks import check_webhook_settings

    assert check_webhook_settings() == []
    settings.WEBHOOKS = {**settings.WEBHOOKS, "MAX_ATTEMPTS": 0, "TIMEOUT_SECONDS": -1}
    assert {message.id for message in check_webhook_settings()} == {"attendance.E002", "attendance.E004"}
    settings.WEBHOOKS = {"TIMEOUT_SECONDS": 5.0, "RETRY_BASE_SECONDS": 10.0, "MAX_ATTEMPTS": 12}
    assert [message.id for message in check_webhook_settings()] == ["attendance.W001"]
    settings.WEBHOOKS = {"TIMEOUT_SECONDS": 5.0}
    assert [message.id for message in check_webhook_settings()] == ["attendance.E001"]
