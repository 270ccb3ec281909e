#!/usr/bin/env bash
# README command 2 (and CI): install what is missing, then run the whole test suite
# against a real Kafka broker and PostgreSQL that the tests start themselves.
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/setup.sh --test
# The dashboard's browser test drives Debian's Chromium (Playwright never downloads a browser here).
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "test: installing Chromium from Debian's packages for the browser test"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
      || echo "test: could not install chromium; the browser test will be skipped" >&2
  else
    echo "test: chromium is not installed and cannot be installed here; the browser test will be skipped" >&2
  fi
fi
# Lint and types first: they take seconds and say most plainly what a change broke.
echo "test: ruff check, ruff format --check, mypy --strict (events/, services/runtime/)"
.venv/bin/ruff check .
.venv/bin/ruff format --check --quiet .
.venv/bin/mypy --strict events services/runtime
exec .venv/bin/python -m pytest -p no:cacheprovider "$@"
