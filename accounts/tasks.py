"""Celery tasks of the accounts app."""

from celery import shared_task


@shared_task
def clear_expired_sessions() -> None:
    """What `manage.py clearsessions` does: delete expired sessions from the database."""
    from accounts.sessions import SessionStore

    SessionStore.clear_expired()
