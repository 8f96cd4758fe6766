# Shared steps of scripts/run.sh and scripts/test.sh: sourced, not run.

PYTHON_BIN=${PYTHON_BIN:-python3.11}
VENV=${VENV:-.venv}

say() { printf '\n==> %s\n' "$*"; }

# Install Debian packages whose command (or, given as an absolute path, file) is missing:
# ensure_apt COMMAND PACKAGE [COMMAND PACKAGE ...]
ensure_apt() {
  local missing=()
  while [ $# -gt 0 ]; do
    case "$1" in
      /*) [ -e "$1" ] || missing+=("$2") ;;
      *) command -v "$1" >/dev/null 2>&1 || missing+=("$2") ;;
    esac
    shift 2
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "Installing Debian packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Create the virtual environment and install the requirements files given from their locks, once per
# change of the locks: requirements/NAME.txt holds the ranges, requirements/locks/NAME.txt (written by
# scripts/lock.sh) the exact versions and hashes pip checks, and requirements/locks/NAME-no-deps.txt,
# where there is one, what pip installs without dependencies.
ensure_venv() {
  command -v "$PYTHON_BIN" >/dev/null 2>&1 || PYTHON_BIN=python3
  if [ ! -x "$VENV/bin/python" ]; then
    say "Creating the virtual environment in $VENV"
    "$PYTHON_BIN" -m venv "$VENV"
  fi
  local with_deps=() without_deps=() file lock
  local -a with_args=() without_args=()
  for file in "$@"; do
    lock="$(dirname "$file")/locks/$(basename "$file")"
    [ -f "$lock" ] || { echo "$file has no lock $lock: run scripts/lock.sh" >&2; return 1; }
    with_deps+=("$lock") with_args+=(-r "$lock")
    if [ -f "${lock%.txt}-no-deps.txt" ]; then
      without_deps+=("${lock%.txt}-no-deps.txt") without_args+=(-r "${lock%.txt}-no-deps.txt")
    fi
  done
  local stamp="$VENV/.locks.sha256"
  local wanted
  wanted=$(cat "${with_deps[@]}" "${without_deps[@]}" | sha256sum | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
    say "Installing Python packages from ${with_deps[*]} ${without_deps[*]}"
    "$VENV/bin/python" -m pip install -q --require-hashes "${with_args[@]}"
    if [ ${#without_deps[@]} -gt 0 ]; then
      "$VENV/bin/python" -m pip install -q --require-hashes --no-deps "${without_args[@]}"
    fi
    echo "$wanted" >"$stamp"
  fi
  export PATH="$PWD/$VENV/bin:$PATH"
}

# What faces_install_weights needs to convert dlib's face network to ONNX (faces/dlib_onnx.py).
ensure_converter_tools() {
  ensure_apt g++ g++ /usr/include/dlib/dnn.h libdlib-dev
}

# What the translation tests run (makemessages, compilemessages): GNU gettext's xgettext, msgmerge, msgfmt.
ensure_gettext() {
  ensure_apt xgettext gettext
}

free_port() {
  python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

port_is_free() {
  python -c 'import socket, sys; s = socket.socket(); sys.exit(s.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0)' "$1"
}

# Start a Redis server without persistence on 127.0.0.1:$1 using binary $2; sets REDIS_PID. In a session
# of its own: Ctrl-C stops the web server, and the caller stops Redis after the Celery worker.
start_redis() {
  local port=$1 binary=$2
  setsid "$binary" --bind 127.0.0.1 --port "$port" --save "" --appendonly no --daemonize no \
    --loglevel warning --dir "${TMPDIR:-/tmp}" >"var/redis-$port.log" 2>&1 &
  REDIS_PID=$!
  for _ in $(seq 50); do
    python -c 'import redis, sys; redis.Redis(port=int(sys.argv[1]), socket_timeout=0.2).ping()' "$port" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "Redis did not start on port $port; see var/redis-$port.log" >&2
  return 1
}

# Start secantusdb, a MongoDB-compatible server from PyPI (requirements/local.txt), on 127.0.0.1:$1,
# in memory (nothing is left once it stops); sets MONGO_PID. It presents itself as a one-node replica
# set, so transactions are real. Test commands are on: a test arms a failpoint (configureFailPoint) to
# make a commit fail. Its quirks are in docs/mongodb.md.
start_mongo() {
  local port=$1
  secantusd-py --host 127.0.0.1 --port "$port" --storage-path :memory: --log-level WARNING \
    --enable-test-commands >"var/secantusdb-$port.log" 2>&1 &
  MONGO_PID=$!
  for _ in $(seq 100); do
    python -c 'import pymongo, sys
pymongo.MongoClient(port=int(sys.argv[1]), serverSelectionTimeoutMS=200).admin.command("ping")' "$port" 2>/dev/null &&
      return 0
    kill -0 "$MONGO_PID" 2>/dev/null || break
    sleep 0.2
  done
  echo "secantusdb did not start on port $port; see var/secantusdb-$port.log" >&2
  return 1
}
