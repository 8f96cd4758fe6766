# The Celery app is loaded with Django, so that @shared_task finds it (attendx/celery.py).
from attendx.celery import app as celery_app

__all__ = ["celery_app"]
