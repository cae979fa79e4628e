"""A tiny Qwen2 policy built locally: byte-level BPE tokenizer, model, and a supervised warm start.

The demo and the tests need a policy that runs the whole pipeline (TRL, vLLM on CPU, evaluation) in seconds and
that shows the paper's exploration dilemma at small scale: after the warm start the policy answers in the
expected format (``... \\boxed{ANSWER}<|im_end|>``) but solves some problems only rarely per sample. The warm
start trains on the training set with two kinds of wrong targets: `label_noise`, a share of nearby wrong answers
spread over all problems; and `misconception`, on the synthetic sums that need a carry, a share of targets that
drop the carry (7 + 5 -> 2, :func:`rsrl.data.loaders.synthetic.carry_free_sum`). With a large misconception share
the policy is sharply peaked on one wrong answer for those problems, the right answer rare but present: the
paper's exploration dilemma (a dominant wrong mode), while the problems without a carry are solved reliably.

Architecture (fixed by what vLLM's CPU backend accepts): head_dim 64, one key/value head, tied embeddings.
"""

from __future__ import annotations

import logging
import math
import random
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

ENDOFTEXT = "<|endoftext|>"
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
SPECIAL_TOKENS = [ENDOFTEXT, IM_START, IM_END]

#: head_dim of the tiny models; vLLM's CPU attention rejects small head sizes (16 fails, 64 works).
HEAD_DIM = 64


@dataclass(frozen=True)
class TinySpec:
    """The `models.<name>.build` block of the config, with defaults."""

    hidden_size: int = 128
    layers: int = 2
    heads: int = 2
    vocab_size: int = 512
    warmstart_steps: int = 300
    warmstart_lr: float = 3e-3
    seed: int = 0
    max_context: int = 512
    #: Share of warm-start targets whose answer is replaced by a nearby wrong one (keeps pass@1 low, pass@k high).
    label_noise: float = 0.3
    #: Share of warm-start targets of synthetic sums with a carry that drop the carry (a dominant wrong mode).
    misconception: float = 0.0
    #: Warm-start targets drawn per problem: with more than one, each problem's targets follow the noise and
    #: misconception shares (a distribution over answers) instead of being one fixed draw per problem.
    targets_per_problem: int = 1
    batch_size: int = 32

    @classmethod
    def from_config(cls, cfg: dict, model: str) -> TinySpec:
        entry = cfg["models"][model]
        if "build" not in entry:
            raise ValueError(
                f"config key models.{model}: has no 'build' block; only locally built models "
                "can be built (hub models are loaded by hf_id)."
            )
        b = dict(entry["build"])
        b.pop("warmstart_set", None)
        known = {f for f in cls.__dataclass_fields__}
        spec = cls(
            **{k: v for k, v in b.items() if k in known}, max_context=int(entry.get("max_context", cls.max_context))
        )
        if spec.hidden_size % spec.heads or spec.hidden_size // spec.heads != HEAD_DIM:
            raise ValueError(
                f"config key models.{model}.build: hidden_size/heads must be {HEAD_DIM} (vLLM's CPU "
                f"attention needs head_dim {HEAD_DIM}); got hidden_size={spec.hidden_size}, "
                f"heads={spec.heads}."
            )
        return spec


def warmstart_set(cfg: dict, model: str) -> str:
    """Training set a built model's tokenizer and warm start learn from.

    `models.<m>.build.warmstart_set` if given, else the first training set the grid pairs with the model.
    """
    b = cfg["models"][model].get("build", {})
    if b.get("warmstart_set"):
        ts = b["warmstart_set"]
        if ts not in cfg["train_sets"]:
            raise ValueError(
                f"config key models.{model}.build.warmstart_set: unknown training set {ts!r}; "
                f"configured training sets are {sorted(cfg['train_sets'])}."
            )
        return ts
    for block in cfg["grid"]:
        if model in block["models"]:
            return block["train_sets"][0]
    raise ValueError(
        f"config key models.{model}.build: the model is in no grid block, so it has no training set "
        "to warm-start from; set models.{model}.build.warmstart_set."
    )


# ---------------------------------------------------------------------------------------------------------------
# Tokenizer


