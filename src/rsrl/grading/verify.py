"""math-verify calls: parsing with alarms, verdicts, extraction keys. They run inside grading workers (where
``signal.alarm`` works) and are usable in-process.

A verdict is that of the plain loop :func:`grade_sequential`::

    p = prepare_full(completion)
    judge(gold, parse(prepare(gold_latex(gold))), p, parse(p.text, extraction_config=CFG), T)

with ``CFG`` boxed-only by default (``LatexExtractionConfig(boxed_match_priority=0,
try_extract_without_anchor=False)``: a ``\\boxed{}`` answer, or a math environment anchored by "final answer" or
"answer:"; never a bare number in the text). ``boxed_only=False`` uses math-verify's default extraction
(LaTeX and plain expressions anywhere), which credits answers a truncated completion merely mentions.
:func:`verify` compares an inequality in one variable with a set as the set it describes
(math-verify's ``allow_set_relation_comp``: ``2 \\le x < 5`` equals ``[2, 5)``) and numbers under the numeric
policy of :mod:`rsrl.grading.numeric`; :func:`judge` adds the gold-aware rules (numerals with a base, answer
choices, several values).

*Extraction keys* (:func:`extraction_key`): ``parse`` looks at a completion only through the regex matches of
math-verify's extraction patterns; the key is exactly that ordered list of matches without their positions, so
completions with equal keys parse to the same answer (the batch grader verifies each distinct key once).
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import math
import pickle
from collections.abc import Sequence

from rsrl.grading import forms
from rsrl.grading.normalize import MAX_BOXES, Prepared, gold_latex, prepare, prepare_full
from rsrl.grading.numeric import policy
from rsrl.grading.settings import DEFAULTS


def extraction_config(boxed_only: bool) -> tuple:
    """math-verify extraction targets: boxed-only or math-verify's default (LaTeX + expressions)."""
    from math_verify import ExprExtractionConfig, LatexExtractionConfig

    if boxed_only:
        return (LatexExtractionConfig(boxed_match_priority=0, try_extract_without_anchor=False),)
    return (LatexExtractionConfig(), ExprExtractionConfig())


_CONFIGS: dict[bool, tuple] = {}


def config_of(boxed_only: bool) -> tuple:
    if boxed_only not in _CONFIGS:
        _CONFIGS[boxed_only] = extraction_config(boxed_only)
    return _CONFIGS[boxed_only]


def alarm_seconds(timeout_s: float) -> int:
    return max(1, int(math.ceil(timeout_s)))


_ANSWERS: dict[tuple[str, int], list] = {}  # parses of answer strings, per process
CACHE_SIZE = 65536


def parse_answer(answer: str, t: int) -> list:
    """math-verify's parse of a gold (or extracted) answer string, prepared like a completion (cached unless it
    timed out)."""
    from math_verify import parse

    key = (answer, t)
    if key in _ANSWERS:
        return _ANSWERS[key]
    counter = timeout_counter()
    before = counter.count
    parsed = parse(_answer_latex(answer), parsing_timeout=t)
    if counter.count == before:
        if len(_ANSWERS) > CACHE_SIZE:
            _ANSWERS.clear()
        _ANSWERS[key] = parsed
    return parsed


def _answer_latex(answer: str) -> str:
    return prepare(gold_latex(answer))


def verify(gold: list, pred: list, t: int) -> bool:
    """math-verify's verdict on parsed answers, inequalities in one variable compared as the sets they describe,
    numbers under the grader's numeric policy (:mod:`rsrl.grading.numeric`)."""
    from math_verify import verify as mv_verify

    with policy():
        return bool(mv_verify(gold, pred, allow_set_relation_comp=True, timeout_seconds=t))


def judge(gold: str, g: list, p: Prepared, pred: list, t: int) -> bool:
    """The verdict on a prepared completion `p` (parsed: `pred`) against the gold answer `gold` (parsed: `g`).

    math-verify's verdict (:func:`verify`), with the gold-aware rules of :mod:`rsrl.grading.forms` around it:

    * a numeral with a base on either side: the values decide (:func:`rsrl.grading.forms.numeral_verdict`);
    * a final box ``\\textbf{(C)}\\ 12``: its letter against a letter gold, else its value;
    * **multi-answer policy**: a gold listing k ≥ 2 values (top-level commas, k ≤ ``MAX_BOXES``) is matched by
      the completion's last k boxes, as a set (order-free, each value matched by one box), when its final run
      of boxes holds at most k. A self-correction against a one-value gold stays last-run-only.

    Reads only ``p`` (its text through `pred`, its box contents), so equal extraction keys give equal verdicts.
    """
    last = p.boxes[-1] if p.boxes else None
    based = forms.numeral_verdict(gold, last)
    if based is not None:
        return based
    if verify(g, pred, t):
        return True
    if last is None:
        return False
    picked = forms.choice(last)
    if picked is not None:
        letter = forms.gold_letter(gold)
        if letter is not None:
            return picked[0] == letter
        if picked[1] and verify(g, parse_answer(picked[1], t), t):
            return True
    values = forms.gold_values(gold)
    k = len(values)
    if 2 <= k <= len(p.boxes) and p.run <= k:
        return _match_sets([parse_answer(v, t) for v in values], [parse_answer(b, t) for b in p.boxes[-k:]], t)
    return False


def _match_sets(golds: list[list], preds: list[list], t: int) -> bool:
    """Whether every gold value verifies against a different one of `preds` (as many as `golds`)."""
    ok = [[verify(gv, pv, t) for pv in preds] for gv in golds]

    def assign(i: int, used: frozenset) -> bool:
        return i == len(golds) or any(
            ok[i][j] and j not in used and assign(i + 1, used | {j}) for j in range(len(preds))
        )

    return assign(0, frozenset())


