#!/usr/bin/env bash
# Build the CPU environment at .venv if needed, run the lint and format checks (scripts/lint.sh), then the whole test
# suite (slow end-to-end tests included).
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m "not slow"` for the quick suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export PATH="$PWD/.venv/bin:$PATH"
bash scripts/lint.sh
exec python -m pytest "$@"
