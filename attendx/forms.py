"""Form fields every app uses for input it must not trust: primary keys, days, page numbers.

A key of the wrong shape is ``invalid`` (answer 400); a well-formed key that names nothing is
``does_not_exist`` (answer 404). ``error_status()`` tells a view which.
"""

from datetime import date

from django import forms
from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS
from django.utils.translation import gettext_lazy as _

from attendx.keys import is_key

INVALID_KEY = _("Not a valid id.")


def key_from(value, *, using: str = DEFAULT_DB_ALIAS, message: str = INVALID_KEY) -> str:
    """``value`` as a primary key of database ``using``; ValidationError (code "invalid") for any other shape."""
    key = str(value).strip()
    if not is_key(key, using):
        raise ValidationError(message, code="invalid")
    return key


class KeyField(forms.CharField):
    """A primary key of the database's shape (see attendx.keys), as a string; "" when empty."""

    default_error_messages = {"invalid": INVALID_KEY}

    def __init__(self, *, using: str = DEFAULT_DB_ALIAS, **kwargs):
        self.using = using
        super().__init__(**kwargs)

    def to_python(self, value):
        value = super().to_python(value)
        if value in self.empty_values:
            return value
        return key_from(value, using=self.using, message=self.error_messages["invalid"])


class ModelKeyField(forms.ModelChoiceField):
    """An object of ``queryset`` named by its primary key.

    Errors: ``invalid`` when the key has the wrong shape, ``does_not_exist`` when it names nothing.
    The key's shape is checked before any query, so the database never sees "abc" or a 20-digit number.
    """

    default_error_messages = {"invalid": INVALID_KEY, "does_not_exist": _("That %(model)s does not exist.")}

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if isinstance(value, self.queryset.model):
            return value
        key = key_from(value, using=self.queryset.db, message=self.error_messages["invalid"])
        try:
            return self.queryset.get(pk=key)
        except self.queryset.model.DoesNotExist:
            model = self.queryset.model._meta.verbose_name
            raise ValidationError(
                self.error_messages["does_not_exist"], code="does_not_exist", params={"model": model}
            ) from None


class ModelKeysField(forms.ModelMultipleChoiceField):
    """Objects of ``queryset`` named by their primary keys, each key's shape checked before any query.

    Django's own field sends every key to the database, where a 20-digit number overflows SQLite.
    """

    def clean(self, value):
        if isinstance(value, list | tuple):
            for key in value:
                try:
                    key_from(key, using=self.queryset.db)
                except ValidationError:
                    message = self.error_messages["invalid_pk_value"]
                    raise ValidationError(message, code="invalid_pk_value", params={"pk": key}) from None
        return super().clean(value)


class DayField(forms.DateField):
    """A calendar day between ``first`` and ``last``: day arithmetic on it (a range's end + 1) cannot overflow."""

    FIRST, LAST = date(2000, 1, 1), date(2099, 12, 31)
    default_error_messages = {"out_of_range": _("Choose a day from %(first)s to %(last)s.")}

    def __init__(self, *, first: date = FIRST, last: date = LAST, **kwargs):
        self.first, self.last = first, last
        attrs = {"type": "date", "min": first.isoformat(), "max": last.isoformat()}
        kwargs.setdefault("widget", forms.DateInput(attrs=attrs))
        super().__init__(**kwargs)

    def validate(self, value):
        super().validate(value)
        if value is not None and not self.first <= value <= self.last:
            params = {"first": self.first.isoformat(), "last": self.last.isoformat()}
            raise ValidationError(self.error_messages["out_of_range"], code="out_of_range", params=params)


class PageForm(forms.Form):
    """``?page=`` of a paginated list; Paginator.get_page() then clamps it to the pages there are."""

    page = forms.IntegerField(min_value=1, required=False)


def error_status(form: forms.Form) -> int:
    """The status for an invalid form: 404 when a well-formed key names nothing, 400 otherwise."""
    codes = {error.code for errors in form.errors.as_data().values() for error in errors}
    return 404 if codes == {"does_not_exist"} else 400


def error_text(form: forms.Form) -> str:
    """Every error of an invalid form, one sentence each, for a message on the page."""
    lines = []
    for name, errors in form.errors.items():
        field = form.fields.get(name)  # None for the errors of the whole form
        label = (field.label or name.replace("_", " ").capitalize()) if field else ""
        lines += [f"{label}: {error}" if label else error for error in errors]
    return " ".join(lines)
