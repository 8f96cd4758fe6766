from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db import models
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.models import STAFF_ROLES
from attendance.cameras import camera_device
from attendance.forms import WebURLField
from attendance.groups import eligible_members
from attendance.models import (
    AbsenceReason,
    Camera,
    CheckInRequest,
    Group,
    Holiday,
    Notification,
    PendingCheckIn,
    Record,
    RecordChange,
    Session,
    Timetable,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from attendance.selectors import with_member_counts
from attendance.timetables import delete_timetable, generate_sessions, horizon
from attendx.admin import BoundedSearchMixin, ReadOnlyMixin
from attendx.forms import DayField, ModelKeysField


class TimetableInline(admin.TabularInline):
    model = Timetable
    extra = 0
    fields = ("title", "weekday", "starts_at", "ends_at", "location", "late_after_minutes", "first_day", "last_day")


@admin.register(Group)
class GroupAdmin(BoundedSearchMixin, admin.ModelAdmin):
    list_display = ("name", "owner", "member_count", "created_at")
    list_select_related = ()  # the owners come with the member counts (get_queryset)
    search_fields = ("name", "description", "members__username", "members__last_name")
    filter_horizontal = ("members",)
    formfield_overrides = {models.ManyToManyField: {"form_class": ModelKeysField}}
    inlines = [TimetableInline]

    def get_queryset(self, request):
        return with_member_counts(super().get_queryset(request))

    @admin.display(description="Members", ordering="member_count")
    def member_count(self, group):
        return group.member_count

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "owner":
            kwargs["queryset"] = get_user_model().objects.filter(role__in=STAFF_ROLES)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "members":
            kwargs["queryset"] = eligible_members()
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def save_formset(self, request, form, formset, change):
        """Timetable entries saved here generate their sessions at once, as on the staff pages."""
        if formset.model is not Timetable:
            return super().save_formset(request, form, formset, change)
        entries = formset.save(commit=False)
        for entry in formset.deleted_objects:
            delete_timetable(timetable=entry)
        for entry in entries:
            if entry.pk is None:
                entry.created_by = request.user
            entry.save()
            generate_sessions(until=horizon(), timetable=entry)
        return None


@admin.register(Holiday)
class HolidayAdmin(BoundedSearchMixin, admin.ModelAdmin):
    """Holidays of every group: their days lose their timetabled sessions (those with records stay)."""

    list_display = ("name", "first_day", "last_day")
    search_fields = ("name",)
    date_hierarchy = "first_day"

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        generate_sessions(until=horizon())

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        generate_sessions(until=horizon())

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        generate_sessions(until=horizon())


@admin.register(AbsenceReason)
class AbsenceReasonAdmin(BoundedSearchMixin, admin.ModelAdmin):
    list_display = ("label", "code", "excused", "is_active")
    list_filter = ("excused", "is_active")
    search_fields = ("code", "label")


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

    def get_changeform_initial_data(self, request):
        """?starts_at= and ?ends_at= as dates and times; the admin's date-and-time widget fails on a string."""
        initial = super().get_changeform_initial_data(request)
        for name in ("starts_at", "ends_at"):
            if name in initial:
                try:
                    moment = parse_datetime(str(initial[name]))
                except ValueError:
                    moment = None
                if moment is None or not DayField.FIRST <= moment.date() <= DayField.LAST:
                    del initial[name]
                else:
                    initial[name] = moment if timezone.is_aware(moment) else timezone.make_aware(moment)
        return initial


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


@admin.register(Notification)
class NotificationAdmin(ReadOnlyMixin, BoundedSearchMixin, admin.ModelAdmin):
    list_display = ("created_at", "kind", "recipient", "subject", "state", "attempts", "sent_at")
    list_filter = ("kind", "state")
    search_fields = ("recipient", "subject", "key")
    date_hierarchy = "created_at"
