#!/usr/bin/env bash
# DeepFace on its TensorFlow backend (requirements/tensorflow.txt), tested in a separate virtual
# environment, .venv-tf, so that the main one stays light (TensorFlow adds about 1.5 GB). Installs once
# per change of the locks (requirements/locks/), then runs the tests marked `tensorflow`. Non-zero on any failure.
# scripts/test.sh calls it with REDIS_URL exported; run alone, it starts its own redis-server.
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv-tf
source scripts/lib.sh
mkdir -p var
started=$(date +%s)

# tf-keras from requirements/locks/tensorflow-no-deps.txt, without dependencies: it would pull the full
# `tensorflow` wheel beside tensorflow-cpu.
ensure_venv requirements/local.txt requirements/tensorflow.txt
installed=$(date +%s)

REDIS_PID=""
cleanup() { [ -n "$REDIS_PID" ] && kill "$REDIS_PID" 2>/dev/null; true; }
trap cleanup EXIT

if [ -z "${REDIS_URL:-}" ]; then
  ensure_apt redis-server redis-server
  port=$(free_port)
  start_redis "$port" "$(command -v redis-server)"
  export REDIS_URL="redis://127.0.0.1:$port/0"
  say "redis-server on $REDIS_URL"
fi
export REDIS_SERVER_BIN=${REDIS_SERVER_BIN:-$(command -v redis-server || true)}
export DJANGO_SETTINGS_MODULE=attendx.settings.test
# In this environment a missing TensorFlow is a failure, not a skip.
export ATTENDX_REQUIRE_TENSORFLOW=1

say "DeepFace on TensorFlow ($VENV)"
"$VENV/bin/python" -m pytest -m tensorflow tests/faces/test_tensorflow.py "$@"

say "TensorFlow tests green in $(( $(date +%s) - started )) s (install check $(( installed - started )) s)"
