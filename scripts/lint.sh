#!/usr/bin/env bash
# Lint and format checks, run first by scripts/test.sh (seconds): ruff (lint and format), snakefmt, and
# Snakemake's own linter on the paper config and the embedded default. Any finding fails.
# `bash scripts/lint.sh --fix` applies ruff's and snakefmt's fixes instead of checking.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--fix" ]; then
  ruff check --fix .
  ruff format .
  snakefmt Snakefile workflow/rules
  exit 0
fi
ruff check --no-fix .
ruff format --check .
snakefmt --check Snakefile workflow/rules
for cfg in config/config.yaml config/demo.yaml; do
  out=$(snakemake --lint --configfile "$cfg" 2>&1) || true
  if ! grep -q "your workflow is in a good condition" <<<"$out"; then
    echo "snakemake --lint --configfile $cfg:" >&2
    echo "$out" >&2
    exit 1
  fi
done
echo "lint: ruff, ruff format, snakefmt and snakemake --lint are clean"
