"""The grader's settings: their defaults are those of ``evaluation.grader`` in the config schema."""

from __future__ import annotations

import json

from rsrl.config import SCHEMA_PATH


def _schema_defaults() -> dict:
    schema = json.loads(SCHEMA_PATH.read_text())
    props = schema["properties"]["evaluation"]["properties"]["grader"]["properties"]
    return {k: v["default"] for k, v in props.items() if "default" in v}


#: Defaults of the grader settings (``boxed_only``, ``timeout_s``, ``deadline_s``, ``workers``).
DEFAULTS: dict = _schema_defaults()

#: Most distinct wrong answers of one problem (per graded shard) grouped into classes by verification.
CLASS_CAP = 64
