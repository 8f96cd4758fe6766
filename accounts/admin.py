from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group as AuthGroup
from django.db import models
from django.template.response import TemplateResponse

from accounts.forms import AdminLoginForm, UserAdminChangeForm, UserAdminCreationForm
from accounts.models import AuditEvent, Consent, ConsentText, Device, DeviceToken, Role, User
from attendx.admin import BoundedSearchMixin, ReadOnlyMixin
from attendx.forms import ModelKeysField

# The admin's sign-in is slowed down per account like the site's (accounts.lockout).
admin.site.login_form = AdminLoginForm
# Roles decide access, not Django's permission groups: the admin shows one "Groups", attendance's.
admin.site.unregister(AuthGroup)


@admin.register(User)
class UserAdmin(BoundedSearchMixin, DjangoUserAdmin):
    form = UserAdminChangeForm
    add_form = UserAdminCreationForm
    list_display = ("username", "email", "first_name", "last_name", "role", "is_active", "last_login")
    list_filter = ("role", "is_active")
    search_fields = ("username", "email", "first_name", "last_name")
    ordering = ("last_name", "first_name", "username")
    formfield_overrides = {models.ManyToManyField: {"form_class": ModelKeysField}}
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Person", {"fields": ("first_name", "last_name", "email")}),
        (
            "Role",
            {
                "fields": ("role", "is_active"),
                "description": "The role decides admin access: administrators and staff can sign in here.",
            },
        ),
        (
            "Kiosk or camera",
            {"fields": ("liveness",), "description": "Devices only: how their faces are checked for a live person."},
        ),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("username", "email", "first_name", "last_name", "role")}),
        (None, {"classes": ("wide",), "fields": ("usable_password", "password1", "password2")}),
    )
    actions = ["erase_biometric_data"]

    def has_erase_permission(self, request):
        return getattr(request.user, "role", None) == Role.ADMIN

    @admin.action(description="Erase biometric data", permissions=["erase"])
    def erase_biometric_data(self, request, queryset):
        from faces.erasure import erase_biometrics

        people = list(queryset)
        if request.POST.get("post") != "yes":
            context = {
                **self.admin_site.each_context(request),
                "title": "Erase biometric data?",
                "people": people,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                "opts": self.model._meta,
            }
            return TemplateResponse(request, "admin/accounts/user/erase_biometrics.html", context)
        for person in people:
            erased = erase_biometrics(person=person, by=request.user, reason="admin action")
            self.message_user(
                request,
                f"Erased for {person}: {erased.samples} face samples, {erased.evidence_crops} evidence crops, "
                f"{erased.review_frames} review frames, {erased.not_live_crops} not-live crops, {erased.files} files.",
                messages.SUCCESS,
            )
        return None


class DeviceTokenInline(admin.TabularInline):
    model = DeviceToken
    fields = ("prefix", "created_at", "last_used_at", "revoked_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False  # a token is issued on the staff device page or by issue_device_token: shown once


@admin.register(Device)
class DeviceAdmin(BoundedSearchMixin, admin.ModelAdmin):
    list_display = ("name", "kind", "location", "created_at")
    list_filter = ("kind",)
    search_fields = ("name", "location")
    readonly_fields = ("account", "created_by", "created_at")
    formfield_overrides = {models.ManyToManyField: {"form_class": ModelKeysField}}
    inlines = [DeviceTokenInline]

    def has_add_permission(self, request):
        return False  # registered on the staff Devices page, which creates its account


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyMixin, BoundedSearchMixin, admin.ModelAdmin):
    """The audit trail, for administrators only, and for reading only: a trail that can be edited proves nothing."""

    list_display = ("at", "action", "actor_name", "subject_name")
    list_filter = ("action",)
    search_fields = ("actor_name", "subject_name")
    fields = ("at", "action", "actor_name", "subject_name", "detail")
    readonly_fields = fields

    @staticmethod
    def _is_admin(request) -> bool:
        return getattr(request.user, "role", None) == Role.ADMIN

    def has_module_permission(self, request):
        return self._is_admin(request)

    def has_view_permission(self, request, obj=None):
        return self._is_admin(request)


@admin.register(ConsentText)
class ConsentTextAdmin(admin.ModelAdmin):
    """Publishing a new version puts it in force at once (accounts.consent). A version is never edited or
    deleted once someone consented to it: every field turns read-only and deleting is refused, so each
    consent keeps the exact words agreed to. To change the text, add a new version."""

    list_display = ("version", "title", "published_at", "created_by", "consent_count")
    readonly_fields = ("created_by",)

    @admin.display(description="consents")
    def consent_count(self, obj):
        return obj.consents.count()

    def get_changeform_initial_data(self, request):
        from accounts.consent import next_version

        return {**super().get_changeform_initial_data(request), "version": next_version()}

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.consents.exists():
            return ("version", "title", "body", "published_at", "created_by")
        return super().get_readonly_fields(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.consents.exists():
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(Consent)
class ConsentAdmin(ReadOnlyMixin, BoundedSearchMixin, admin.ModelAdmin):
    """The consent records, read-only: they are given on the consent pages or by enroll_faces, and withdrawn
    on the person's pages (withdrawal erases the face data, which the admin must not skip)."""

    list_display = ("person", "text", "given_by", "giver_name", "method", "recorded_by", "given_at", "withdrawn_at")
    list_filter = ("method", "given_by", "text")
    list_select_related = ("person", "text", "recorded_by")
    search_fields = ("person__username", "person__first_name", "person__last_name", "giver_name")
