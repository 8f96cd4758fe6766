from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from attendx.admin import BoundedSearchMixin
from faces.models import FaceCalibration, FaceSample
from faces.reembedding import reembed_samples


@admin.register(FaceSample)
class FaceSampleAdmin(BoundedSearchMixin, admin.ModelAdmin):
    list_display = ("thumbnail", "person", "source", "face_size", "sharpness_rounded", "model_name", "created_at")
    list_filter = ("source", "model_name", "detector_backend", "pipeline_version")
    search_fields = ("person__username", "person__first_name", "person__last_name", "digest")
    list_select_related = ("person",)
    raw_id_fields = ("person", "enrolled_by")
    readonly_fields = (
        "thumbnail",
        "digest",
        "image_format",
        "model_name",
        "detector_backend",
        "pipeline_version",
        "dimensions",
        "box",
        "face_size",
        "sharpness",
        "brightness",
        "source",
        "enrolled_by",
        "created_at",
        "updated_at",
    )
    exclude = ("image", "embedding")
    actions = ["reembed"]

    def has_add_permission(self, request):
        return False  # photos go through the enrollment quality gate, not the admin

    @admin.display(description="Photo")
    def thumbnail(self, sample):
        if not sample.image:
            return "no photo kept"
        url = reverse("faces:sample-image", args=[sample.pk])
        return format_html(
            '<img src="{}" alt="" style="height:64px;width:64px;object-fit:cover;border-radius:6px">', url
        )

    @admin.display(description="Sharpness", ordering="sharpness")
    def sharpness_rounded(self, sample):
        return round(sample.sharpness)

    @admin.action(description="Re-embed with the current model")
    def reembed(self, request, queryset):
        done, failed = reembed_samples(queryset.select_related("person"))
        level = messages.SUCCESS if not failed else messages.WARNING
        self.message_user(request, f"Re-embedded {done} sample(s); {failed} failed.", level)


@admin.register(FaceCalibration)
class FaceCalibrationAdmin(admin.ModelAdmin):
    """Read-only: calibrations come from calibrate_faces. Deleting the latest puts the one before back in force."""

    list_display = ("created_at", "people", "samples", "accept_distance", "review_distance", "margin", "prior_pooled")
    list_filter = ("pipeline_version", "prior_pooled")
    exclude = ("histogram", "table")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