def train_tokenizer(texts: list[str], vocab_size: int):
    """Byte-level BPE with the chat special tokens, trained on `texts`, as a ``PreTrainedTokenizerFast``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    # Digits are single tokens (as in Qwen2's tokenizer), so every number is spelled the same way.
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    # Special tokens appear literally in rendered prompts; split them out so merges never span them.
    pattern = re.compile("|".join(re.escape(t) for t in SPECIAL_TOKENS))
    tok.train_from_iterator((piece for t in texts for piece in pattern.split(t) if piece), trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token=IM_END,
        pad_token=ENDOFTEXT,
        unk_token=None,
        bos_token=None,
        model_max_length=1 << 20,
        clean_up_tokenization_spaces=False,
    )


# ---------------------------------------------------------------------------------------------------------------
# Model


def build_model(spec: TinySpec, tokenizer):
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(spec.seed)
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=spec.hidden_size,
        intermediate_size=2 * spec.hidden_size,
        num_hidden_layers=spec.layers,
        num_attention_heads=spec.heads,
        num_key_value_heads=1,
        head_dim=spec.hidden_size // spec.heads,
        max_position_embeddings=spec.max_context,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.convert_tokens_to_ids(ENDOFTEXT),
        eos_token_id=tokenizer.convert_tokens_to_ids(IM_END),
        pad_token_id=tokenizer.convert_tokens_to_ids(ENDOFTEXT),
        dtype="float32",
    )
    model = Qwen2ForCausalLM(config)
    model.generation_config = GenerationConfig(
        eos_token_id=config.eos_token_id, pad_token_id=config.pad_token_id, bos_token_id=config.bos_token_id
    )
    return model


def _solution_prefix(row) -> str:
    sol = row.get("solution") if hasattr(row, "get") else None
    if isinstance(sol, str) and sol.strip() and "\\boxed" not in sol:
        return sol.strip() + " "
    return "The answer is "


def warmstart_targets(
    df: pd.DataFrame, label_noise: float, rng: random.Random, misconception: float = 0.0
) -> list[tuple[str, str]]:
    """(prompt, target) pairs: ``"<text> \\boxed{ANSWER}<|im_end|>"``; on a synthetic sum with a carry a
    `misconception` share drops the carry, elsewhere a `label_noise` share has a nearby wrong answer."""
    from rsrl.data.loaders.synthetic import carry_free_sum, summands

    answers = df["answer"].astype(str).tolist()
    pairs = []
    for row in df.to_dict("records"):
        ans = str(row["answer"])
        values = summands(str(row["problem"])) if misconception else None
        wrong_mode = str(carry_free_sum(values)) if values else ans
        if wrong_mode != ans:
            if rng.random() < misconception:
                ans = wrong_mode
        elif rng.random() < label_noise:
            ans = _perturb(ans, answers, rng)
        pairs.append((row["prompt"], f"{_solution_prefix(row)}\\boxed{{{ans}}}{IM_END}"))
    return pairs


def _perturb(ans: str, pool: list[str], rng: random.Random) -> str:
    """A plausible wrong answer: a nearby integer for integers, another problem's answer otherwise."""
    try:
        v = int(ans)
    except ValueError:
        cands = [a for a in pool if a != ans]
        return rng.choice(cands) if cands else ans
    d = rng.choice([-3, -2, -1, 1, 2, 3, 10, -10])
    return str(v + d)


def warm_start(model, tokenizer, pairs: list[tuple[str, str]], spec: TinySpec) -> list[float]:
    """Supervised training on the target tokens (prompt tokens masked); returns the loss per step."""
    import torch
    from tqdm import tqdm

    if spec.warmstart_steps == 0 or not pairs:
        return []
    torch.manual_seed(spec.seed)
    rng = np.random.default_rng(spec.seed)
    pad = tokenizer.pad_token_id
    enc = []
    for prompt, target in pairs:
        p = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        t = tokenizer(target, add_special_tokens=False)["input_ids"]
        ids = (p + t)[: spec.max_context]
        labels = ([-100] * len(p) + t)[: spec.max_context]
        enc.append((ids, labels))
    opt = torch.optim.AdamW(model.parameters(), lr=spec.warmstart_lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / 20) * 0.5 * (1 + math.cos(math.pi * s / spec.warmstart_steps))
    )
    model.train()
    losses = []
    for _ in tqdm(range(spec.warmstart_steps), desc="warm start", mininterval=5):
        idx = rng.integers(0, len(enc), size=min(spec.batch_size, len(enc)))
        batch = [enc[i] for i in idx]
        width = max(len(ids) for ids, _ in batch)
        input_ids = torch.full((len(batch), width), pad, dtype=torch.long)
        labels = torch.full((len(batch), width), -100, dtype=torch.long)
        attn = torch.zeros((len(batch), width), dtype=torch.long)
        for i, (ids, lab) in enumerate(batch):
            input_ids[i, : len(ids)] = torch.tensor(ids)
            labels[i, : len(lab)] = torch.tensor(lab)
            attn[i, : len(ids)] = 1
        out = model(input_ids=input_ids, attention_mask=attn, labels=labels)
        opt.zero_grad()
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(float(out.loss))
    model.eval()
    return losses


def build(train_df: pd.DataFrame, spec: TinySpec, out_dir: str | Path) -> dict:
    """Train the tokenizer, build and warm-start the model, save both to `out_dir` (an HF directory).

    Returns a summary (parameter count, final warm-start loss) that is also saved as ``build_info.json``.
    """
    import json

    rng = random.Random(spec.seed)
    texts = train_df["prompt"].astype(str).tolist() + [t for _, t in warmstart_targets(train_df, 0.0, rng)]
    tokenizer = train_tokenizer(texts, spec.vocab_size)
    model = build_model(spec, tokenizer)
    pairs = warmstart_targets(
        pd.concat([train_df] * spec.targets_per_problem, ignore_index=True),
        spec.label_noise,
        random.Random(spec.seed + 1),
        spec.misconception,
    )
    losses = warm_start(model, tokenizer, pairs, spec)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    info = {
        "parameters": int(sum(p.numel() for p in model.parameters())),
        "vocab_size": len(tokenizer),
        "warmstart_steps": spec.warmstart_steps,
        "warmstart_loss_first": losses[0] if losses else None,
        "warmstart_loss_last": float(np.mean(losses[-20:])) if losses else None,
        "train_rows": len(train_df),
        "spec": spec.__dict__,
    }
    (out_dir / "build_info.json").write_text(json.dumps(info, indent=2) + "\n")
    log.info("built tiny model: %s", info)
    return info
