"""Staff forms of the device pages: register or edit a kiosk or camera (accounts.devices does the writes).
Groups and sessions are named by key fields that know SQLite integers and MongoDB ObjectIds."""

from django import forms
from django.core.validators import RegexValidator
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.models import Device, DeviceKind, Liveness
from attendance.models import Group, Session
from attendx.forms import ModelKeysField

PIN_RULE = RegexValidator(r"^[0-9]{4,12}$", _("Use 4 to 12 digits."), code="bad_pin")


class SessionKeysField(ModelKeysField):
    def label_from_instance(self, obj):
        return f"{obj.title} · {obj.group} · {timezone.localtime(obj.starts_at):%d %b %H:%M}"


class DeviceForm(forms.Form):
    """A device's settings. The exit PIN is required on a new kiosk; when editing, blank keeps it."""

    name = forms.CharField(label=_("Name"), max_length=80, help_text=_("unique, e.g. Front desk"))
    kind = forms.ChoiceField(label=_("Kind"), choices=DeviceKind.choices, initial=DeviceKind.KIOSK)
    location = forms.CharField(label=_("Location"), max_length=120, required=False)
    groups = ModelKeysField(
        label=_("Groups"),
        queryset=Group.objects.all(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("it serves these groups' sessions"),
    )
    sessions = SessionKeysField(
        label=_("Sessions"),
        queryset=Session.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("and these sessions; with no group and no session chosen, it serves every session"),
    )
    liveness = forms.ChoiceField(
        label=_("Liveness"),
        choices=[("", _("The site's default")), *Liveness.choices],
        required=False,
        help_text=_("how faces are checked for a live person (docs/liveness.md)"),
    )
    exit_pin = forms.CharField(
        label=_("Exit PIN"),
        required=False,
        validators=[PIN_RULE],
        strip=False,
        widget=forms.PasswordInput(attrs={"inputmode": "numeric", "autocomplete": "new-password"}),
        help_text=_("4 to 12 digits; staff type it on the kiosk to leave locked mode"),
    )
    exit_pin_again = forms.CharField(
        label=_("Exit PIN, again"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"inputmode": "numeric", "autocomplete": "new-password"}),
    )

    def __init__(self, *args, device: Device | None = None, **kwargs):
        self.device = device
        if device is not None:
            kwargs.setdefault(
                "initial",
                {
                    "name": device.name,
                    "kind": device.kind,
                    "location": device.location,
                    "groups": list(device.groups.all()),
                    "sessions": list(device.sessions.all()),
                    "liveness": device.account.liveness,
                },
            )
        super().__init__(*args, **kwargs)
        # Sessions still to come or running, and those the device already serves.
        chosen = [session.pk for session in device.sessions.all()] if device is not None else []
        self.fields["sessions"].queryset = (
            Session.objects.filter(Q(ends_at__gte=timezone.now()) | Q(pk__in=chosen))
            .select_related("group")
            .order_by("starts_at")
        )
        if device is not None:
            self.fields["exit_pin"].help_text = gettext("leave blank to keep the current PIN")

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        taken = Device.objects.filter(name=name)
        if self.device is not None:
            taken = taken.exclude(pk=self.device.pk)
        if taken.exists():
            message = gettext("A device called %(name)s exists already.")
            raise forms.ValidationError(message, code="duplicate", params={"name": name})
        return name

    def clean(self):
        cleaned = super().clean()
        pin, again = cleaned.get("exit_pin", ""), cleaned.get("exit_pin_again", "")
        if "exit_pin" in cleaned and pin != again:
            mismatch = forms.ValidationError(gettext("The two PINs differ."), code="pin_mismatch")
            self.add_error("exit_pin_again", mismatch)
        needs_pin = self.device is None and cleaned.get("kind") == DeviceKind.KIOSK
        if needs_pin and "exit_pin" in cleaned and not pin:
            message = gettext("A kiosk needs an exit PIN: without it, it cannot leave locked mode.")
            self.add_error("exit_pin", forms.ValidationError(message, code="required"))
        return cleaned
