"""Key shapes on both databases, and the form fields built on them: bad input is a form error, never a query."""

from datetime import date

import pytest
from django import forms
from django.db import DEFAULT_DB_ALIAS, connections

from attendance.models import Group
from attendx.converters import ObjectKeyConverter
from attendx.forms import DayField, KeyField, ModelKeyField, PageForm, error_status, error_text
from attendx.keys import is_key

OBJECT_ID = "0123456789abcdef01234567"
NEVER_KEYS = [
    "",
    "abc",
    "1.5",
    "-1",
    "+1",
    "1e3",
    " 1",
    "1\n",
    "１２",  # fullwidth digits: int() takes them, the database would not
    "0x1f",
    "1" * 19,
    "99999999999999999999",
    OBJECT_ID.upper(),
    OBJECT_ID[:-1],
    OBJECT_ID + "0",
    "g" * 24,
    "1; DROP TABLE",
]


@pytest.fixture(params=["sqlite", "mongodb"])
def vendor(request, monkeypatch):
    """Run the test as if the default database were SQLite, then MongoDB."""
    monkeypatch.setattr(connections[DEFAULT_DB_ALIAS], "vendor", request.param)
    return request.param


def test_sqlite_keys_are_integers_of_at_most_18_digits(monkeypatch):
    monkeypatch.setattr(connections[DEFAULT_DB_ALIAS], "vendor", "sqlite")
    assert all(is_key(key) for key in ["0", "1", "007", "9" * 18])
    assert not is_key(OBJECT_ID)


def test_mongodb_keys_are_object_ids(monkeypatch):
    monkeypatch.setattr(connections[DEFAULT_DB_ALIAS], "vendor", "mongodb")
    assert is_key(OBJECT_ID) and is_key("f" * 24)
    assert not any(is_key(key) for key in ["1", "9" * 18, "0" * 23])


@pytest.mark.parametrize("value", NEVER_KEYS)
def test_garbage_is_a_key_on_no_database(vendor, value):
    assert not is_key(value)


def test_the_url_converter_and_the_form_field_agree(vendor):
    converter, field = ObjectKeyConverter(), KeyField()
    for value in ["1", "9" * 18, OBJECT_ID, *NEVER_KEYS]:
        try:
            converter.to_python(value)
            converted = True
        except ValueError:
            converted = False
        try:
            cleaned = field.clean(value)
        except forms.ValidationError as error:
            assert error.code in ("invalid", "required")
            cleaned = None
        assert converted == (cleaned == value), value


def test_a_key_field_cleans_to_a_string_or_an_invalid_error(vendor):
    field = KeyField(required=False)
    good = OBJECT_ID if vendor == "mongodb" else "42"
    assert field.clean(f"  {good} ") == good
    assert field.clean("") == ""
    with pytest.raises(forms.ValidationError) as refused:
        field.clean("1.5")
    assert refused.value.code == "invalid" and refused.value.messages == ["Not a valid id."]


def test_a_model_key_field_checks_the_shape_before_any_query(db, vendor, django_assert_num_queries):
    field = ModelKeyField(queryset=Group.objects.all())
    other_shape = "1" if vendor == "mongodb" else OBJECT_ID
    for value in ["abc", "99999999999999999999", other_shape]:
        with django_assert_num_queries(0), pytest.raises(forms.ValidationError) as refused:
            field.clean(value)
        assert refused.value.code == "invalid"


@pytest.mark.django_db
def test_a_model_key_field_tells_a_missing_object_from_a_bad_key():
    group = Group.objects.create(name="Choir")
    field = ModelKeyField(queryset=Group.objects.all())
    assert field.clean(str(group.pk)) == group
    missing = "f" * 24 if connections[DEFAULT_DB_ALIAS].vendor == "mongodb" else "999999999"
    with pytest.raises(forms.ValidationError) as refused:
        field.clean(missing)
    assert refused.value.code == "does_not_exist" and refused.value.messages == ["That group does not exist."]


@pytest.mark.django_db
def test_error_status_is_404_only_when_a_good_key_names_nothing():
    class Pick(forms.Form):
        group = ModelKeyField(queryset=Group.objects.all())
        page = forms.IntegerField(required=False)

    missing = "f" * 24 if connections[DEFAULT_DB_ALIAS].vendor == "mongodb" else "999999999"
    assert error_status(Pick({"group": missing})) == 404
    assert error_status(Pick({"group": "abc"})) == 400
    assert error_status(Pick({"group": missing, "page": "x"})) == 400
    assert error_text(Pick({"group": "abc"})) == "Group: Not a valid id."


@pytest.mark.parametrize("value", ["9999-12-31", "0001-01-01", "1999-12-31", "2100-01-01"])
def test_a_day_field_refuses_days_outside_its_bounds(value):
    with pytest.raises(forms.ValidationError) as refused:
        DayField().clean(value)
    assert refused.value.code == "out_of_range"
    assert refused.value.messages == ["Choose a day from 2000-01-01 to 2099-12-31."]


def test_a_day_field_takes_the_days_in_between():
    assert DayField().clean("2000-01-01") == date(2000, 1, 1)
    assert DayField().clean("2099-12-31") == date(2099, 12, 31)
    assert DayField(required=False).clean("") is None
    assert 'min="2000-01-01"' in DayField().widget.render("day", None)


@pytest.mark.parametrize(("page", "valid"), [("", True), ("3", True), ("0", False), ("abc", False), ("1.5", False)])
def test_the_page_form(page, valid):
    assert PageForm({"page": page}).is_valid() is valid
