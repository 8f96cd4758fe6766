"""When a face sample goes (alone, or with its person), its photo and cached embeddings go too;
when a person changes (deactivated, say), the gallery is rebuilt; when a calibration goes, every
process reads the thresholds in force again."""

from django.conf import settings
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from attendx.cache import cache_clear
from attendx.db import on_commit
from faces.models import FaceCalibration, FaceSample
from faces.selectors import bump_calibration_generation, bump_gallery_generation


@receiver(post_delete, sender=FaceSample, dispatch_uid="faces.sample_deleted")
def sample_deleted(sender, instance, **kwargs):
    name, storage, digest = instance.image.name, instance.image.storage, instance.digest

    def cleanup():
        if name:
            storage.delete(name)
        if not FaceSample.objects.filter(digest=digest).exists():
            cache_clear(f"emb:{digest}:*")
        bump_gallery_generation()

    on_commit(cleanup)


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="faces.person_saved")
def person_saved(sender, instance, created, update_fields=None, **kwargs):
    # Deactivating someone takes their faces out of the gallery; a sign-in (last_login) changes nothing.
    if created or (update_fields is not None and set(update_fields) <= {"last_login", "password"}):
        return
    on_commit(bump_gallery_generation)


@receiver(post_delete, sender=FaceCalibration, dispatch_uid="faces.calibration_deleted")
def calibration_deleted(sender, instance, **kwargs):
    on_commit(bump_calibration_generation)
