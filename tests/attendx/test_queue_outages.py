"""Redis down or restarted under the task queue: staff get a clear answer, and queued work is done
once Redis is back, once. (Kiosks with the queue down: tests/attendance/test_check_in_without_queue.py.)"""

import time
from io import StringIO
from pathlib import Path

import pytest
import redis
from django.core.management import CommandError, call_command
from django.urls import reverse

from faces.enrollment import Photo
from faces.jobs import PhotoFor, start_enrollment_job, start_reembed_job
from faces.models import FaceJob, FaceSample, JobState
from faces.reembedding import gallery_status
from tests.celery_worker import broker_at, running_worker, wait_for
from tests.factories import FaceSampleFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def staged_files(settings) -> list[Path]:
    staging = Path(settings.MEDIA_ROOT) / "staging"
    return [path for path in staging.rglob("*") if path.is_file()] if staging.exists() else []


def test_queueing_with_the_broker_down_answers_503_and_leaves_nothing(client, staff, settings, broker_refused):
    from tests.faces.test_jobs import PHOTOS, archive_of

    for identity in PHOTOS:
        UserFactory(username=identity)
    client.force_login(staff)
    started = time.monotonic()
    response = client.post(reverse("faces:bulk-enroll"), {"archive": archive_of(PHOTOS)})
    assert response.status_code == 503 and response["Retry-After"] == "60"
    assert "The task queue is unavailable right now: nothing was queued" in response.content.decode()
    assert time.monotonic() - started < 5
    assert not FaceJob.objects.exists() and not staged_files(settings)

    FaceSampleFactory(pipeline_version="old-pipeline")  # makes a re-embedding due
    response = client.post(reverse("faces:reembed"))
    assert response.status_code == 503 and not FaceJob.objects.exists()
    with pytest.raises(CommandError, match="task queue is unavailable"):
        call_command("reembed_faces", "--queue", "--no-progress", stdout=StringIO(), stderr=StringIO())
    assert not FaceJob.objects.exists()


def queue_length(server, name="celery") -> int:
    return redis.Redis(port=server.port, db=1, socket_timeout=1).llen(name)


def test_queued_jobs_are_done_once_after_redis_restarts(redis_server, shared_photos, settings, client, staff):
    """Redis runs without persistence (docker-compose.yml): a restart loses the queued messages, never the
    jobs, which live in the database. The beat task resume_face_jobs queues them again."""
    url = f"redis://127.0.0.1:{redis_server.port}/1"
    amy, joe = UserFactory(username="amy_adams"), UserFactory(username="joe_biden")
    with broker_at(url):
        enrollment = start_enrollment_job(
            photos=[
                PhotoFor(amy, Photo(shared_photos["amy_adams/01.jpg"].data, "01.jpg"), "amy_adams/01.jpg"),
                PhotoFor(joe, Photo(shared_photos["joe_biden/01.jpg"].data, "01.jpg"), "joe_biden/01.jpg"),
            ]
        )
        assert queue_length(redis_server) == 1
        redis_server.restart()
        assert queue_length(redis_server) == 0  # the message is gone with Redis's data; the job is not

        with running_worker(name="restart", env={"FACES_JOB_STALL_SECONDS": "0"}):
            from faces.tasks import resume_face_jobs

            resume_face_jobs.delay()  # what beat does every two minutes
            wait_for(lambda: FaceJob.objects.get(pk=enrollment.pk).finished, timeout=60, what="the enrollment")

            # Redis goes down under a running worker: staff are told, nothing is left behind ...
            redis_server.stop()
            client.force_login(staff)
            response = client.post(reverse("faces:reembed"), {"everything": "on"})
            assert response.status_code == 503 and FaceJob.objects.count() == 1
            # ... and once it is back, the same worker takes new work.
            redis_server.start()
            reembedding = start_reembed_job(everything=True)
            wait_for(lambda: FaceJob.objects.get(pk=reembedding.pk).finished, timeout=60, what="work after the restart")
    enrollment.refresh_from_db()
    reembedding.refresh_from_db()
    assert enrollment.state == reembedding.state == JobState.DONE
    assert [outcome for _, outcome in enrollment.outcomes] == ["enrolled", "enrolled"]
    assert FaceSample.objects.filter(person=amy).count() == FaceSample.objects.filter(person=joe).count() == 1
    assert reembedding.position == 2 and gallery_status() == "ok"
    assert not staged_files(settings)
