#!/usr/bin/env bash
# README command 2 (and CI): install what is missing, then run the whole test suite
# against a real Kafka broker and PostgreSQL that the tests start themselves.
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/setup.sh
exec .venv/bin/python -m pytest -p no:cacheprovider "$@"
