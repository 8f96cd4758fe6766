"""The deployment files agree with the app and with each other: docker-compose.yml (against the compose
spec, interpolated as compose does), gunicorn.conf.py (as gunicorn loads it), the Dockerfile and the
Render blueprint (parsed), and the commands the README prints."""

import os
import re
import runpy
import subprocess
import sys
import types
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.urls import resolve
from gunicorn.config import Config
from ruamel.yaml import YAML

ROOT = Path(settings.BASE_DIR)
SECRETS = {"SECRET_KEY": "k3&v@x9!q" * 8, "FACES_ENCRYPTION_KEYS": "a-fernet-key"}
# ${NAME}, ${NAME-default}, ${NAME:-default}, ${NAME?error}, ${NAME:?error}, and $$ for a dollar.
GUNICORN_ENV = {"PORT", "WEB_CONCURRENCY", "GUNICORN_THREADS", "GUNICORN_TIMEOUT", "FORWARDED_ALLOW_IPS"}
VARIABLE = re.compile(r"\$\$|\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def load(name):
    return YAML(typ="safe").load((ROOT / name).read_text())


def interpolated(value: str, environ: dict) -> str:
    """``value`` with its variables substituted from ``environ`` as docker compose does; a missing
    required variable raises KeyError with compose's message."""

    def substitute(match):
        if match[0] == "$$":
            return "$"
        name, op, arg = match["name"], match["op"] or "", match["arg"]
        present = name in environ and (environ[name] != "" or not op.startswith(":"))
        if present:
            return environ[name]
        if op.endswith("?"):
            raise KeyError(f"required variable {name} is missing a value: {arg}")
        return arg if op.endswith("-") else ""

    return VARIABLE.sub(substitute, value)


def compose_environment(service: dict, environ: dict) -> dict[str, str]:
    return {name: interpolated(str(value), environ) for name, value in service["environment"].items()}


def container_port(service: dict) -> int:
    [mapping] = service["ports"]
    return int(mapping.split(":")[-1])


def gunicorn_config(**environ) -> dict:
    """What gunicorn.conf.py sets, run with ``environ`` as the only variables it reads."""
    with pytest.MonkeyPatch.context() as patch:
        for name in GUNICORN_ENV:
            patch.delenv(name, raising=False)
        for name, value in environ.items():
            patch.setenv(name, value)
        namespace = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    return {
        name: value
        for name, value in namespace.items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile's stages, each a list of (INSTRUCTION, arguments), continuation lines joined."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    stages: list[list[tuple[str, str]]] = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        instruction, _, arguments = line.strip().partition(" ")
        if instruction.upper() == "FROM":
            stages.append([])
        stages[-1].append((instruction.upper(), " ".join(arguments.split())))
    return stages


def dockerfile_env(stage) -> dict[str, str]:
    env = {}
    for instruction, arguments in stage:
        if instruction == "ENV":
            env.update(pair.split("=", 1) for pair in arguments.split())
    return env


def test_compose_file_follows_the_compose_specification():
    result = subprocess.run(
        [str(Path(sys.executable).parent / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec"]
        + [str(ROOT / "docker-compose.yml")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("secret", sorted(SECRETS))
def test_compose_refuses_to_start_the_app_without_a_secret_production_needs(secret):
    app = load("docker-compose.yml")["services"]["app"]
    assert compose_environment(app, SECRETS)  # both given: it starts
    for missing in ({k: v for k, v in SECRETS.items() if k != secret}, {**SECRETS, secret: ""}):
        with pytest.raises(KeyError, match=f"required variable {secret} "):
            compose_environment(app, missing)


def test_compose_points_the_app_at_its_redis_and_mongo_services_and_waits_until_they_are_healthy():
    services = load("docker-compose.yml")["services"]
    app = services["app"]
    environment = compose_environment(app, SECRETS)
    for variable, service in [("REDIS_URL", "redis"), ("MONGODB_URI", "mongo")]:
        url = urlsplit(environment[variable])
        assert (url.hostname, url.port) == (service, container_port(services[service])), variable
        assert app["depends_on"][service] == {"condition": "service_healthy"}
    assert compose_environment(app, {**SECRETS, "MONGODB_URI": ""})["MONGODB_URI"] == ""  # SQLite, as documented


def test_compose_checks_the_health_of_every_service_and_the_app_on_its_readiness_page():
    services = load("docker-compose.yml")["services"]
    assert [name for name, service in services.items() if not service.get("healthcheck", {}).get("test")] == []
    [url] = re.findall(r"https?://[^'\"\s]+", " ".join(services["app"]["healthcheck"]["test"]))
    assert urlsplit(url).port == container_port(services["app"])
    assert resolve(urlsplit(url).path).url_name == "readyz"


def test_the_app_publishes_the_port_gunicorn_binds_and_the_image_checks():
    port = int(gunicorn_config()["bind"].rpartition(":")[2])
    assert container_port(load("docker-compose.yml")["services"]["app"]) == port
    final = dockerfile_stages()[-1]
    assert [arguments for instruction, arguments in final if instruction == "EXPOSE"] == [str(port)]
    [healthcheck] = [arguments for instruction, arguments in final if instruction == "HEALTHCHECK"]
    [url] = re.findall(r"https?://[^'\"\s]+", healthcheck)
    assert urlsplit(url).port == port and resolve(urlsplit(url).path).url_name == "healthz"


def test_the_worker_consumes_every_queue_tasks_are_sent_to():
    command = load("docker-compose.yml")["services"]["worker"]["command"]
    assert command[:4] == ["celery", "-A", "attendx", "worker"]
    consumed = set(command[command.index("-Q") + 1].split(","))
    routed = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}
    assert consumed >= routed | {getattr(settings, "CELERY_TASK_DEFAULT_QUEUE", "celery")}


def test_worker_and_one_beat_run_the_apps_image_environment_and_media_after_its_migrations():
    services = load("docker-compose.yml")["services"]
    app, worker, beat = services["app"], services["worker"], services["beat"]
    assert beat["command"][:4] == ["celery", "-A", "attendx", "beat"]
    assert beat.get("deploy", {}).get("replicas", 1) == 1  # a second beat would send every periodic task twice
    [volume] = app["volumes"]
    mount = PurePosixPath(volume.split(":")[1])
    image_env = dockerfile_env(dockerfile_stages()[-1])
    for path in ("MEDIA_ROOT", "SQLITE_PATH"):  # face photos and the SQLite fallback outlive the container
        assert mount in PurePosixPath(image_env[path]).parents, path
    for service in (worker, beat):
        assert service["image"] == app["image"] and service["volumes"] == app["volumes"]
        assert service["environment"] == app["environment"]
        assert service["depends_on"] == {"app": {"condition": "service_healthy"}}  # healthy: migrated


def test_gunicorn_takes_bind_workers_threads_and_timeout_from_the_environment():
    shipped = gunicorn_config()
    assert (shipped["bind"], shipped["workers"], shipped["threads"], shipped["timeout"]) == ("0.0.0.0:10000", 2, 1, 120)
    tuned = gunicorn_config(PORT="8000", WEB_CONCURRENCY="4", GUNICORN_THREADS="2", GUNICORN_TIMEOUT="30")
    assert (tuned["bind"], tuned["workers"], tuned["threads"], tuned["timeout"]) == ("0.0.0.0:8000", 4, 2, 30)
    assert shipped["preload_app"] is False  # each worker loads the model itself, after the fork


def test_gunicorn_knows_every_setting_in_its_config_and_accepts_their_values():
    config = Config()
    names = gunicorn_config()
    assert sorted(set(names) - set(config.settings)) == []  # gunicorn silently ignores a misspelt name
    for name, value in names.items():
        config.set(name, value)  # raises on a value of the wrong type
    env = {key: value for key, value in os.environ.items() if key not in GUNICORN_ENV}
    result = subprocess.run(
        [str(Path(sys.executable).parent / "gunicorn"), "--check-config", "-c", "gunicorn.conf.py"]
        + ["attendx.wsgi:application"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_image_runs_gunicorn_as_an_unprivileged_user_with_the_weights_it_staged():
    models, final = dockerfile_stages()
    users = [arguments for instruction, arguments in final if instruction == "USER"]
    assert users and users[-1] not in {"root", "0"}
    instructions = [instruction for instruction, _ in final]
    assert instructions.index("USER") < instructions.index("CMD")
    after_user = " ".join(arguments for instruction, arguments in final[instructions.index("USER") :])
    assert "manage.py faces_install_weights" in after_user  # checked as that user, at build time
    # The weights come from the models stage and land where the app looks for them.
    workdir = PurePosixPath(next(arguments for instruction, arguments in final if instruction == "WORKDIR"))
    [copy] = [arguments.split() for instruction, arguments in final if instruction == "COPY" and "--from=" in arguments]
    assert dockerfile_env(final)["DEEPFACE_HOME"] == str(workdir / copy[-1])
    [staging] = [arguments for instruction, arguments in models if "faces_install_weights" in arguments]
    assert f"DEEPFACE_HOME={copy[-2]} " in staging
    [command] = [arguments for instruction, arguments in final if instruction == "CMD"]
    assert "gunicorn -c gunicorn.conf.py attendx.wsgi:application" in command and "--preload" not in command


def test_the_render_blueprint_wires_redis_secrets_disk_and_health_check(client):
    services = {service["name"]: service for service in load("render.yaml")["services"]}
    web = services["attendx"]
    env = {var["key"]: var for var in web["envVars"]}
    redis_source = env["REDIS_URL"]["fromService"]
    assert services[redis_source["name"]]["type"] == redis_source["type"] == "keyvalue"
    assert redis_source["property"] == "connectionString"
    assert env["SECRET_KEY"] == {"key": "SECRET_KEY", "generateValue": True}
    assert env["FACES_ENCRYPTION_KEYS"] == {"key": "FACES_ENCRYPTION_KEYS", "sync": False}  # set in the dashboard
    image_env = dockerfile_env(dockerfile_stages()[-1])
    disk = PurePosixPath(web["disk"]["mountPath"])
    assert all(disk in PurePosixPath(image_env[path]).parents for path in ("MEDIA_ROOT", "SQLITE_PATH"))
    assert client.get(web["healthCheckPath"]).status_code == 200


def test_every_manage_py_command_in_the_readme_runs_as_printed():
    """Each `... manage.py NAME` in the README names the virtual environment's python and a real command."""
    from django.core.management import get_commands

    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"([^\s`]*python3?) manage\.py (\w+)", readme)
    assert commands
    for python, name in commands:
        assert python == ".venv/bin/python", f"`{python} manage.py {name}` fails unless .venv is activated"
        assert name in get_commands(), f"README names a command that does not exist: {name}"
