"""Kiosk check-ins never go through the task queue: with Redis and the broker down, people are still
checked in."""

import pytest
from celery.app.task import Task

from attendance.models import Record
from tests.attendance.test_check_in import check_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_kiosks_check_in_with_redis_and_the_broker_down(
    kiosk_client, classroom, shared_photos, redis_refused, broker_refused, monkeypatch
):
    def no_queue(*args, **kwargs):
        raise AssertionError("a check-in went through the task queue")

    monkeypatch.setattr(Task, "apply_async", no_queue)
    response = check_in(kiosk_client, shared_photos["angelina_jolie/05.jpg"].data)
    assert response.status_code == 201
    assert Record.objects.get().person == classroom.people["angelina_jolie"]
