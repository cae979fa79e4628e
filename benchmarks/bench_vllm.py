"""Sampling throughput of the evaluation engine (vLLM offline, as rsrl.evaluate.sample runs it) on a tiny model,
against Hugging Face transformers' ``generate`` on the same model and prompts.

A tiny Qwen2 (rsrl.models.tiny, random weights, no warm start) is built in a temporary directory; both engines
sample ``--prompts`` x ``--n`` completions of exactly ``--max-tokens`` tokens (end of sequence ignored), with one
seed per sample for vLLM as in evaluation.

    python benchmarks/bench_vllm.py
    python benchmarks/bench_vllm.py --prompts 32 --n 64 --max-tokens 256
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))


def build_model(out: Path, data_dir: Path, max_context: int) -> list[str]:
    from rsrl.models import tiny
    from rsrl.prompts import build_prompt

    rows = [json.loads(line) for line in (data_dir / "eval" / "math500.jsonl").read_text().splitlines() if line]
    prompts = [build_prompt(r["problem"], "qwen_math_boxed") for r in rows]
    tok = tiny.train_tokenizer(prompts, 512)
    model = tiny.build_model(tiny.TinySpec(max_context=max_context), tok)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return prompts


def tiny_config() -> dict:
    """A validated config whose model `tiny` (max_context 1024) is sampled on CPU with evaluation seed 0."""
    from rsrl.config import validate

    return validate(
        {
            "models": {"tiny": {"build": {}, "size": "cpu", "max_context": 1024}},
            "size_classes": {"cpu": {"nodes": 1, "gpus_per_node": 0, "eval_gpus": 0}},
            "train_sets": {"t": {"loader": "synthetic"}},
            "benchmarks": {"b": {"loader": "synthetic"}},
            "grid": [{"models": ["tiny"], "train_sets": ["t"], "methods": [{"estimator": "grpo"}]}],
            "training": {"trainer": "trl", "n_samples_per_prompt": 2, "learning_rate": 1e-6, "max_steps": 1},
            "evaluation": {"seed": 0},
        }
    )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=str(REPO.parent / "shared" / "data"))
    ap.add_argument("--prompts", type=int, default=16)
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--hf-batch", type=int, default=64, help="transformers: sequences per generate call")
    ap.add_argument("--hf-sequences", type=int, default=128, help="transformers: sequences to time")
    args = ap.parse_args(argv)

    from vllm import SamplingParams

    from rsrl.evaluate.sample import build_engine
    from rsrl.evaluate.shards import sample_seeds

    with tempfile.TemporaryDirectory(prefix="bench_vllm_") as tmp:
        model_dir = Path(tmp) / "tiny"
        prompts = build_model(model_dir, Path(args.data_dir), 1024)[: args.prompts]
        cfg = tiny_config()
        t0 = time.perf_counter()
        llm = build_engine(cfg, "tiny", str(model_dir))
        t_start = time.perf_counter() - t0
        reqs, params = [], []
        for i, p in enumerate(prompts):
            for seed in sample_seeds(0, str(i), 0, args.n):
                reqs.append(p)
                params.append(
                    SamplingParams(
                        n=1, seed=int(seed), temperature=1.0, top_p=1.0, max_tokens=args.max_tokens, ignore_eos=True
                    )
                )
        llm.generate(reqs[:8], params[:8], use_tqdm=False)  # warm-up
        t0 = time.perf_counter()
        outs = llm.generate(reqs, params, use_tqdm=False)
        t_vllm = time.perf_counter() - t0
        tok_vllm = sum(len(o.outputs[0].token_ids) for o in outs)
        del llm

        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tok = AutoTokenizer.from_pretrained(model_dir)
        tok.padding_side = "left"
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
        torch.manual_seed(0)
        n_hf = 0
        t0 = time.perf_counter()
        with torch.no_grad():
            while n_hf < args.hf_sequences:
                batch = [reqs[(n_hf + j) % len(reqs)] for j in range(args.hf_batch)]
                enc = tok(batch, return_tensors="pt", padding=True)
                model.generate(
                    **enc,
                    do_sample=True,
                    temperature=1.0,
                    top_p=1.0,
                    max_new_tokens=args.max_tokens,
                    min_new_tokens=args.max_tokens,
                    pad_token_id=tok.pad_token_id,
                )
                n_hf += len(batch)
        t_hf = time.perf_counter() - t0
        tok_hf = n_hf * args.max_tokens

    print(
        f"tiny Qwen2 ({args.prompts} prompts x n={args.n}, {args.max_tokens} new tokens each; vLLM engine start "
        f"{t_start:.1f} s, not included)"
    )
    print(f"{'engine':<34}{'sequences':>10}{'tokens':>10}{'seconds':>9}{'tokens/s':>11}{'speedup':>9}")
    print(
        f"{f'transformers generate (batch {args.hf_batch})':<34}{n_hf:>10}{tok_hf:>10}{t_hf:>9.1f}"
        f"{tok_hf / t_hf:>11.0f}{1:>9.1f}"
    )
    print(
        f"{'vLLM offline (seed per sample)':<34}{len(outs):>10}{tok_vllm:>10}{t_vllm:>9.1f}{tok_vllm / t_vllm:>11.0f}"
        f"{(tok_vllm / t_vllm) / (tok_hf / t_hf):>9.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
