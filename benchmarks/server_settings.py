"""Production settings for the HTTP benchmarks, with one change: static files are not looked up in a
collectstatic manifest (the work tree has none, and the benchmarks must not write one), so pages that
use ``{% static %}`` render. Everything else, middleware, sessions, caches and logging, is production's.
"""

from attendx.settings.production import *  # noqa: F403
from attendx.settings.production import STORAGES

STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
