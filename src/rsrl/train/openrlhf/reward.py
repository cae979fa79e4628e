"""The reward OpenRLHF loads with ``--reward.remote_url <this file>``: 1.0 for a correct boxed answer, else 0.0.

OpenRLHF 0.11.2 imports this file by path inside each vLLM rollout actor and calls
``reward_func(queries, prompts, labels)`` once per sample, from worker threads (``asyncio.to_thread``), with one
query (prompt + response text, special tokens kept), its prompt and its label (the gold answer). Grading is the
evaluation's own (:func:`rsrl.grading.reward.reward`: math-verify, boxed answers only, timeouts in a process pool), so a
training reward and an evaluation verdict can never disagree.

The function is thread-safe and never raises: OpenRLHF swallows exceptions from it and later fails without
naming the cause, so any error is logged here and scores 0. The reward is returned as a float (a Python list
would give the reward tensor the wrong shape).

Grader settings come from the environment the launcher sets (``RSRL_GRADER_BOXED_ONLY``, ``RSRL_GRADER_TIMEOUT_S``,
from the config's ``evaluation.grader``; unset, the config schema's defaults). The response is cut at its first
end-of-turn marker before grading, so a hallucinated next turn with its own ``\\boxed{}`` does not count. An
import error is *not* swallowed: it stops the rollout actor at start-up, which is where a broken environment should
surface.
"""

from __future__ import annotations

import logging
import os

from rsrl.grading.reward import reward as _grade
from rsrl.grading.settings import DEFAULTS

log = logging.getLogger("rsrl.train.reward")

BOXED_ONLY = os.environ.get("RSRL_GRADER_BOXED_ONLY", str(int(DEFAULTS["boxed_only"]))) not in ("0", "false", "False")
TIMEOUT_S = float(os.environ.get("RSRL_GRADER_TIMEOUT_S", DEFAULTS["timeout_s"]))
#: Characters of the prompt used to find where the response starts in the decoded query.
_TAIL = 64


def response_text(query: str, prompt: str) -> str:
    """The generated part of a decoded query (prompt + response)."""
    if query.startswith(prompt):
        return query[len(prompt) :]
    tail = prompt[-_TAIL:]
    i = query.rfind(tail) if tail else -1
    return query[i + len(tail) :] if i >= 0 else query


def score(query: str, prompt: str, label: str) -> float:
    try:
        return float(_grade(response_text(query, prompt), str(label), boxed_only=BOXED_ONLY, timeout_s=TIMEOUT_S))
    except Exception:  # never raise into OpenRLHF (it would swallow the error and fail later, obscurely)
        log.exception("grading failed; scoring 0 (label %r)", label)
        return 0.0


def reward_func(queries, prompts, labels) -> dict:
    """OpenRLHF's remote-reward entry point (called with one sample)."""
    try:
        r = score(queries[0], prompts[0], labels[0]) if queries else 0.0
    except Exception:
        log.exception("reward_func failed; scoring 0")
        r = 0.0
    return {"rewards": r, "scores": r, "extra_logs": {"correct": r}}
