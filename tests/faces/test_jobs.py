"""Bulk enrollment and re-embedding on a real Celery worker: the staff page, its progress, the commands,
and a worker killed in the middle of a job."""

import io
import json
import os
import signal
import zipfile
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
import redis
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from faces.enrollment import Photo, face_enroll
from faces.jobs import PhotoFor
from faces.models import FaceJob, FaceSample, JobState
from faces.reembedding import gallery_status
from tests.celery_worker import pool_children, running_worker, wait_for
from tests.conftest import FACES_DIR
from tests.factories import FaceSampleFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

# Photos that enroll (tests/attendance/conftest.py), one person per folder, and one with no face.
PHOTOS = {
    "angelina_jolie": ["angelina_jolie/01.jpg", "angelina_jolie/03.jpg"],
    "barack_obama": ["barack_obama/01.jpg"],
    "joe_biden": ["joe_biden/01.jpg"],
    "amy_adams": ["amy_adams/01.jpg", "_none/rocket.jpg"],
}


def archive_of(layout: dict[str, list[str]]) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for identity, names in layout.items():
            for name in names:
                archive.writestr(f"{identity}/{Path(name).name}", (FACES_DIR / name).read_bytes())
    return SimpleUploadedFile("faces.zip", buffer.getvalue(), content_type="application/zip")


@pytest.fixture
def people(db):
    return {identity: UserFactory(username=identity, role="member") for identity in PHOTOS}


@pytest.fixture
def broker(settings):
    """The broker's queues, emptied (the celery_worker fixture does this too)."""
    redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=1).flushdb()


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def archive_photos(layout, people) -> list[PhotoFor]:
    """What BulkEnrollForm makes of archive_of(layout)."""
    return [
        PhotoFor(people[identity], Photo(data=(FACES_DIR / name).read_bytes(), filename=Path(name).name), name)
        for identity, names in layout.items()
        for name in names
    ]


def staged_files(settings) -> list[Path]:
    staging = Path(settings.MEDIA_ROOT) / "staging"
    return [path for path in staging.rglob("*") if path.is_file()] if staging.exists() else []


def progress_of(client, job) -> dict:
    response = client.get(reverse("faces:job-progress", args=[job.pk]))
    assert response.status_code == 200
    return response.json()


def test_bulk_enrollment_from_the_staff_page_shows_progress_and_enrolls_each_photo(
    staff_client, staff, people, embedding_cache, settings, celery_worker
):
    response = staff_client.post(reverse("faces:bulk-enroll"), {"archive": archive_of(PHOTOS)})
    job = FaceJob.objects.get()
    assert response.status_code == 302 and response.url == reverse("faces:job", args=[job.pk])
    page = staff_client.get(response.url)
    assert b'id="job-progress"' in page.content and b"faces/job.js" in page.content

    seen = []

    def finished():
        progress = progress_of(staff_client, job)
        seen.append(progress["done"])
        return progress if progress["finished"] else None

    progress = wait_for(finished, timeout=60, every=0.05, what="the bulk enrollment")
    assert progress["state"] == "done" and progress["percent"] == 100
    assert progress["total"] == progress["done"] == 6 and progress["failed"] == 1
    assert seen == sorted(seen)  # the bar only moves forward
    assert progress["summary"] == "5 enrolled, 0 already enrolled, 1 refused."
    for identity, names in PHOTOS.items():
        faces = [name for name in names if not name.startswith("_none")]
        assert FaceSample.objects.filter(person=people[identity], source="bulk").count() == len(faces)
    assert FaceSample.objects.filter(enrolled_by=staff).count() == 5
    job.refresh_from_db()
    outcomes = dict(job.outcomes)
    assert outcomes["angelina_jolie/01.jpg"] == "enrolled" and outcomes["amy_adams/rocket.jpg"].startswith("refused")
    assert not staged_files(settings)  # the staged photos are gone once the job is done
    done_page = staff_client.get(reverse("faces:job", args=[job.pk])).content.decode()
    assert "amy_adams/rocket.jpg" in done_page and "No face found" in done_page


