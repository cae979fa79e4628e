#!/usr/bin/env bash
# Start a Ray cluster for one training job, run a command against it, and stop Ray on exit (success or failure).
#
#   scripts/train_openrlhf_slurm.sh COMMAND [ARGS...]
#
# Inside a multi-node Slurm allocation: the Ray head runs on the first node of the allocation and one Ray
# worker on each other node, each started with `srun` (one task per node, the job's CPUs on the node, all of the
# node's GPUs); COMMAND runs here, on the first node, with RAY_ADDRESS pointing at the head, once every node has
# joined. On one node (a one-node allocation, or a GPU machine without Slurm): a local Ray head.
# Snakemake's slurm executor must run this script once (rule resources `tasks_per_gpu: 0`, and `mpi` for several
# nodes, so the job step is not wrapped in `srun -n1`).
#
# What it guarantees (tests/test_slurm_multinode.py runs it on a two-node Slurm cluster):
# - The allocation (nodes, CPUs on each) is read from Slurm with `scontrol show job`: Snakemake's slurm-jobstep
#   executor removes SLURM_JOB_NODELIST, SLURM_JOB_NUM_NODES and the other SLURM_* variables but the job id from
#   the job's environment, which would otherwise make a two-node job start a one-node Ray cluster.
# - Each Ray node binds to its Slurm node's address (NodeAddr; a host name is resolved here, and asked of the
#   node itself when it resolves to a loopback address) and is given that address explicitly, so no node
#   advertises an address the others cannot reach.
# - Ports of one job do not collide with another job's on a shared node: GCS port RSRL_RAY_PORT (default
#   20000 + 10 * (job id mod 2000)), Ray client server on the next port, dashboard agent (job agent) on the one
#   after; worker processes and everything else bind ports the OS picks (not Ray's shared default range).
# - Every node joins within RSRL_RAY_WAIT_S seconds (default 600), or the script fails naming the nodes that
#   did not join; a head or worker `srun` step that ends before its node joined fails it at once, naming the
#   node and the step's exit status.
# - On exit (COMMAND done or failed, a failed start, SIGTERM from scancel or the time limit) every `srun` step and
#   Ray daemon started here is stopped (SIGTERM, SIGKILL after 30 s), and the exit status is COMMAND's (or 1
#   when Ray did not come up; 143 on SIGTERM).
#
# Environment: RSRL_OPENRLHF_PYTHON  interpreter of the OpenRLHF environment (envs/openrlhf-gpu.txt); its `ray`
#              executable is used. RSRL_RAY_PORT, RSRL_RAY_WAIT_S (above). GPUS_PER_NODE (default: count from
#              nvidia-smi).
set -euo pipefail

PY=${RSRL_OPENRLHF_PYTHON:-python}
RAY="$(dirname "$(command -v "$PY")")/ray"
[ -x "$RAY" ] || RAY=ray
# Jobs sharing a node must not share Ray ports: a block of ports from the Slurm job id unless given.
PORT=${RSRL_RAY_PORT:-$((20000 + ${SLURM_JOB_ID:-0} % 2000 * 10))}
CLIENT_PORT=$((PORT + 1))
AGENT_PORT=$((PORT + 2))
WAIT_S=${RSRL_RAY_WAIT_S:-600}
if [ -z "${GPUS_PER_NODE:-}" ]; then
  GPUS_PER_NODE=$(nvidia-smi --list-gpus 2>/dev/null | wc -l || echo 0)
fi
STEP_PIDS=()   # srun steps (or the local `ray start --block`) started here
STEP_SPECS=()  # role,node,address,pid of each, for the wait below

log() { echo "[ray] $*"; }
die() { echo "[ray] error: $*" >&2; exit 1; }