def grade_sequential(
    completions: Sequence[str],
    golds: Sequence[str],
    *,
    boxed_only: bool = DEFAULTS["boxed_only"],
    timeout_s: float = DEFAULTS["timeout_s"],
) -> list[bool]:
    """The reference: a plain loop of math-verify ``parse`` + ``verify`` over every completion, in-process.

    Only for comparison (tests, benchmarks): it has no deadline and can hang on inputs that ignore the alarm.
    """
    from math_verify import parse

    t = alarm_seconds(timeout_s)
    cfg = list(config_of(boxed_only))
    out = []
    for text, gold in zip(completions, golds, strict=True):
        p = prepare_full(text)
        out.append(
            judge(
                gold,
                parse(_answer_latex(gold), parsing_timeout=t),
                p,
                parse(p.text, extraction_config=cfg, parsing_timeout=t),
                t,
            )
        )
    return out


def boxes_read(gold: str) -> int:
    """How many of a completion's last box contents :func:`judge` reads against `gold`: k for a gold listing
    2 ≤ k ≤ ``MAX_BOXES`` values (the multi-answer policy), else 1."""
    k = len(forms.gold_values(gold))
    return k if 2 <= k <= MAX_BOXES else 1


def extraction_key(text: str, boxed_only: bool = DEFAULTS["boxed_only"], reads: int = 1) -> bytes:
    """Digest of everything math-verify's ``parse`` sees of ``prepare(text)``: equal keys give equal parses.

    Mirrors ``math_verify.parser.extract_target_from_pred``: the patterns of every extraction target, grouped by
    priority; within a group the matches ordered rightmost end first (ties: leftmost start, then pattern
    order, as its stable sort); each match reduced to (target, pattern, named groups that matched) — the only
    things ``extract_latex``/``extract_expr`` read. No match at all (and no box) gives the key of the empty list.
    What :func:`judge`'s gold-aware rules read of the text against a gold with ``reads = boxes_read(gold)`` is part
    of the key: the last `reads` box contents, and the final run's length when ``reads > 1``. Keys are compared
    only among completions of one gold answer.
    """
    from math_verify.parser import get_extraction_regexes

    p = prepare_full(text)
    text = p.text
    target_res = get_extraction_regexes(config_of(boxed_only))
    patterns = [(pat, ti, pi, prio) for ti, (pats, _) in enumerate(target_res) for pi, (pat, prio) in enumerate(pats)]
    patterns.sort(key=lambda x: x[3])
    parts = []
    for _, group in itertools.groupby(patterns, key=lambda x: x[3]):
        matches = [
            (m.end(), -m.start(), ti, pi, tuple((k, v) for k, v in m.groupdict().items() if v is not None))
            for pat, ti, pi, _ in group
            for m in pat.finditer(text)
        ]
        matches.sort(key=lambda x: (x[0], x[1]), reverse=True)
        parts.append(tuple(m[2:] for m in matches))
    if not any(parts) and not p.boxes:
        return b""
    read = (p.boxes[-reads:], p.run if reads > 1 else None)
    return hashlib.blake2b(pickle.dumps((parts, read), protocol=5), digest_size=16).digest()


def extraction_keys(texts: Sequence[str], boxed_only: bool, reads: Sequence[int] | None = None) -> list[bytes]:
    return [extraction_key(t, boxed_only, 1 if reads is None else r) for t, r in zip(texts, reads or texts)]


class _TimeoutCounter(logging.Handler):
    """Counts math-verify's "Timeout during parsing/comparison" warnings (it returns [] / False on timeouts)."""

    def __init__(self):
        super().__init__(level=logging.WARNING)
        self.count = 0

    def emit(self, record):
        if "Timeout" in record.getMessage():
            self.count += 1


_TIMEOUTS: _TimeoutCounter | None = None


def timeout_counter() -> _TimeoutCounter:
    global _TIMEOUTS
    if _TIMEOUTS is None:
        _TIMEOUTS = _TimeoutCounter()
        mv = logging.getLogger("math_verify")
        mv.addHandler(_TIMEOUTS)
        mv.setLevel(logging.WARNING)
    return _TIMEOUTS


def worker_init() -> None:
    """Set-up of a grading worker: math-verify imported, its timeout warnings counted, not printed."""
    logging.getLogger("math_verify").propagate = False
    timeout_counter()
    import math_verify  # noqa: F401


def grade_one(text: str, gold: str, boxed_only: bool, timeout_s: float) -> tuple[bool, str | None, bool, bytes | None]:
    """(correct, extracted answer string or None, timed out, the pickled parse or None) of one completion, via
    math-verify with alarms.

    Must run in a main thread (math-verify uses ``signal.alarm``); workers call it.
    """
    from math_verify import parse

    t = alarm_seconds(timeout_s)
    counter = timeout_counter()
    before = counter.count
    g = parse_answer(gold, t)
    p = prepare_full(text)
    pred = parse(p.text, extraction_config=list(config_of(boxed_only)), parsing_timeout=t)
    correct = judge(gold, g, p, pred, t)
    extracted = next((p for p in reversed(pred) if isinstance(p, str)), None)
    if extracted is None and pred:
        extracted = str(pred[0])
    try:
        blob = pickle.dumps(pred, protocol=5)
    except Exception:  # an object that does not pickle: answer classes parse the string instead
        blob = None
    return correct, extracted, counter.count > before, blob
