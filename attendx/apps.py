from django.apps import AppConfig


class AttendXConfig(AppConfig):
    name = "attendx"
    verbose_name = "AttendX"

    def ready(self):
        from attendx import checks  # noqa: F401 - registers the RETENTION checks
