#!/usr/bin/env bash
# Build (or update) .venv-openrlhf: a CPU environment in which OpenRLHF 0.11.2's advantage code can be imported
# and checked against rsrl's integration. Idempotent: reinstalls only when its requirements change.
#   scripts/openrlhf_cpu_env.sh            # build if needed; prints the interpreter path
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${RSRL_OPENRLHF_TEST_VENV:-.venv-openrlhf}
OPENRLHF_VERSION=0.11.2
stamp_id=$(cat envs/openrlhf-cpu-test.txt scripts/openrlhf_cpu_env.sh | sha256sum | cut -c1-16)
stamp="$VENV/.rsrl-env-$stamp_id"
if [ ! -f "$stamp" ]; then
  [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip >&2
  "$VENV/bin/pip" install -q -r envs/openrlhf-cpu-test.txt >&2
  # OpenRLHF pins CUDA-only packages (flash-attn, deepspeed, vllm); the check needs none of them.
  "$VENV/bin/pip" install -q --no-deps "openrlhf==$OPENRLHF_VERSION" >&2
  rm -f "$VENV"/.rsrl-env-*
  touch "$stamp"
fi
echo "$VENV/bin/python"
