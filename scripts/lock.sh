#!/usr/bin/env bash
# Regenerates the hash-pinned locks in requirements/locks/ from the ranges in requirements/*.txt, which
# stay the files people edit. Existing pins are kept while they satisfy the ranges; `scripts/lock.sh
# --upgrade` (or --upgrade-package NAME) moves them. Installs (scripts/lib.sh, Dockerfile) use only the locks.
set -euo pipefail
cd "$(dirname "$0")/.."
PIP_COMPILE=${PIP_COMPILE:-.venv/bin/pip-compile}
LOCKS=requirements/locks
mkdir -p "$LOCKS"

# Resolved against PyPI alone, so every hash is of a file PyPI serves: this machine's pip configuration
# adds local mirrors (extra indexes, find-links), whose files pip-compile would otherwise hash as found.
# Installs may still take the mirrors' copies, which pip accepts only when their hashes match.
compile() {
  local output=$1
  shift
  env -u PIP_FIND_LINKS -u PIP_EXTRA_INDEX_URL -u PIP_INDEX_URL -u PIP_CONSTRAINT PIP_CONFIG_FILE=/dev/null \
    CUSTOM_COMPILE_COMMAND="scripts/lock.sh" \
    "$PIP_COMPILE" --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url \
    --no-emit-find-links --index-url https://pypi.org/simple --output-file "$output" "$@" "${OPTIONS[@]}"
}
OPTIONS=("$@")

# Layered: each lock is constrained by the one before, so a package has one version in all of them
# and any two (local + production, local + tensorflow) install together.
compile "$LOCKS/base.txt" requirements/base.txt
compile "$LOCKS/local.txt" requirements/local.txt -c "$LOCKS/base.txt"
compile "$LOCKS/production.txt" requirements/production.txt -c "$LOCKS/local.txt"
compile "$LOCKS/tensorflow.txt" requirements/tensorflow.txt -c "$LOCKS/local.txt"

# The `# no-deps:` lines of requirements/tensorflow.txt (pip installs them with --no-deps): resolved
# with their dependencies, which pip-compile cannot leave out, then cut down to their own entries.
mapfile -t no_deps < <(sed -n 's/^#[[:space:]]*no-deps:[[:space:]]*//p' requirements/tensorflow.txt)
if [ ${#no_deps[@]} -gt 0 ]; then
  scratch=$(mktemp -d)
  trap 'rm -rf "$scratch"' EXIT
  printf '%s\n' "${no_deps[@]}" >"$scratch/no-deps.in"
  [ -f "$LOCKS/tensorflow-no-deps.txt" ] && cp "$LOCKS/tensorflow-no-deps.txt" "$scratch/no-deps.txt"
  compile "$scratch/no-deps.txt" "$scratch/no-deps.in" -c "$LOCKS/tensorflow.txt"
  names=$(printf '%s\n' "${no_deps[@]}" | sed -E 's/[^A-Za-z0-9._-].*//' | tr 'A-Z_.' 'a-z--' | paste -sd'|')
  {
    echo "# The '# no-deps:' lines of requirements/tensorflow.txt, hash-pinned by scripts/lock.sh;"
    echo "# install with: pip install --require-hashes --no-deps -r $LOCKS/tensorflow-no-deps.txt"
    awk -v names="^($names)==" '
      /^[^ #]/ { name = tolower($1); gsub(/[_.]/, "-", name); keep = name ~ names }
      keep && !/^ *#/ { print }
    ' "$scratch/no-deps.txt"
  } >"$LOCKS/tensorflow-no-deps.txt"
fi
echo "Locks written to $LOCKS/"
