"""Face samples: one enrolled photo of a person with its embedding, tagged with how it was made; the
calibrations that set the distance thresholds for a gallery (faces.calibration); and the batches of
face work a Celery worker does for staff (faces.jobs)."""

from datetime import timedelta

import numpy as np
from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from faces import crypto
from faces.storage import private_face_storage


class Source(models.TextChoices):
    UPLOAD = "upload", _("Photo upload")
    WEBCAM = "webcam", _("Webcam capture")
    COMMAND = "command", _("Command line")
    BULK = "bulk", _("Bulk enrollment")


def sample_upload_to(sample, filename):
    extension = {"PNG": "png", "WEBP": "webp"}.get(sample.image_format, "jpg")
    return f"faces/{sample.person_id}/{sample.digest}.{extension}"


class FaceSampleQuerySet(models.QuerySet):
    def for_gallery(self, *, model_name, detector_backend, pipeline_version):
        """Samples whose embeddings can be compared with the current engine's (never across models)."""
        return self.filter(
            model_name=model_name,
            detector_backend=detector_backend,
            pipeline_version=pipeline_version,
            person__is_active=True,
        )


class FaceSample(models.Model):
    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="face_samples")
    # Empty when FACES_KEEP_PHOTOS is off: only the template is kept.
    image = models.FileField(storage=private_face_storage, upload_to=sample_upload_to, max_length=255, blank=True)
    image_format = models.CharField(max_length=8)
    digest = models.CharField(_("SHA-256 of the uploaded bytes"), max_length=64, db_index=True)
    # float32 little-endian bytes in a Fernet token (faces.crypto; rows from before encryption hold them
    # plain until `rotate_face_keys`); only comparable with samples of the same model/detector/pipeline.
    embedding = models.BinaryField()
    model_name = models.CharField(max_length=32)
    detector_backend = models.CharField(max_length=32)
    pipeline_version = models.CharField(max_length=16)
    dimensions = models.PositiveSmallIntegerField()
    box = models.JSONField(help_text=_("x, y, width, height in the photo's pixels"))
    face_size = models.PositiveIntegerField(help_text=_("shorter side of the face, in pixels"))
    sharpness = models.FloatField()
    brightness = models.FloatField()
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.UPLOAD)
    enrolled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    objects = FaceSampleQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["person", "digest"], name="faces_unique_photo_per_person")]

    def __str__(self):
        return f"Face of {self.person} ({self.created_at:%Y-%m-%d})"

    @staticmethod
    def vector_from_bytes(data) -> np.ndarray:
        return np.frombuffer(crypto.reveal(data), dtype="<f4")

    @property
    def vector(self) -> np.ndarray:
        return self.vector_from_bytes(self.embedding)

    def set_vector(self, vector: np.ndarray) -> None:
        vector = np.asarray(vector, dtype="<f4")
        self.embedding = crypto.encrypt(vector.tobytes())
        self.dimensions = int(vector.shape[0])


class FaceCalibrationQuerySet(models.QuerySet):
    def for_pipeline(self, *, pipeline_version):
        """Calibrations made on embeddings of one pipeline: distances never carry across pipelines."""
        return self.filter(pipeline_version=pipeline_version)

    def latest_first(self):
        return self.order_by("-created_at", "-pk")


