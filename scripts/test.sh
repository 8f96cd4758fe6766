#!/usr/bin/env bash
# `make test`: install whatever is missing, start a real redis-server on a free loopback port with no
# persistence, run the linters and the whole suite, stop the server. Non-zero on any failure.
# Extra arguments go to pytest (e.g. `make test ARGS="-k cache"`).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
mkdir -p var
started=$(date +%s)

ensure_apt redis-server redis-server
ensure_venv requirements/local.txt requirements/production.txt

REDIS_PID=""
cleanup() { [ -n "$REDIS_PID" ] && kill "$REDIS_PID" 2>/dev/null; true; }
trap cleanup EXIT

port=$(free_port)
start_redis "$port" "$(command -v redis-server)"
export REDIS_URL="redis://127.0.0.1:$port/0"
export REDIS_SERVER_BIN
REDIS_SERVER_BIN=$(command -v redis-server)
export DJANGO_SETTINGS_MODULE=attendx.settings.test
say "redis-server $(redis-server --version | awk '{print $3}') on $REDIS_URL"

python manage.py faces_install_weights
say "Lint and migrations"
ruff check .
python manage.py makemigrations --check --dry-run >/dev/null

say "Test suite (SQLite, real Redis)"
python -m pytest "$@"

# DeepFace on TensorFlow, in its own virtual environment; not narrowed by ARGS.
bash scripts/test_tensorflow.sh

say "All green in $(( $(date +%s) - started )) s"
