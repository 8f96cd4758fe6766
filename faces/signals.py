"""When a face sample goes (alone, or with its person), its photo and cached embeddings go too."""

from django.db.models.signals import post_delete
from django.dispatch import receiver

from attendx.cache import cache_clear
from attendx.db import on_commit
from faces.models import FaceSample
from faces.selectors import bump_gallery_generation


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
