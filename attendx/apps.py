from django.apps import AppConfig


class AttendXConfig(AppConfig):
    name = "attendx"
    verbose_name = "AttendX"
