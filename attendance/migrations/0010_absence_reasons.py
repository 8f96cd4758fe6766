"""The absence reasons every organisation starts with; administrators add their own in the admin."""

from django.db import migrations

REASONS = [
    ("illness", "Illness", True),
    ("authorised", "Authorised absence", True),
    ("unauthorised", "Unauthorised absence", False),
]


def add_reasons(apps, schema_editor):
    AbsenceReason = apps.get_model("attendance", "AbsenceReason")
    for code, label, excused in REASONS:
        AbsenceReason.objects.get_or_create(code=code, defaults={"label": label, "excused": excused})


class Migration(migrations.Migration):
    dependencies = [("attendance", "0009_school_operations")]

    operations = [migrations.RunPython(add_reasons, migrations.RunPython.noop)]
