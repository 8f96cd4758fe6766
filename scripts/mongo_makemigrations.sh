#!/usr/bin/env bash
# Write the MongoDB migration tree, mongo_migrations/<app>/, for every app in
# attendx.settings.mongodb.MIGRATION_MODULES (or only the app labels given), the way
# `python manage.py makemigrations` writes <app>/migrations/ for SQLite. Run both after changing models.
# makemigrations needs a reachable MongoDB in this mode, so a temporary in-memory secantusdb server is
# started on a free loopback port and stopped on exit.
#
#   scripts/mongo_makemigrations.sh                    # add migrations for what changed
#   scripts/mongo_makemigrations.sh --check            # exit 1 when a migration is missing; write nothing
#   scripts/mongo_makemigrations.sh --fresh attendance # delete attendance's Mongo migrations, write one initial
#
# --fresh rewrites history: use it only for migrations no MongoDB database has applied yet.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
mkdir -p var

fresh="" check="" args=() labels=()
for arg in "$@"; do
  case "$arg" in
    --fresh) fresh=1 ;;
    --check) check=1 args+=(--check --dry-run) ;;
    -*) args+=("$arg") ;;
    *) labels+=("$arg") ;;
  esac
done

ensure_venv requirements/local.txt
export DJANGO_SETTINGS_MODULE=attendx.settings.local
if [ ${#labels[@]} -eq 0 ]; then
  read -r -a labels <<<"$(python -c 'from attendx.settings.mongodb import MIGRATION_MODULES; print(*MIGRATION_MODULES)')"
fi

MONGO_PID=""
trap '[ -n "$MONGO_PID" ] && kill "$MONGO_PID" 2>/dev/null; true' EXIT
port=$(free_port)
start_mongo "$port"
export MONGODB_URI="mongodb://127.0.0.1:$port/attendx_makemigrations"

if [ -n "$fresh" ]; then
  for label in "${labels[@]}"; do
    find "mongo_migrations/$label" -maxdepth 1 -name '[0-9]*.py' -delete 2>/dev/null || true
  done
fi
# Every app has a package in the tree, even one without models yet: migrate refuses a missing one.
if [ -z "$check" ]; then
  for label in "${labels[@]}"; do
    mkdir -p "mongo_migrations/$label"
    touch "mongo_migrations/$label/__init__.py"
  done
fi
python manage.py makemigrations "${args[@]}" "${labels[@]}"
