"""Prompt templates. The data stage renders every problem once into the `prompt` column; training and
evaluation both read that column, so the two can never use different prompts."""

from __future__ import annotations

TEMPLATES: dict[str, str] = {
    # Qwen2.5-Math chat format with the boxed-answer system prompt.
    "qwen_math_boxed": (
        "<|im_start|>system\nPlease reason step by step, and put your final answer within \\boxed{{}}.<|im_end|>\n"
        "<|im_start|>user\n{problem}<|im_end|>\n<|im_start|>assistant\n"
    ),
    # Plain completion format for models without a chat template of this shape.
    "plain": "Question: {problem}\nPlease reason step by step, and put your final answer within \\boxed{{}}.\nAnswer:",
}


def build_prompt(problem: str, template: str) -> str:
    """Render `problem` with the named template (see :data:`TEMPLATES`)."""
    try:
        fmt = TEMPLATES[template]
    except KeyError:
        raise ValueError(f"unknown prompt template {template!r}; allowed templates are {sorted(TEMPLATES)} "
                         "(config key prompt_template).") from None
    return fmt.format(problem=problem)
