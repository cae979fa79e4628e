"""Grading: what "correct" means. A completion's final answer is verified against the gold answer with
math-verify, after normalisation.

One module per job:

* :mod:`~rsrl.grading.boxes` — where the boxed answers of a text are (the pipeline's one box reader);
* :mod:`~rsrl.grading.normalize` — the text math-verify reads: end-of-turn cut, self-corrections, plus-minus,
  underlines (:func:`prepare`);
* :mod:`~rsrl.grading.forms` — answer forms: box-content rewrites (punctuation, separators, scientific forms,
  units, degrees, infinity) and the gold-aware readers (numerals with a base, answer choices, several values);
* :mod:`~rsrl.grading.numeric` — numeric equality: integers exactly, otherwise a relative tolerance of 1e-8;
* :mod:`~rsrl.grading.verify` — math-verify calls with alarms: verdicts with the gold-aware rules (:func:`judge`),
  extraction keys (:func:`grade_one`);
* :mod:`~rsrl.grading.classes` — answers grouped by math equivalence (majority votes, diversity);
* :mod:`~rsrl.grading.pool` — the worker processes with deadlines that every call runs in;
* :mod:`~rsrl.grading.batch` — many completions at once, de-duplicated (:class:`Grader`, evaluation);
* :mod:`~rsrl.grading.reward` — one verdict as an RL reward, for both trainers (:func:`reward`, :func:`rewards`);
* :mod:`~rsrl.grading.gold` — whether a gold answer is gradable (the data stage);
* :mod:`~rsrl.grading.settings` — the settings' defaults (the config schema's ``evaluation.grader``).

Evaluation and both trainers' rewards go through the same :func:`prepare` and :func:`grade_one`, so a verdict
never depends on where it is computed.
"""
