#!/usr/bin/env bash
# README command 1: install what is missing, then run the whole stack with the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/setup.sh
exec .venv/bin/dondoc up --demo "$@"
