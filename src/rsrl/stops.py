"""Where a completion ends: the stop sequences of a model, applied alike by every engine that samples from it.

A model's stop sequences are, in this order and without repeats,

1. the end-of-turn marker of its prompt template (:data:`rsrl.prompts.TEMPLATE_END`: ``<|im_end|>`` for
   ``qwen_math_boxed``, ``"\\nQuestion:"`` for ``plain``);
2. the tokenizer's ``eos_token`` (``tokenizer_config.json``, else ``special_tokens_map.json``);
3. every ``eos_token_id`` of ``generation_config.json`` (an id or a list), as its token text;
4. the ``eos_token_id`` of ``config.json``.

Published checkpoints disagree among these files (a Qwen base model's tokenizer may name ``<|im_end|>`` while its
generation config names ``<|endoftext|>``; Llama-3.1-Instruct's generation config lists three end tokens, its
tokenizer one), and a base model prompted with a chat template ends its turn with the template's marker, which no
file names. The union stops at whichever comes first. ``models.<m>.stop`` in the config replaces the derived list.

Engines match text and token ids differently: vLLM compares stop *strings* with the detokenized text (from which
special tokens are skipped) and stop *token ids* with the sampled ids; transformers' ``generate`` stops on
``eos_token_id``. :class:`Stops` therefore carries both: every stop text, and the ids of those texts that are
special (added) tokens of the tokenizer. Where they are applied: ``SamplingParams(stop=..., stop_token_ids=...)``
in evaluation (:mod:`rsrl.evaluate.sample`), the policy's ``generation_config.eos_token_id`` in TRL training
(:mod:`rsrl.train.trl_trainer`, token ids only), and the stop seam of :mod:`rsrl.train.openrlhf.patch` in
OpenRLHF rollouts, whose 0.11.2 command line has no stop flag.

The files are read as JSON from the model directory, or from the hub for a hub id (three small files, no
weights), so no tokenizer needs to be built.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from rsrl.prompts import TEMPLATE_END, model_template

TOKENIZER_CONFIG = "tokenizer_config.json"
SPECIAL_TOKENS_MAP = "special_tokens_map.json"
TOKENIZER_JSON = "tokenizer.json"
GENERATION_CONFIG = "generation_config.json"
MODEL_CONFIG = "config.json"


@dataclass(frozen=True)
class Stops:
    """A model's stop sequences: every stop text, the token ids of the special tokens among them (and of
    end-of-sequence ids whose text the tokenizer files do not name), and the texts that are no single token."""

    strings: tuple[str, ...]
    token_ids: tuple[int, ...]
    text_only: tuple[str, ...]


def read_model_json(model_path: str | Path, filename: str) -> dict | None:
    """`filename` of a model directory, or of a hub repository by id; None if the model has no such file."""
    p = Path(model_path)
    if p.is_dir():
        f = p / filename
        if not f.is_file():
            return None
        where = str(f)
        text = f.read_text(encoding="utf-8")
    else:
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import EntryNotFoundError

        if p.exists() or p.is_absolute() or str(model_path).startswith(".") or str(model_path).count("/") != 1:
            raise FileNotFoundError(
                f"model directory {model_path} does not exist (nor is it a hub id "
                "<owner>/<name>); build or download the model first."
            )

        try:
            local = hf_hub_download(str(model_path), filename)
        except EntryNotFoundError:
            return None
        where = f"hub:{model_path}/{filename}"
        text = Path(local).read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{where}: not valid JSON ({exc.msg} at line {exc.lineno}).") from None
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected a JSON object.")
    return data


def _token_text(value) -> str | None:
    """A special token as written in tokenizer files: a string, or an AddedToken object ``{"content": ...}``."""
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) and value else None


def _ids(value) -> list[int]:
    """An ``eos_token_id`` field (an id, a list of ids, or absent) as a list."""
    if value is None:
        return []
    values = value if isinstance(value, list) else [value]
    return [int(v) for v in values if isinstance(v, int) and not isinstance(v, bool)]


def added_tokens(model_path: str | Path) -> dict[str, int]:
    """The tokenizer's added (special) tokens, text -> id: ``added_tokens_decoder`` of ``tokenizer_config.json``,
    else ``added_tokens`` of ``tokenizer.json``."""
    tc = read_model_json(model_path, TOKENIZER_CONFIG) or {}
    out = {_token_text(t): int(i) for i, t in (tc.get("added_tokens_decoder") or {}).items() if _token_text(t)}
    if not out:
        tj = read_model_json(model_path, TOKENIZER_JSON) or {}
        out = {
            _token_text(t): t["id"]
            for t in tj.get("added_tokens", [])
            if isinstance(t, dict) and isinstance(t.get("id"), int) and _token_text(t)
        }
    return out


def derive(template: str, model_path: str | Path, override: list[str] | None = None) -> Stops:
    """The stop sequences of the model at `model_path` prompted with `template` (see the module docstring)."""
    added = added_tokens(model_path)
    by_id = {i: t for t, i in added.items()}
    extra_ids: list[int] = []
    if override is not None:
        texts = list(override)
    else:
        texts = [TEMPLATE_END[template]]
        tc = read_model_json(model_path, TOKENIZER_CONFIG) or {}
        stm = read_model_json(model_path, SPECIAL_TOKENS_MAP) or {}
        eos = _token_text(tc.get("eos_token")) or _token_text(stm.get("eos_token"))
        if eos:
            texts.append(eos)
        gen = read_model_json(model_path, GENERATION_CONFIG) or {}
        mc = read_model_json(model_path, MODEL_CONFIG) or {}
        for i in _ids(gen.get("eos_token_id")) + _ids(mc.get("eos_token_id")):
            if i in by_id:
                texts.append(by_id[i])
            else:
                extra_ids.append(i)
    strings = tuple(dict.fromkeys(texts))
    ids = tuple(dict.fromkeys([added[s] for s in strings if s in added] + extra_ids))
    return Stops(strings, ids, tuple(s for s in strings if s not in added))


def resolve(cfg: dict, model: str | None, model_path: str | Path) -> Stops:
    """`model`'s stop sequences for the checkpoint at `model_path` (a directory or hub id): its template's end
    marker and the checkpoint's end-of-sequence tokens, or ``models.<model>.stop`` when the config sets it."""
    override = cfg["models"].get(model, {}).get("stop") if model else None
    return derive(model_template(cfg, model), model_path, override)


def stop_sequences(cfg: dict, model: str | None, model_path: str | Path) -> list[str]:
    """Every stop text of `model` (see :func:`resolve`)."""
    return list(resolve(cfg, model, model_path).strings)


def stop_token_ids(cfg: dict, model: str | None, model_path: str | Path) -> list[int]:
    """The token ids of `model`'s stop texts that are special tokens (see :func:`resolve`)."""
    return list(resolve(cfg, model, model_path).token_ids)
