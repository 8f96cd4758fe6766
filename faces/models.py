"""Face samples: one enrolled photo of a person with its embedding, tagged with how it was made."""

import numpy as np
from django.conf import settings
from django.db import models

from faces.storage import private_face_storage


class Source(models.TextChoices):
    UPLOAD = "upload", "Photo upload"
    WEBCAM = "webcam", "Webcam capture"
    COMMAND = "command", "Command line"


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
    image = models.FileField(storage=private_face_storage, upload_to=sample_upload_to, max_length=255)
    image_format = models.CharField(max_length=8)
    digest = models.CharField("SHA-256 of the uploaded bytes", max_length=64, db_index=True)
    # float32 little-endian bytes; only comparable with samples of the same model/detector/pipeline.
    embedding = models.BinaryField()
    model_name = models.CharField(max_length=32)
    detector_backend = models.CharField(max_length=32)
    pipeline_version = models.CharField(max_length=16)
    dimensions = models.PositiveSmallIntegerField()
    box = models.JSONField(help_text="x, y, width, height in the photo's pixels")
    face_size = models.PositiveIntegerField(help_text="shorter side of the face, in pixels")
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
        return np.frombuffer(bytes(data), dtype="<f4")

    @property
    def vector(self) -> np.ndarray:
        return self.vector_from_bytes(self.embedding)

    def set_vector(self, vector: np.ndarray) -> None:
        vector = np.asarray(vector, dtype="<f4")
        self.embedding = vector.tobytes()
        self.dimensions = int(vector.shape[0])
