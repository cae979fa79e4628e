"""Data stage: training sets and benchmarks in one schema (see :mod:`rsrl.data.schema`).

Entry points: :func:`rsrl.data.prepare.prepare` (one output), :func:`rsrl.prompts.build_prompt`.
"""

from rsrl.data.schema import REQUIRED, DataError
from rsrl.prompts import TEMPLATES, build_prompt

__all__ = ["TEMPLATES", "build_prompt", "REQUIRED", "DataError"]
