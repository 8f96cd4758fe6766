"""WSGI entry point; gunicorn serves ``attendx.wsgi:application``."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "attendx.settings.production")

application = get_wsgi_application()
