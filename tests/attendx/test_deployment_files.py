"""The deployment files: docker-compose.yml against the compose spec, the Render blueprint, the README."""

import re
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from ruamel.yaml import YAML

ROOT = Path(settings.BASE_DIR)


def load(name):
    return YAML(typ="safe").load((ROOT / name).read_text())


def test_compose_file_follows_the_compose_specification():
    result = subprocess.run(
        [str(Path(sys.executable).parent / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec"]
        + [str(ROOT / "docker-compose.yml")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_runs_the_services_with_health_checks():
    services = load("docker-compose.yml")["services"]
    ports = {name: service["ports"][0].split(":")[0] for name, service in services.items() if "ports" in service}
    assert ports == {"app": "10000", "redis": "6379", "mongo": "27017", "go2rtc": "1984"}
    assert all("healthcheck" in service for service in services.values())
    app = services["app"]
    assert app["environment"]["REDIS_URL"] == "redis://redis:6379/0"
    assert "mongo:27017" in app["environment"]["MONGODB_URI"]
    assert set(app["depends_on"]) == {"redis", "mongo"}


def test_compose_runs_a_worker_and_one_beat_on_the_app_image_environment_and_media():
    services = load("docker-compose.yml")["services"]
    app, worker, beat = services["app"], services["worker"], services["beat"]
    assert worker["command"][:4] == ["celery", "-A", "attendx", "worker"] and "celery,frames" in worker["command"]
    assert beat["command"][:4] == ["celery", "-A", "attendx", "beat"]
    for service in (worker, beat):
        assert service["image"] == app["image"] and service["environment"] == app["environment"]
        assert service["volumes"] == app["volumes"] == ["app-data:/app/var"]  # MEDIA_ROOT is under var/
        assert service["depends_on"]["app"]["condition"] == "service_healthy"  # migrations have run


def test_the_render_blueprint_takes_redis_url_from_the_redis_service():
    services = {service["name"]: service for service in load("render.yaml")["services"]}
    web = services["attendx"]
    env = {var["key"]: var for var in web["envVars"]}
    redis_source = env["REDIS_URL"]["fromService"]
    assert services[redis_source["name"]]["type"] == "keyvalue"
    assert redis_source["property"] == "connectionString"
    assert env["SECRET_KEY"] == {"key": "SECRET_KEY", "generateValue": True}
    assert web["healthCheckPath"] == "/healthz"


def test_the_dockerfile_runs_as_a_user_and_stages_weights_at_build_time():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "USER attendx" in dockerfile
    assert "faces_install_weights" in dockerfile.split("USER attendx")[1]
    assert "--preload" not in dockerfile and "preload_app = False" in (ROOT / "gunicorn.conf.py").read_text()


def test_every_manage_py_command_in_the_readme_runs_as_printed():
    """Each `... manage.py NAME` in the README names the virtual environment's python and a real command."""
    from django.core.management import get_commands

    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"([^\s`]*python3?) manage\.py (\w+)", readme)
    assert commands
    for python, name in commands:
        assert python == ".venv/bin/python", f"`{python} manage.py {name}` fails unless .venv is activated"
        assert name in get_commands(), f"README names a command that does not exist: {name}"
