"""Prompt templates. The data stage renders every problem once into the `prompt` column with the config's
top-level `prompt_template`; training and evaluation both take their prompts from :func:`for_model`, which returns
that column unchanged, or, for a model with its own `models.<m>.prompt_template`, renders `problem` with it. A
model is therefore trained and evaluated on the same prompts.

Each template declares the text that ends the assistant's turn (:data:`TEMPLATE_END`); :mod:`rsrl.stops` makes it
a stop sequence of every engine, and :data:`END_OF_TURN_MARKERS` lists every such marker of the known templates
and model families, for cutting a completion at the end of its turn."""

from __future__ import annotations

import pandas as pd

TEMPLATES: dict[str, str] = {
    # Qwen2.5-Math chat format with the boxed-answer system prompt.
    "qwen_math_boxed": (
        "<|im_start|>system\nPlease reason step by step, and put your final answer within \\boxed{{}}.<|im_end|>\n"
        "<|im_start|>user\n{problem}<|im_end|>\n<|im_start|>assistant\n"
    ),
    # Plain completion format for models without a chat template of this shape.
    "plain": "Question: {problem}\nPlease reason step by step, and put your final answer within \\boxed{{}}.\nAnswer:",
}

# The text that ends the assistant's turn in each template. ChatML closes a turn with <|im_end|>; the plain format
# has no closing token, so its answer ends where the model opens the next exchange ("\nQuestion:").
TEMPLATE_END: dict[str, str] = {
    "qwen_math_boxed": "<|im_end|>",
    "plain": "\nQuestion:",
}

# Every text that ends (or, opening a new turn, implies the end of) an assistant turn, over the templates above
# and the model families of the config: ChatML (Qwen), Llama 3 headers, and the end-of-text tokens of both.
END_OF_TURN_MARKERS: tuple[str, ...] = (
    *dict.fromkeys(TEMPLATE_END.values()),
    "<|endoftext|>",
    "<|im_start|>",
    "<|eot_id|>",
    "<|eom_id|>",
    "<|end_of_text|>",
    "<|start_header_id|>",
)


def build_prompt(problem: str, template: str) -> str:
    """Render `problem` with the named template (see :data:`TEMPLATES`)."""
    try:
        fmt = TEMPLATES[template]
    except KeyError:
        raise ValueError(
            f"unknown prompt template {template!r}; allowed templates are {sorted(TEMPLATES)} "
            "(config key prompt_template)."
        ) from None
    return fmt.format(problem=problem)


def model_template(cfg: dict, model: str | None = None) -> str:
    """The template of `model`: `models.<model>.prompt_template`, else (and for no model) the top-level
    `prompt_template`, which the data stage renders the `prompt` column with."""
    top = cfg.get("prompt_template", "qwen_math_boxed")
    return cfg["models"].get(model, {}).get("prompt_template", top) if model else top


def for_model(df: pd.DataFrame, cfg: dict, model: str | None) -> pd.DataFrame:
    """`df` (a prepared training set or benchmark) with its `prompt` column in `model`'s template."""
    want = model_template(cfg, model)
    if want == model_template(cfg):
        return df
    if "problem" not in df.columns:
        raise ValueError(
            f"model {model!r} uses prompt template {want!r} (config key models.{model}.prompt_template), "
            "which is rendered from the `problem` column, but the table has none; rebuild it with the "
            "data stage."
        )
    out = df.copy()
    out["prompt"] = [build_prompt(p, want) for p in out["problem"].astype(str)]
    return out
