from django import forms
from django.contrib import admin
from django.db import models

from attendance.cameras import camera_device
from attendance.forms import WebURLField
from attendance.models import (
    Camera,
    CheckInRequest,
    Group,
    PendingCheckIn,
    Record,
    RecordChange,
    Session,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from attendx.admin import BoundedSearchMixin
from attendx.forms import ModelKeysField


@admin.register(Group)
class GroupAdmin(BoundedSearchMixin, admin.ModelAdmin):
    list_display = ("name", "member_count", "created_at")
    search_fields = ("name", "description", "members__username", "members__last_name")
    filter_horizontal = ("members",)
    formfield_overrides = {models.ManyToManyField: {"form_class": ModelKeysField}}

    @admin.display(description="Members")
    def member_count(self, group):
        return group.members.count()


class RecordInline(admin.TabularInline):
    model = Record
    extra = 0
    fields = ("person", "status", "marked_at", "method", "marked_by")
    raw_id_fields = ("person", "marked_by")


@admin.register(Session)
class SessionAdmin(BoundedSearchMixin, admin.ModelAdmin):
    list_display = ("title", "group", "starts_at", "ends_at", "late_after_minutes", "location")
    list_filter = ("group", "location", "starts_at")
    search_fields = ("title", "group__name", "location")
    date_hierarchy = "starts_at"
    inlines = [RecordInline]


@admin.register(Record)
class RecordAdmin(BoundedSearchMixin, admin.ModelAdmin):
    list_display = ("person", "session", "status", "marked_at", "method", "distance", "device", "marked_by")
    list_filter = ("status", "method", "session__group", "marked_at")
    search_fields = ("person__username", "person__first_name", "person__last_name", "session__title")
    raw_id_fields = ("session", "person", "device", "marked_by")
    date_hierarchy = "marked_at"


@admin.register(PendingCheckIn)
class PendingCheckInAdmin(BoundedSearchMixin, admin.ModelAdmin):
    list_display = ("candidate", "session", "distance", "captured_at", "expires_at", "state", "reviewed_by")
    list_filter = ("state", "session__group")
    search_fields = ("candidate__username", "candidate__last_name", "session__title")
    raw_id_fields = ("session", "candidate", "device", "reviewed_by")
    exclude = ("frame",)


@admin.register(RecordChange)
class RecordChangeAdmin(BoundedSearchMixin, admin.ModelAdmin):
    list_display = ("at", "action", "person", "status", "session", "by")
    list_filter = ("action",)
    search_fields = ("person__username", "by__username", "session__title")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(CheckInRequest)
class CheckInRequestAdmin(BoundedSearchMixin, admin.ModelAdmin):
    list_display = ("created_at", "device", "key", "status_code")
    search_fields = ("key", "device__username")

    def has_add_permission(self, request):
        return False


@admin.register(Camera)
class CameraAdmin(BoundedSearchMixin, admin.ModelAdmin):
    list_display = ("name", "location", "go2rtc_url", "stream_name", "interval", "is_active", "device")
    list_filter = ("is_active", "location")
    search_fields = ("name", "location", "stream", "go2rtc_url")
    readonly_fields = ("device",)
    # go2rtc usually answers plain HTTP inside the local network.
    formfield_overrides = {models.URLField: {"assume_scheme": "http"}}

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        camera_device(obj)


class WebhookEndpointAdminForm(forms.ModelForm):
    url = WebURLField(label="URL", max_length=500)
    events = forms.MultipleChoiceField(choices=WebhookEvent.choices, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "description", "events", "is_active"]


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(BoundedSearchMixin, admin.ModelAdmin):
    form = WebhookEndpointAdminForm
    list_display = ("url", "events", "is_active", "created_by", "created_at")
    list_filter = ("is_active",)
    search_fields = ("url", "description")
    readonly_fields = ("secret", "created_by", "created_at")

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(BoundedSearchMixin, admin.ModelAdmin):
    list_display = ("created_at", "event", "endpoint", "state", "attempts", "last_status_code", "delivered_at")
    list_filter = ("state", "event")
    search_fields = ("endpoint__url",)
    raw_id_fields = ("endpoint",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