cleanup() {
  local rc=$?
  trap - EXIT TERM INT
  echo "[ray] stopping Ray (exit status $rc) after $SECONDS s"
  # Every Ray daemon of this job was started with --block by a process recorded here (locally, or through srun
  # on each node); ending those ends this job's Ray and nothing else on the machine (srun passes the signal to
  # its step, whose processes Slurm ends).
  local pid alive
  for pid in "${STEP_PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for _ in $(seq 1 60); do
    alive=0
    for pid in "${STEP_PIDS[@]}"; do
      kill -0 "$pid" 2>/dev/null && alive=1
    done
    [ "$alive" -eq 0 ] && break
    sleep 0.5
  done
  for pid in "${STEP_PIDS[@]}"; do
    kill -KILL "$pid" 2>/dev/null || true
  done
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

# wait_for_nodes: every step in STEP_SPECS has its node in the Ray cluster at $RAY_ADDRESS; fails when WAIT_S
# seconds have passed since START (naming the nodes missing) or when a step ends before (naming its node and its
# exit status).
wait_for_nodes() {
  local rc=0 spec role node pid status
  "$PY" - "$RAY_ADDRESS" "$((WAIT_S - (SECONDS - START)))" "$WAIT_S" "${STEP_SPECS[@]}" <<'PYEOF' || rc=$?
import socket, sys, time, warnings

warnings.simplefilter("ignore", FutureWarning)

addr, left_s, wait_s, specs = sys.argv[1], float(sys.argv[2]), sys.argv[3], [s.split(",") for s in sys.argv[4:]]
deadline = time.monotonic() + left_s


def fail(msg, code):
    print(f"[ray] error: {msg}", file=sys.stderr, flush=True)
    sys.exit(code)


def check_steps():
    # a step that ended is reaped by the shell (gone from /proc) or a zombie
    for role, node, ip, pid in specs:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                if fh.read().rsplit(")", 1)[1].split()[0] not in "ZX":
                    continue
        except OSError:
            pass
        fail(f"the Ray {role} step on node {node} ended before the node joined the cluster", 3)


host, port = addr.rsplit(":", 1)
while True:
    check_steps()
    try:
        socket.create_connection((host, int(port)), timeout=2).close()
        break
    except OSError:
        pass
    if time.monotonic() > deadline:
        fail(f"the Ray head at {addr} (node {specs[0][1]}) did not answer within {wait_s} s", 4)
    time.sleep(0.5)

import ray  # noqa: E402

ray.init(address=addr, logging_level="ERROR", log_to_driver=False)
try:
    while True:
        pool = [n["NodeManagerAddress"] for n in ray.nodes() if n["Alive"]]
        missing = []
        for s in specs:
            if s[2] in pool:
                pool.remove(s[2])
            else:
                missing.append(s)
        # nodes whose address Ray replaced (it replaces 127.0.0.1 by a routable one) stand for the missing ones
        # in order
        missing = missing[len(pool):]
        if not missing:
            print(f"[ray] {len(specs)} node(s) up: " + ", ".join(f"{s[1]} ({s[2]})" for s in specs), flush=True)
            sys.exit(0)
        check_steps()
        if time.monotonic() > deadline:
            fail(f"node(s) {', '.join(s[1] for s in missing)} did not join the Ray cluster at {addr} within "
                 f"{wait_s} s", 5)
        time.sleep(1)
finally:
    ray.shutdown()
PYEOF
  [ "$rc" -eq 0 ] && return 0
  for spec in "${STEP_SPECS[@]}"; do
    IFS=, read -r role node _ pid <<<"$spec"
    if ! kill -0 "$pid" 2>/dev/null; then
      status=0
      wait "$pid" || status=$?
      echo "[ray] error: the $role step on node $node exited with status $status" >&2
    fi
  done
  die "Ray did not come up on every node (RSRL_RAY_WAIT_S=$WAIT_S)"
}

# The allocation, from Slurm (see above: the environment may lack it): its nodes and the job's CPUs on each.
NODES=()
CPUS_PER_NODE=${SLURM_CPUS_ON_NODE:-}
if [ -n "${SLURM_JOB_ID:-}" ]; then
  JOB_INFO=$(scontrol show job -o "$SLURM_JOB_ID") || die "scontrol cannot show job $SLURM_JOB_ID"
  NODELIST=${SLURM_JOB_NODELIST:-$(grep -o ' NodeList=[^ ]*' <<<"$JOB_INFO" | cut -d= -f2)}
  [ -n "$NODELIST" ] || die "no node list for job $SLURM_JOB_ID: $JOB_INFO"
  mapfile -t NODES < <(scontrol show hostnames "$NODELIST")
  if [ -z "$CPUS_PER_NODE" ]; then
    ncpus=$(grep -o ' NumCPUs=[0-9]*' <<<"$JOB_INFO" | cut -d= -f2)
    CPUS_PER_NODE=$(( ${ncpus:-0} / ${#NODES[@]} ))
    [ "$CPUS_PER_NODE" -gt 0 ] || CPUS_PER_NODE=
  fi
fi
CPUS_PER_NODE=${CPUS_PER_NODE:-$(nproc)}
START=$SECONDS  # the wait for the nodes starts here

node_address() {  # IPv4 address by which the other nodes reach Slurm node $1
  local addr ip
  addr=$(scontrol show node -o "$1" | grep -o ' NodeAddr=[^ ]*' | cut -d= -f2)
  addr=${addr:-$1}
  if [[ "$addr" =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
    echo "$addr"
    return
  fi
  ip=$(getent ahostsv4 "$addr" | awk 'NR == 1 {print $1}')
  if [ -z "$ip" ] || [[ "$ip" == 127.* ]]; then
    # unknown here, or the node's own name mapped to loopback in /etc/hosts: ask the node for its address
    ip=$(srun --nodes=1 --ntasks=1 --overlap -w "$1" hostname --all-ip-addresses | tr ' ' '\n' \
      | grep -E '^[0-9]+(\.[0-9]+){3}$' | grep -v '^127\.' | head -1 || true)
  fi
  [ -n "$ip" ] || die "no IPv4 address for node $1 (NodeAddr=$addr)"
  echo "$ip"
}

# Worker ports 0: each Ray worker binds a port the OS picks. Ray's default range (10002-19999) is handed out in
# order by each raylet without looking at what other raylets on the host hold, so two Ray nodes on one host
# (two jobs sharing a node) give the same port to two workers.
RAY_COMMON=(--num-gpus="$GPUS_PER_NODE" --num-cpus="$CPUS_PER_NODE" --dashboard-agent-listen-port="$AGENT_PORT"
            --min-worker-port=0 --max-worker-port=0 --disable-usage-stats --block)
if [ "${#NODES[@]}" -gt 1 ]; then
  HEAD=${NODES[0]}
  HEAD_IP=$(node_address "$HEAD")
  export RAY_ADDRESS="$HEAD_IP:$PORT"
  log "head $HEAD ($RAY_ADDRESS), ${#NODES[@]} node(s) (${NODES[*]}), $GPUS_PER_NODE GPU(s) and $CPUS_PER_NODE CPU(s)" \
      "per node, nodes must join within ${WAIT_S} s"
  srun --nodes=1 --ntasks=1 --cpus-per-task="$CPUS_PER_NODE" --overlap -w "$HEAD" -J ray-head \
    "$RAY" start --head --node-ip-address="$HEAD_IP" --port="$PORT" --ray-client-server-port="$CLIENT_PORT" \
    --include-dashboard=false "${RAY_COMMON[@]}" &
  STEP_PIDS+=($!)
  STEP_SPECS+=("head,$HEAD,$HEAD_IP,$!")
  wait_for_nodes
  for node in "${NODES[@]:1}"; do
    ip=$(node_address "$node")
    srun --nodes=1 --ntasks=1 --cpus-per-task="$CPUS_PER_NODE" --overlap -w "$node" -J ray-worker \
      "$RAY" start --address="$RAY_ADDRESS" --node-ip-address="$ip" "${RAY_COMMON[@]}" &
    STEP_PIDS+=($!)
    STEP_SPECS+=("worker,$node,$ip,$!")
  done
  wait_for_nodes
else
  export RAY_ADDRESS="127.0.0.1:$PORT"
  "$RAY" start --head --node-ip-address=127.0.0.1 --port="$PORT" --ray-client-server-port="$CLIENT_PORT" \
    --include-dashboard=false "${RAY_COMMON[@]}" &
  STEP_PIDS+=($!)
  STEP_SPECS+=("head,${NODES[0]:-$(hostname -s)},127.0.0.1,$!")
  wait_for_nodes
fi

"$@"