def test_a_refused_archive_leaves_no_file_no_row_and_no_key(staff_client, people, settings, shared_redis):
    before = set(shared_redis.keys())
    unknown = {**PHOTOS, "nobody_here": ["joe_biden/01.jpg"]}
    response = staff_client.post(reverse("faces:bulk-enroll"), {"archive": archive_of(unknown)})
    assert response.status_code == 400
    assert "No account for these folders: nobody_here." in response.content.decode()
    not_zip = SimpleUploadedFile("faces.zip", b"not a zip", content_type="application/zip")
    response = staff_client.post(reverse("faces:bulk-enroll"), {"archive": not_zip})
    assert response.status_code == 400 and "not a ZIP archive" in response.content.decode()
    assert not FaceJob.objects.exists() and not staged_files(settings)
    assert set(shared_redis.keys()) == before


def test_only_staff_queue_face_jobs(client, member, people):
    client.force_login(member)
    assert client.get(reverse("faces:jobs")).status_code == 403
    assert client.post(reverse("faces:bulk-enroll"), {"archive": archive_of(PHOTOS)}).status_code == 403
    assert client.post(reverse("faces:reembed")).status_code == 403
    assert not FaceJob.objects.exists()


def stale_samples(shared_photos, people) -> list[FaceSample]:
    """Samples with real photos on disk, made by an older pipeline."""
    samples = []
    for identity, names in PHOTOS.items():
        for name in names:
            if not name.startswith("_"):
                samples += face_enroll(person=people[identity], photos=[Photo(data=shared_photos[name].data)])
    FaceSample.objects.update(pipeline_version="old-pipeline")
    return samples


def test_reembedding_from_the_staff_page(staff_client, people, embedding_cache, settings, broker):
    stale_samples(embedding_cache, people)
    assert gallery_status() != "ok"
    page = staff_client.get(reverse("faces:jobs")).content.decode()
    assert "5 sample(s) from another pipeline" in page
    response = staff_client.post(reverse("faces:reembed"))
    job = FaceJob.objects.get()
    assert response.status_code == 302 and response.url == reverse("faces:job", args=[job.pk])
    assert progress_of(staff_client, job)["state"] == "queued"
    seen = set()
    # Two samples a step, and each step a task of its own (its continuation queued by the last).
    with running_worker(name="reembed", env={"FACES_JOB_CHUNK": "2", "FACES_JOB_STEP_SECONDS": "0"}):

        def finished():
            progress = progress_of(staff_client, job)
            seen.add(progress["done"])
            return progress if progress["finished"] else None

        progress = wait_for(finished, timeout=60, every=0.02, what="the re-embedding")
    assert progress["state"] == "done" and progress["done"] == 5 and progress["failed"] == 0
    assert seen <= {0, 2, 4, 5} and 5 in seen
    job.refresh_from_db()
    assert job.attempts == 1  # continuations are not new attempts
    assert gallery_status() == "ok"
    # Nothing stale now: the page says so and queues nothing.
    response = staff_client.post(reverse("faces:reembed"), follow=True)
    assert "nothing to re-embed" in response.content.decode() and FaceJob.objects.count() == 1


def test_the_commands_queue_and_follow_their_jobs(tmp_path, embedding_cache, celery_worker, staff):
    for identity, names in PHOTOS.items():
        (tmp_path / identity).mkdir()
        for name in names:
            (tmp_path / identity / Path(name).name).symlink_to(FACES_DIR / name)
    out = StringIO()
    consent = ["--consent-on-file", "--operator", staff.username, "--create-missing"]
    call_command("enroll_faces", str(tmp_path), "--queue", "--no-progress", *consent, stdout=out, stderr=StringIO())
    lines = out.getvalue().splitlines()
    assert "amy_adams/rocket.jpg: refused: No face found" in " ".join(lines)
    assert "5 enrolled, 0 already enrolled, 1 refused." in lines
    FaceSample.objects.update(pipeline_version="old-pipeline")
    out = StringIO()
    call_command("reembed_faces", "--queue", "--no-progress", stdout=out, stderr=StringIO())
    assert "Re-embedded 5 sample(s); 0 kept their old embedding." in out.getvalue()
    assert gallery_status() == "ok"


