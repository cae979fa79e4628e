#!/usr/bin/env bash
# Build the CPU environment at .venv if needed, then run the embedded default end to end on this machine:
# data -> tiny model -> GRPO / RS-GRPO training (TRL) -> vLLM sampling -> grading -> tables, figures, HTML report.
# Extra arguments go to Snakemake (e.g. `bash scripts/demo.sh --cores 4`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export PATH="$PWD/.venv/bin:$PATH"
snakemake all --configfile config/demo.yaml --profile local --report results/report.html --report-after-run "$@"
echo "Done: tables in results/tables/, figures in results/figures/, report at results/report.html"
