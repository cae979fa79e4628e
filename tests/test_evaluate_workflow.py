"""The evaluate stage end to end through Snakemake on CPU: a tiny locally built model, real benchmark problems.

One workflow directory is shared by the steps of one test (vLLM engines start slowly): a run killed with SIGKILL
mid-way, the resumed run, then a deleted shard recomputed alone and identically.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import run_snakemake

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("RSRL_DATA_DIR", REPO.parent / "shared" / "data")).resolve()
BENCH = "aime24"
CHECKPOINTS = [("tiny", "base", "base"), ("tiny", "ts", "grpo")]


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO / "src") + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env.setdefault("RSRL_VLLM_KV_CACHE_GB", "0.5")
    return env


def _job_counts(dry_run_output: str) -> dict[str, int]:
    counts, on = {}, False
    for line in dry_run_output.splitlines():
        if line.startswith("job ") and "count" in line:
            on = True
            continue
        if on:
            parts = line.split()
            if len(parts) == 2 and parts[1].isdigit():
                if parts[0] == "total":
                    break
                counts[parts[0]] = int(parts[1])
    return counts


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    if not (DATA / "eval" / f"{BENCH}.jsonl").exists():
        pytest.skip(f"local evaluation data not found at {DATA}")
    from rsrl.models import tiny
    from rsrl.prompts import build_prompt

    wd = tmp_path_factory.mktemp("evaluate_wf")
    rows = [json.loads(line) for line in (DATA / "eval" / f"{BENCH}.jsonl").read_text().splitlines() if line]
    bench = pd.DataFrame(
        {
            "id": [f"{BENCH}-{i}" for i in range(len(rows))],
            "problem": [r["problem"] for r in rows],
            "answer": [str(r["answer"]) for r in rows],
            "source": BENCH,
        }
    )
    bench["prompt"] = [build_prompt(p, "qwen_math_boxed") for p in bench["problem"]]
    (wd / "results/data/bench").mkdir(parents=True)
    bench.to_parquet(wd / f"results/data/bench/{BENCH}.parquet")
    # Warm-started on the benchmark itself, so that samples carry boxed answers and some are right.
    base = wd / "results/models/tiny/base"
    tiny.build(bench, tiny.TinySpec(warmstart_steps=60, batch_size=8, max_context=1024, label_noise=0.5), base)
    shutil.copytree(base, wd / "results/train/tiny/ts/grpo/model")
    cfg = {
        "data_dir": str(DATA),
        "models": {
            "tiny": {
                "build": {"hidden_size": 128, "layers": 2, "heads": 2, "vocab_size": 512},
                "size": "cpu",
                "max_context": 1024,
            }
        },
        "size_classes": {"cpu": {"nodes": 1, "gpus_per_node": 0, "cpus_per_gpu": 2, "eval_gpus": 0}},
        "train_sets": {"ts": {"loader": "columns", "local": "eval/aime25.jsonl"}},
        "benchmarks": {BENCH: {"loader": "columns", "local": f"eval/{BENCH}.jsonl"}},
        "grid": [{"models": ["tiny"], "train_sets": ["ts"], "methods": [{"estimator": "grpo"}]}],
        "training": {"trainer": "trl", "n_samples_per_prompt": 2, "learning_rate": 1e-5, "max_steps": 1},
        "evaluation": {
            "temperature": 1.0,
            "top_p": 1.0,
            "max_tokens": 24,
            "seed": 3,
            "samples_per_shard": 4,
            "problem_shards": 1,
            "grader": {"workers": 2, "timeout_s": 3, "deadline_s": 20},
            "per_benchmark": {BENCH: {"n": 8, "limit": 6}},
        },
        "report": {"k_table": [1, 8]},  # pass@k up to n (the default pass@32 needs n >= 32)
    }
    (wd / "config.yaml").write_text(yaml.safe_dump(cfg))
    (wd / "Snakefile").write_text(
        f'configfile: "{wd / "config.yaml"}"\n'
        f'include: "{REPO / "workflow/rules/common.smk"}"\n'
        f'include: "{REPO / "workflow/rules/evaluate.smk"}"\n'
    )
    return wd


def _shards(wd):
    return sorted((wd / "results/eval").glob("*/*/*/*/samples/p*_s*.parquet"))


def test_evaluate_end_to_end_kill_resume_and_rerun_one_shard(workdir):
    wd = workdir
    dry = run_snakemake(wd, "-n", "evaluate", "-j", "1", env=_env(), check=True)
    assert _job_counts(dry.stdout) == {"sample": 4, "grade": 4, "score": 2, "aggregate_eval": 1, "evaluate": 1}

    # 1. Start, SIGKILL the whole run (Snakemake and the running vLLM job) once a sample job has finished.
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "-s",
        str(wd / "Snakefile"),
        "-d",
        str(wd),
        "--cores",
        "2",
        "-j",
        "1",
        "evaluate",
    ]
    log = wd / "killed_run.log"
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, env=_env(), stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 900
        while "(Rule: sample)" not in log.read_text() and time.time() < deadline and proc.poll() is None:
            time.sleep(0.2)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    done = _shards(wd)
    assert 1 <= len(done) < 4, log.read_text()[-3000:]
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in done}
    for p in done:
        pd.read_parquet(p)  # whatever exists is complete (atomic writes)

    # 2. Resume as after any crash (unlock; a job that was running is redone): finished shards are kept.
    run_snakemake(wd, "--unlock", "-j", "1", env=_env(), check=True)
    dry = run_snakemake(wd, "-n", "--rerun-incomplete", "evaluate", "-j", "1", env=_env(), check=True)
    assert _job_counts(dry.stdout)["sample"] <= 4 - 1
    run_snakemake(wd, "--rerun-incomplete", "evaluate", "-j", "1", env=_env(), check=True)
    finished = [p for p in before if f"output: {p.relative_to(wd)}" not in dry.stdout]
    assert finished, "the finished shard was scheduled again"
    for p in finished:
        assert p.stat().st_mtime_ns == before[p][0] and p.read_bytes() == before[p][1]
    shards = _shards(wd)
    assert len(shards) == 4

    # Outputs.
    passk = pd.read_csv(wd / "results/tables/passk.csv", keep_default_na=False, na_values={"step": [""], "seed": [""]})
    assert list(passk.columns) == [
        "model",
        "train_set",
        "method",
        "estimator",
        "params",
        "seed",
        "step",
        "benchmark",
        "k",
        "pass_at_k",
        "ci_low",
        "ci_high",
        "n_problems",
        "n_samples",
    ]
    assert passk.seed.isna().all()  # no seeded cells
    assert sorted(set(zip(passk.model, passk.train_set, passk.method))) == sorted(CHECKPOINTS)
    # estimator and params say what a checkpoint was trained with (empty for the base model); no snapshots
    assert set(zip(passk.method, passk.estimator, passk.params)) == {("base", "", ""), ("grpo", "grpo", "{}")}
    assert passk.step.isna().all()
    assert sorted(passk.k.unique()) == [1, 2, 4, 8] and (passk.n_problems == 6).all() and (passk.n_samples == 8).all()
    summary = pd.read_csv(wd / "results/tables/eval_summary.csv")
    assert len(summary) == 2 and (summary["timeouts"] == 0).all()
    for m, t, meth in CHECKPOINTS:
        d = wd / f"results/eval/{m}/{t}/{meth}/{BENCH}"
        probs = pd.read_parquet(d / "problems.parquet")
        assert len(probs) == 6 and (probs.n == 8).all()
        samples = pd.concat([pd.read_parquet(p) for p in sorted((d / "samples").glob("*.parquet"))])
        assert len(samples) == 48 and samples.seed.is_unique
        assert set(samples.columns) >= {
            "problem_id",
            "sample_idx",
            "completion",
            "extracted",
            "n_tokens",
            "finish_reason",
            "seed",
        }
        assert (samples.n_tokens > 0).all() and samples.finish_reason.isin(["stop", "length"]).all()
        graded = pd.concat([pd.read_parquet(p) for p in sorted((d / "graded").glob("*.parquet"))])
        assert probs.c.sum() == graded.correct.sum()
    # The briefly warm-started model sometimes answers in the boxed format.
    assert samples.extracted.notna().any()

    # 3. Lose one shard: only it (and what depends on it) runs again, with identical samples and metrics.
    victim = wd / f"results/eval/tiny/base/base/{BENCH}/samples/p0_s1.parquet"
    old_samples = pd.read_parquet(victim)
    old_metrics = (wd / f"results/eval/tiny/base/base/{BENCH}/metrics.csv").read_text()
    old_passk = (wd / "results/tables/passk.csv").read_text()
    # As after an interrupted run: the shard and everything downstream of it are missing. (Snakemake does not
    # regenerate a missing intermediate whose downstream outputs are all present.)
    for p in (
        victim,
        victim.parent.parent / "graded" / victim.name,
        victim.parent.parent / "problems.parquet",
        victim.parent.parent / "metrics.csv",
        wd / "results/tables/passk.csv",
        wd / "results/tables/eval_summary.csv",
    ):
        p.unlink()
    dry = run_snakemake(wd, "-n", "evaluate", "-j", "1", env=_env(), check=True)
    assert _job_counts(dry.stdout) == {"sample": 1, "grade": 1, "score": 1, "aggregate_eval": 1, "evaluate": 1}
    assert f"base/base/{BENCH}/samples/p0_s1.parquet" in dry.stdout
    run_snakemake(wd, "evaluate", "-j", "1", env=_env(), check=True)
    pd.testing.assert_frame_equal(pd.read_parquet(victim), old_samples)
    assert (wd / f"results/eval/tiny/base/base/{BENCH}/metrics.csv").read_text() == old_metrics
    assert (wd / "results/tables/passk.csv").read_text() == old_passk


def test_one_sampling_job_per_run_gives_the_same_samples(workdir, tmp_path):
    # evaluation.sample_jobs: run -- one job (one process) per run samples every shard of its checkpoints; the
    # samples are those of one job per shard (each sample has its own seed). Needs the shard-mode run above.
    shard_mode = {p.relative_to(workdir): p for p in _shards(workdir)}
    if len(shard_mode) != 4:
        pytest.skip("needs the shards of test_evaluate_end_to_end_kill_resume_and_rerun_one_shard")
    wd = tmp_path / "wd"
    shutil.copytree(workdir, wd, ignore=shutil.ignore_patterns(".snakemake", "eval", "tables", "logs"))
    (wd / "Snakefile").write_text((workdir / "Snakefile").read_text().replace(str(workdir), str(wd)))
    cfg = yaml.safe_load((wd / "config.yaml").read_text())
    cfg["evaluation"]["sample_jobs"] = "run"
    (wd / "config.yaml").write_text(yaml.safe_dump(cfg))
    dry = run_snakemake(wd, "-n", "evaluate", "-j", "1", env=_env(), check=True)
    assert _job_counts(dry.stdout) == {
        "sample_run_0": 1,
        "sample_run_1": 1,
        "grade": 4,
        "score": 2,
        "aggregate_eval": 1,
        "evaluate": 1,
    }
    # the trained cell's run only (one job, one engine start-up for its two shards)
    run_shards = [str(rel) for rel in shard_mode if "/ts/grpo/" in str(rel)]
    assert len(run_shards) == 2
    run_snakemake(wd, *run_shards, "-j", "1", env=_env(), check=True)
    got = {p.relative_to(wd): p for p in _shards(wd)}
    assert sorted(map(str, got)) == sorted(run_shards)
    for rel, p in got.items():
        pd.testing.assert_frame_equal(pd.read_parquet(p), pd.read_parquet(shard_mode[rel]))
    log = (wd / "logs/eval/tiny/ts/grpo/sample_run.log").read_text()
    assert log.count("engine ready") == 1 and log.count("generated") == 2, log[-2000:]


def test_cpu_engine_settings(paper_config):
    from vllm.platforms import current_platform

    from rsrl.config import validate
    from rsrl.evaluate.sample import engine_kwargs

    kw = engine_kwargs(validate(paper_config), "Qwen2.5-Math-1.5B", "/models/q")
    assert kw["model"] == "/models/q" and kw["seed"] == 1234 and kw["max_model_len"] == 4096
    if current_platform.is_cpu():
        # Seeded sampling on CPU breaks on partial prefills; the KV cache is sized in bytes.
        assert kw["enable_chunked_prefill"] is False and kw["max_num_batched_tokens"] >= 4096
        assert kw["enforce_eager"] and "kv_cache_memory_bytes" in kw and "gpu_memory_utilization" not in kw
    else:
        assert kw["gpu_memory_utilization"] == 0.9


def test_cpu_process_drops_scheduler_thread_counts_and_keeps_the_engine_in_process():
    from rsrl.evaluate.sample import prepare_cpu_process

    # Snakemake exports OMP/MKL thread counts for every job; vLLM's CPU serving loop must not inherit them.
    env = {"OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "2"}
    changed = prepare_cpu_process(env)
    assert env == {"OPENBLAS_NUM_THREADS": "2", "VLLM_ENABLE_V1_MULTIPROCESSING": "0"}
    assert set(changed) == {"OMP_NUM_THREADS", "MKL_NUM_THREADS", "VLLM_ENABLE_V1_MULTIPROCESSING"}
    # a user's explicit choice of engine process is kept
    env = {"VLLM_ENABLE_V1_MULTIPROCESSING": "1"}
    assert prepare_cpu_process(env) == {} and env == {"VLLM_ENABLE_V1_MULTIPROCESSING": "1"}


def test_cpu_sharing_defaults_unbind_engines_and_keep_explicit_choices():
    from rsrl.evaluate.sample import share_cpus

    env = {}
    assert share_cpus(env) == {"VLLM_CPU_OMP_THREADS_BIND": "nobind", "OMP_WAIT_POLICY": "PASSIVE"} == env
    env = {"VLLM_CPU_OMP_THREADS_BIND": "auto", "OMP_WAIT_POLICY": "ACTIVE"}
    assert share_cpus(env) == {} and env == {"VLLM_CPU_OMP_THREADS_BIND": "auto", "OMP_WAIT_POLICY": "ACTIVE"}
