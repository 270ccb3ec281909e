#!/usr/bin/env bash
# Regenerates the two lock files with a hash for every file pip may install, so `deploy/setup.sh`
# installs exactly what was tested and refuses a package whose bytes changed on the index:
#   requirements.lock       what runs dondoc (pyproject's dependencies)
#   requirements-test.lock  the test tools on top (pyproject's [test] extra), never in production
# Today's versions are kept (they are the constraints); UPGRADE=1 resolves the newest allowed ones.
# Needs the package index; uses uv (pinned) in a throwaway virtualenv.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m venv "$tmp/venv" && "$tmp/venv/bin/pip" install --quiet --disable-pip-version-check uv==0.13.8
uv="$tmp/venv/bin/uv"

pins=()
if [ "${UPGRADE:-0}" != 1 ]; then
  # The version lines only: hashes are remade, not carried over.
  grep -ho '^[A-Za-z0-9_.-]*==[^ ]*' requirements.lock requirements-test.lock > "$tmp/pins.txt"
  pins=(-c "$tmp/pins.txt")
fi
compile=("$uv" pip compile pyproject.toml "${pins[@]}" --generate-hashes --no-annotate --no-header
         --python-version 3.11 --quiet)
"${compile[@]}" -o "$tmp/runtime.txt"
"${compile[@]}" --extra test -o "$tmp/all.txt"

python3 - "$tmp" <<'PY'
import re, sys
from pathlib import Path

tmp = Path(sys.argv[1])


def entries(path: Path) -> dict[str, str]:
    """name -> its whole entry (the pin and its hash lines)."""
    found: dict[str, str] = {}
    for block in re.split(r"\n(?=\S)", path.read_text().strip()):
        name = re.split(r"[=\[ ]", block, 1)[0].lower().replace("_", "-")
        found[name] = block
    return found


runtime, everything = entries(tmp / "runtime.txt"), entries(tmp / "all.txt")
Path("requirements.lock").write_text(
    "# What runs dondoc: exact versions with their hashes (pip installs them with --require-hashes).\n"
    "# Regenerate with deploy/lock.sh; never edit by hand.\n" + "\n".join(runtime[n] for n in sorted(runtime)) + "\n"
)
Path("requirements-test.lock").write_text(
    "# The test tools on top of requirements.lock, with their hashes; never in production.\n"
    "# Installed by deploy/test.sh (deploy/setup.sh --test). Regenerate with deploy/lock.sh.\n"
    "-r requirements.lock\n" + "\n".join(everything[n] for n in sorted(everything) if n not in runtime) + "\n"
)
PY
echo "lock: $(grep -c '==' requirements.lock) runtime and $(grep -c '==' requirements-test.lock) test packages, hashed"
