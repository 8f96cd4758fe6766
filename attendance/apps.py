from django.apps import AppConfig


class AttendanceConfig(AppConfig):
    name = "attendance"
    verbose_name = "Attendance"

    def ready(self):
        from attendance import checks, signals  # noqa: F401 - registers checks and signal receivers (webhooks)
