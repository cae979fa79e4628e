"""The grader's public entry points, kept importable from their historical place; the code is
:mod:`rsrl.grading`."""

from rsrl.grading.batch import Grader, GradeStats
from rsrl.grading.classes import answer_class_ids
from rsrl.grading.normalize import END_OF_TURN_MARKERS, cut_at_end_of_turn, gold_latex, prepare
from rsrl.grading.pool import WorkerStartError
from rsrl.grading.reward import reward, rewards
from rsrl.grading.settings import CLASS_CAP, DEFAULTS
from rsrl.grading.verify import extraction_config, extraction_key, grade_one, grade_sequential, verify

__all__ = [
    "Grader",
    "GradeStats",
    "reward",
    "rewards",
    "grade_sequential",
    "grade_one",
    "prepare",
    "cut_at_end_of_turn",
    "gold_latex",
    "END_OF_TURN_MARKERS",
    "DEFAULTS",
    "CLASS_CAP",
    "extraction_config",
    "extraction_key",
    "verify",
    "answer_class_ids",
    "WorkerStartError",
]