class FaceCalibration(models.Model):
    """One run of calibrate_faces: the gallery it measured, what it recommends, and the evidence.

    ``histogram``: counts per bin of ``bin_width`` from 0 (the last bin open-ended) of the site's own
    genuine and impostor distances, and of the public pairs when they were pooled. ``table``: rows of
    distance, FMR, FPIR at this gallery, genuine reject rate. ``lookalikes``: pairs of people (keys and
    names) whose nearest samples were within the review distance.
    """

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    model_name = models.CharField(max_length=32)
    detector_backend = models.CharField(max_length=32)
    pipeline_version = models.CharField(max_length=64, db_index=True)
    people = models.PositiveIntegerField(_("people in the gallery"))
    samples = models.PositiveIntegerField(_("samples in the gallery"))
    accept_distance = models.FloatField()
    review_distance = models.FloatField()
    margin = models.FloatField()
    lookalike_margin = models.FloatField()
    target_rate = models.FloatField(help_text=_("strangers accepted as someone, per check-in, aimed at"))
    prior_pooled = models.BooleanField(help_text=_("the public pairs were pooled in: the gallery was small"))
    genuine_pairs = models.PositiveIntegerField(help_text=_("pooled, as the estimate used them"))
    impostor_pairs = models.PositiveIntegerField(help_text=_("pooled, as the estimate used them"))
    histogram = models.JSONField(default=dict)
    table = models.JSONField(default=list)
    lookalikes = models.JSONField(default=list)
    searches = models.JSONField(default=dict, help_text=_("1:N searches of the gallery's own samples"))
    notes = models.JSONField(default=list, help_text=_("what the estimate rests on"))

    objects = FaceCalibrationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        get_latest_by = "created_at"

    def __str__(self):
        return f"Calibration of {self.created_at:%Y-%m-%d %H:%M} ({self.people} people)"


class JobKind(models.TextChoices):
    ENROLL = "enroll", _("Bulk enrollment")
    REEMBED = "reembed", _("Re-embedding")


class JobState(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class FaceJobQuerySet(models.QuerySet):
    def unfinished(self):
        return self.filter(state__in=[JobState.QUEUED, JobState.RUNNING])

    def stalled(self, moment=None):
        """Unfinished jobs that made no progress for FACES["JOB_STALL_SECONDS"]: their message may be lost."""
        since = (moment or timezone.now()) - timedelta(seconds=settings.FACES["JOB_STALL_SECONDS"])
        return self.unfinished().filter(heartbeat_at__lt=since)

    def expired(self, moment=None):
        since = (moment or timezone.now()) - timedelta(days=settings.FACES["JOB_DAYS"])
        return self.exclude(state__in=[JobState.QUEUED, JobState.RUNNING]).filter(created_at__lt=since)


class FaceJob(models.Model):
    """A batch of face work a worker does: the row is the truth, the queued message only a wake-up.

    ``items`` (enrollment): one per staged photo, ``{"person": key, "name": label, "file": staged name}``,
    handled in order; ``position`` counts those done. ``outcomes``: enrollment, ``[label, outcome]`` per
    item; re-embedding, ``[sample key, label, problem]`` per sample that kept its old embedding.
    """

    kind = models.CharField(max_length=16, choices=JobKind.choices)
    state = models.CharField(max_length=16, choices=JobState.choices, default=JobState.QUEUED, db_index=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    heartbeat_at = models.DateTimeField(default=timezone.now, help_text=_("the last sign of progress"))
    finished_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0, help_text=_("deliveries that started work on it"))
    total = models.PositiveIntegerField(default=0)
    position = models.PositiveIntegerField(default=0, help_text=_("items handled"))
    failed = models.PositiveIntegerField(default=0, help_text=_("items refused or kept as they were"))
    everything = models.BooleanField(default=False, help_text=_("re-embedding: every sample, not only stale ones"))
    items = models.JSONField(default=list, blank=True)
    outcomes = models.JSONField(default=list, blank=True)
    summary = models.CharField(max_length=300, blank=True)

    objects = FaceJobQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.get_kind_display()} of {self.created_at:%Y-%m-%d %H:%M} ({self.get_state_display()})"

    @property
    def finished(self) -> bool:
        return self.state in (JobState.DONE, JobState.FAILED)

    @property
    def percent(self) -> int:
        if self.finished:
            return 100
        return min(100, round(100 * self.position / self.total)) if self.total else 0


class PendingCachePurge(models.Model):
    """Redis keys (or key patterns) that an erasure could not delete because Redis was down or stalled;
    carried out when Redis answers again (faces.erasure)."""

    patterns = models.JSONField(help_text=_("cache keys or glob patterns, as the cache sees them"))
    reason = models.CharField(max_length=160, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    done_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["created_at"]

    def __str__(self):
        return f"cache purge of {len(self.patterns)} key(s) ({'done' if self.done_at else 'pending'})"
