#!/usr/bin/env bash
# Start a Ray cluster for one training job, run a command against it, and stop Ray on exit (success or failure).
#
#   scripts/train_openrlhf_slurm.sh COMMAND [ARGS...]
#
# Inside a multi-node Slurm allocation: the Ray head runs on the first node of the allocation and one Ray
# worker on each other node, each started with `srun` (one task per node, all of the node's GPUs); COMMAND runs
# here, on the first node, with RAY_ADDRESS pointing at the head. On one node (a one-node allocation, or a GPU
# machine without Slurm): a local Ray head.
# Snakemake's slurm executor must run this script once (rule resources `tasks_per_gpu: 0`, and `mpi` for several
# nodes, so the job step is not wrapped in `srun -n1`).
#
# Environment: RSRL_OPENRLHF_PYTHON  interpreter of the OpenRLHF environment (envs/openrlhf-gpu.txt); its `ray`
#              executable is used. RSRL_RAY_PORT (default: from the Slurm job id). GPUS_PER_NODE (default: count from nvidia-smi).
set -euo pipefail

PY=${RSRL_OPENRLHF_PYTHON:-python}
RAY="$(dirname "$(command -v "$PY")")/ray"
[ -x "$RAY" ] || RAY=ray
# Jobs sharing a node must not share a Ray port: derive it from the Slurm job id unless given.
PORT=${RSRL_RAY_PORT:-$((20000 + ${SLURM_JOB_ID:-0} % 20000))}
if [ -z "${GPUS_PER_NODE:-}" ]; then
  GPUS_PER_NODE=$(nvidia-smi --list-gpus 2>/dev/null | wc -l || echo 0)
fi
CPUS_PER_NODE=${SLURM_CPUS_ON_NODE:-$(nproc)}
STEP_PIDS=()

cleanup() {
  local rc=$?
  echo "[ray] stopping Ray (exit status $rc)"
  # Every Ray daemon of this job was started with --block by a process recorded here (locally, or through srun
  # on each node); ending those ends this job's Ray and nothing else on the machine.
  for pid in "${STEP_PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for _ in $(seq 1 30); do
    local alive=0
    for pid in "${STEP_PIDS[@]}"; do
      kill -0 "$pid" 2>/dev/null && alive=1
    done
    [ "$alive" -eq 0 ] && break
    sleep 1
  done
  for pid in "${STEP_PIDS[@]}"; do
    kill -KILL "$pid" 2>/dev/null || true
  done
  exit $rc
}
trap cleanup EXIT
trap 'exit 143' TERM INT

wait_for_nodes() {
  local want=$1
  for _ in $(seq 1 120); do
    local have
    have=$("$PY" -c "import ray; ray.init(address='$RAY_ADDRESS', logging_level='ERROR'); \
print(sum(1 for n in ray.nodes() if n['Alive']))" 2>/dev/null || echo 0)
    if [ "$have" -ge "$want" ]; then
      echo "[ray] $have node(s) up"
      return 0
    fi
    sleep 5
  done
  echo "[ray] only $have of $want node(s) joined within 10 minutes" >&2
  return 1
}

if [ -n "${SLURM_JOB_ID:-}" ] && [ "${SLURM_JOB_NUM_NODES:-1}" -gt 1 ]; then
  mapfile -t NODES < <(scontrol show hostnames "$SLURM_JOB_NODELIST")
  HEAD=${NODES[0]}
  HEAD_IP=$(srun --nodes=1 --ntasks=1 --overlap -w "$HEAD" hostname --ip-address | awk '{print $1}')
  export RAY_ADDRESS="$HEAD_IP:$PORT"
  echo "[ray] head $HEAD ($RAY_ADDRESS), ${#NODES[@]} node(s), $GPUS_PER_NODE GPU(s) per node"
  srun --nodes=1 --ntasks=1 --overlap -w "$HEAD" "$RAY" start --head --node-ip-address="$HEAD_IP" --port="$PORT" \
    --num-gpus="$GPUS_PER_NODE" --num-cpus="$CPUS_PER_NODE" --disable-usage-stats --include-dashboard=false --block &
  STEP_PIDS+=($!)
  sleep 10
  for node in "${NODES[@]:1}"; do
    srun --nodes=1 --ntasks=1 --overlap -w "$node" "$RAY" start --address="$RAY_ADDRESS" \
      --num-gpus="$GPUS_PER_NODE" --num-cpus="$CPUS_PER_NODE" --disable-usage-stats --block &
    STEP_PIDS+=($!)
  done
  wait_for_nodes "${#NODES[@]}"
else
  export RAY_ADDRESS="127.0.0.1:$PORT"
  "$RAY" start --head --node-ip-address=127.0.0.1 --port="$PORT" --num-gpus="$GPUS_PER_NODE" \
    --disable-usage-stats --include-dashboard=false --block &
  STEP_PIDS+=($!)
  wait_for_nodes 1
fi

"$@"