def test_a_worker_killed_mid_job_is_replaced_and_each_photo_is_enrolled_once(staff_client, people, settings, broker):
    # No embedding cache: the worker embeds each photo itself, slowly enough to be caught mid-job.
    layout = {identity: [name for name in names if not name.startswith("_")] for identity, names in PHOTOS.items()}
    with running_worker(name="killed") as worker:
        staff_client.post(reverse("faces:bulk-enroll"), {"archive": archive_of(layout)})
        job = FaceJob.objects.get()
        wait_for(lambda: FaceJob.objects.get().position >= 1, timeout=60, every=0.02, what="the first photo")
        [child] = pool_children(worker)
        os.kill(child, signal.SIGKILL)
        killed_at = FaceJob.objects.get().position
        assert killed_at < job.total, "the job finished before the worker could be killed"
        wait_for(lambda: FaceJob.objects.get().finished, timeout=90, what="the job, on a new worker child")
        assert pool_children(worker) != [child]
    job.refresh_from_db()
    assert job.state == JobState.DONE and job.attempts == 2
    assert job.position == job.total == 5 and [outcome for _, outcome in job.outcomes] == ["enrolled"] * 5
    assert FaceSample.objects.count() == 5
    for identity, names in layout.items():
        assert FaceSample.objects.filter(person=people[identity]).count() == len(names)
    # The worker deletes the staged photos just after it marks the job done (faces.jobs._finish).
    wait_for(lambda: not staged_files(settings), timeout=10, what="the staged photos deleted")
    assert json.loads(json.dumps(job.outcomes))  # plain JSON, as the page shows it


def test_a_stalled_job_is_queued_again_once(people, settings, broker):
    from faces.jobs import resume_stalled_jobs, start_reembed_job

    FaceSampleFactory(person=people["joe_biden"], pipeline_version="old-pipeline")
    job = start_reembed_job()
    queue = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=1)
    assert queue.llen("celery") == 1
    assert resume_stalled_jobs() == 0  # not quiet for long enough
    FaceJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    assert resume_stalled_jobs() == 1 and resume_stalled_jobs() == 0
    assert queue.llen("celery") == 2


def test_a_job_that_keeps_failing_is_given_up_and_its_photos_deleted(staff_client, people, settings):
    from faces.jobs import run_job

    redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=1).flushdb()
    staff_client.post(reverse("faces:bulk-enroll"), {"archive": archive_of(PHOTOS)})
    job = FaceJob.objects.get()
    assert len(staged_files(settings)) == 6
    FaceJob.objects.filter(pk=job.pk).update(attempts=settings.FACES["JOB_MAX_ATTEMPTS"])
    assert run_job(str(job.pk)) == "failed"
    job.refresh_from_db()
    assert job.state == JobState.FAILED and "Gave up after 5 attempts" in job.summary
    assert not staged_files(settings) and not FaceSample.objects.exists()
    assert run_job(str(job.pk)) == "gone"  # a late delivery changes nothing


def test_the_purge_deletes_old_jobs_and_orphaned_uploads_only(people, settings):
    from faces.jobs import purge_face_jobs, start_enrollment_job

    old = FaceJob.objects.create(kind="reembed", state="done", created_at=timezone.now() - timedelta(days=31))
    recent = FaceJob.objects.create(kind="reembed", state="done")
    orphan = Path(settings.MEDIA_ROOT) / "staging" / "orphan"
    orphan.mkdir(parents=True)
    (orphan / "00000").write_bytes(b"a photo")
    long_ago = (timezone.now() - timedelta(days=2)).timestamp()
    os.utime(orphan, (long_ago, long_ago))
    redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=1).flushdb()
    waiting = start_enrollment_job(photos=archive_photos(PHOTOS, people)[:1])
    waiting_folder = Path(settings.MEDIA_ROOT) / Path(waiting.items[0]["file"]).parent
    os.utime(waiting_folder, (long_ago, long_ago))
    assert purge_face_jobs() == (1, 1)
    assert not FaceJob.objects.filter(pk=old.pk).exists() and FaceJob.objects.filter(pk=recent.pk).exists()
    assert not orphan.exists() and waiting_folder.is_dir()  # the queued job still needs its photo
