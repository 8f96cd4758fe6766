from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AdminUserCreationForm, AuthenticationForm, UserChangeForm
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.lockout import reserve_sign_in_attempt
from accounts.models import User
from attendx.keys import uses_object_ids


class ThrottledSignInMixin:
    """Before the password is checked, ask whether the account is slowed down (accounts.lockout); if so
    the form refuses with a ``throttled`` error and ``sign_in_wait`` says how long to wait."""

    sign_in_wait = None

    def clean(self):
        login, password = self.cleaned_data.get("username"), self.cleaned_data.get("password")
        if login and password:
            self.sign_in_wait = reserve_sign_in_attempt(login=login)
            if self.sign_in_wait is not None:
                seconds = self.sign_in_wait.seconds
                raise ValidationError(
                    ngettext(
                        "Too many failed sign-in attempts for this account. Try again in %(wait)s second.",
                        "Too many failed sign-in attempts for this account. Try again in %(wait)s seconds.",
                        seconds,
                    ),
                    code="throttled",
                    params={"wait": seconds},
                )
        return super().clean()


class LoginForm(ThrottledSignInMixin, AuthenticationForm):
    username = forms.CharField(
        label=_("Username or email"),
        max_length=254,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "username"}),
    )


class AdminLoginForm(ThrottledSignInMixin, AdminAuthenticationForm):
    pass


class UserAdminCreationForm(AdminUserCreationForm):
    class Meta(AdminUserCreationForm.Meta):
        model = User
        fields = ("username", "email", "first_name", "last_name", "role")


class UserAdminChangeForm(UserChangeForm):
    class Meta(UserChangeForm.Meta):
        model = User
        fields = "__all__"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        permissions = self.fields.get("user_permissions")
        if permissions is not None and uses_object_ids():
            # Django's form adds select_related("content_type"), whose join comes back empty on MongoDB
            # (seen on secantusdb): every label then raised. One query per permission label instead.
            permissions.queryset = Permission.objects.order_by("content_type__app_label", "codename")
