#!/usr/bin/env bash
# Install the test needs and run the whole suite: ruff, unit, api, privileged and e2e tests.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
bash scripts/install.sh --test
.venv/bin/ruff check src tests bench
exec .venv/bin/pytest -q -rs -p no:cacheprovider "$@"
