from django.apps import AppConfig


class FacesConfig(AppConfig):
    name = "faces"
    verbose_name = "Faces"

    def ready(self):
        from faces import checks, signals  # noqa: F401 - registers checks and signal receivers
