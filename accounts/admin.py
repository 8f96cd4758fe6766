from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db import models

from accounts.forms import AdminLoginForm, UserAdminChangeForm, UserAdminCreationForm
from accounts.models import Device, DeviceToken, User
from attendx.admin import BoundedSearchMixin
from attendx.forms import ModelKeysField

# The admin's sign-in is slowed down per account like the site's (accounts.lockout).
admin.site.login_form = AdminLoginForm


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
                "fields": ("role", "is_active", "groups", "user_permissions"),
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
