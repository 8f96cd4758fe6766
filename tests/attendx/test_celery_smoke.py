"""The Celery app reaches a real worker through the real broker (the worker fixture works)."""

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_real_worker_answers(celery_worker):
    from attendx.celery import app

    assert app.control.ping(destination=[celery_worker.hostname], timeout=2)
