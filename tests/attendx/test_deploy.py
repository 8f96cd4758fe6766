"""Production settings pass Django's deployment checks and refuse to start without a secret."""

import os
import subprocess
import sys

from cryptography.fernet import Fernet
from django.conf import settings


def manage(*args, **env):
    dropped = {"SECRET_KEY", "DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE", "FACES_ENCRYPTION_KEYS"}
    environment = {k: v for k, v in os.environ.items() if k not in dropped}
    environment.update(DJANGO_SETTINGS_MODULE="attendx.settings.production", **env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_passes_at_warning_level():
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        SECRET_KEY="k3&v@x9!q" * 8,
        ALLOWED_HOSTS="attendx.example.org",
        FACES_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_face_encryption_key():
    result = manage("check", SECRET_KEY="k3&v@x9!q" * 8, ALLOWED_HOSTS="attendx.example.org")
    assert result.returncode != 0
    assert "faces.E009" in result.stderr and "generate_face_key" in result.stderr


def test_production_refuses_to_start_without_a_secret_key():
    result = manage("check", ALLOWED_HOSTS="attendx.example.org")
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr
