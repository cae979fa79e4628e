"""What "correct" means: a completion's final answer verified against the gold answer with math-verify.

A verdict is that of the plain loop :func:`grade_sequential`::

    text = prepare(completion)
    verify(parse(prepare(gold_latex(gold))), parse(text, extraction_config=CFG), allow_set_relation_comp=True,
           timeout_seconds=T)

with ``CFG`` boxed-only by default (``LatexExtractionConfig(boxed_match_priority=0,
try_extract_without_anchor=False)``: a ``\\boxed{}`` answer, or a math environment anchored by "final answer" or
"answer:"; never a bare number in the text). ``boxed_only=False`` uses math-verify's default extraction
(LaTeX and plain expressions anywhere), which credits answers a truncated completion merely mentions.

:func:`prepare` reads a completion the way a person grading it would, before math-verify extracts anything:

* **End of turn.** The text is cut at the first end-of-turn marker (:data:`rsrl.data.prompts.END_OF_TURN_MARKERS`:
  those of the prompt templates and of the model families' chat formats): whatever a model writes after its turn
  ended (a hallucinated next user turn with its own ``\\boxed{}``) is not its answer.
* **Self-corrections.** Only the last run of boxes is the answer: boxes joined by nothing but a separator
  (``,`` ``;`` ``and`` ``or``, optionally ``x =``) and math delimiters form a list, as math-verify reads them;
  every earlier box is unboxed (its ``\\boxed{}`` removed, its content kept). math-verify would otherwise merge
  boxes less than 10 characters apart, or less than 70 apart with a comma, semicolon, "and" or "or" between them,
  into a set: "\\boxed{3}, wait, that is wrong: \\boxed{5}" read as {3, 5}.
* **Plus-minus.** A box holding one expression with a single ``\\pm`` (``\\mp``) and no top-level list becomes
  the list of its two values (math-verify reads ``a \\pm b`` only at the top level, not inside ``\\frac``).
* **Underline.** ``\\underline{x}`` becomes ``x`` (math-verify cannot parse ``\\boxed{\\underline{3375}}``).

and :func:`verify` compares an inequality in one variable with a set as the set it describes
(math-verify's ``allow_set_relation_comp``: ``2 \\le x < 5`` equals ``[2, 5)``).

Known leniency, kept and counted: math-verify accepts ``10\\%`` for the gold ``10`` (and for ``0.1``). Problems
that ask "by what percent" mostly have gold answers without the sign, so this is usually right; the grader counts
such verdicts (``GradeStats.percent_credit``, in the grading log).

Grading many completions is fast and cannot hang (:class:`Grader`):

* **Deduplication.** ``parse`` looks at a completion only through the regex matches of math-verify's extraction
  patterns (tried in order of priority and position, each converted from its named groups alone). The
  *extraction key* of a completion is exactly that ordered list of matches without their positions, computed
  with math-verify's own compiled patterns on the prepared text. Completions with the same key parse to the same
  answer, so per gold answer each distinct key is parsed and verified once.
* **A process pool with deadlines** (:class:`rsrl.procpool.WorkerPool`): keys and verdicts are computed in worker
  subprocesses, where math-verify's ``signal.alarm`` timeouts (``timeout_s`` per call) work; a task that outlives
  ``deadline_s`` (big-integer arithmetic in C, catastrophic regex backtracking) has its worker killed and replaced.
  A timeout (math-verify's own or the deadline) grades as incorrect and is reported in the ``timeout`` column.
* **Answer classes** (:meth:`Grader.answer_classes`): the answers of one problem grouped by math equivalence for
  majority votes and answer diversity. All correct answers are one class; two wrong answers are one class when
  each verifies against the other (:func:`answer_class_ids`: identical strings first, then the distinct strings by
  decreasing frequency, each compared with the first member of every class so far; pairs that math-verify surely
  finds different, such as two numbers far apart, skip it). At most :data:`CLASS_CAP` distinct wrong strings per
  problem are compared, for at most ``(deadline_s - 3 timeout_s) / 2`` seconds; the rest are classes of their own
  string, counted as *class fallbacks*.

Settings (``boxed_only``, ``timeout_s``, ``deadline_s``, ``workers``) are the config's ``evaluation.grader``;
their defaults are the config schema's (:data:`DEFAULTS`). :func:`reward` is the single-call, thread-safe,
never-raising entry point for RL rewards: one lazily created pool per process, 0.0 on any error or timeout.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import itertools
import json
import logging
import math
import os
import pickle
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from rsrl.data.prompts import END_OF_TURN_MARKERS
from rsrl.procpool import TaskTimeout, WorkerCrashed, WorkerPool, WorkerStartError

__all__ = ["Grader", "GradeStats", "reward", "grade_sequential", "grade_one", "prepare", "cut_at_end_of_turn",
           "END_OF_TURN_MARKERS", "DEFAULTS", "CLASS_CAP", "extraction_config", "extraction_key", "verify",
           "answer_class_ids", "WorkerStartError"]

log = logging.getLogger(__name__)


def _schema_defaults() -> dict:
    from rsrl.config import SCHEMA_PATH

    schema = json.loads(SCHEMA_PATH.read_text())
    props = schema["properties"]["evaluation"]["properties"]["grader"]["properties"]
    return {k: v["default"] for k, v in props.items() if "default" in v}


#: Defaults of the grader settings: those of ``evaluation.grader`` in the config schema, where they are defined.
DEFAULTS: dict = _schema_defaults()

#: Most distinct wrong answers of one problem (per graded shard) grouped into classes by verification.
CLASS_CAP = 64


# --------------------------------------------------------------------------------------------------------------
# Preparing a completion


def cut_at_end_of_turn(text: str, markers: Sequence[str] = END_OF_TURN_MARKERS) -> tuple[str, bool]:
    """(`text` up to its first end-of-turn marker, whether anything was cut)."""
    cut = min((i for i in (text.find(m) for m in markers) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


_BOX_CMD = re.compile(r"\\(?:boxed|fbox)\s*\{")       # as math-verify (latex2sympy2_extended) finds boxes
_BRACE = re.compile(r"[{}]")
# What may join two boxes of one answer list once whitespace and math delimiters are dropped.
_LIST_JOIN = re.compile(r"(?:,|;|,?and|,?or)?(?:[A-Za-z](?:_\{?\w+\}?)?=)?", re.IGNORECASE)
_DELIMS = re.compile(r"\s+|\$|\\[()\[\],;:! ]|\\q?quad|~|\\(?:text|mathrm)\s*\{|\}")
_PM = re.compile(r"\\(pm|mp)(?![A-Za-z])")
_UNDERLINE = re.compile(r"\\underline\s*\{")


def _brace_pairs(text: str) -> dict[int, int]:
    """Position of the matching ``}`` for every ``{`` that closes (braces counted as latex2sympy counts them)."""
    pairs, stack = {}, []
    for m in _BRACE.finditer(text):
        if m.group() == "{":
            stack.append(m.start())
        elif stack:
            pairs[stack.pop()] = m.start()
    return pairs


def _top_level_list(content: str) -> bool:
    """Whether `content` has a comma or semicolon outside groups ``{...}`` (a list of answers; the braces of a
    set ``\\{...\\}`` delimit a list, not a group)."""
    depth, escaped = 0, False
    for ch in content:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch in ",;" and depth == 0:
            return True
    return False


def _expand_pm(content: str) -> str:
    ms = list(_PM.finditer(content))
    if len(ms) != 1 or _top_level_list(content):
        return content
    m = ms[0]
    first, second = ("+", "-") if m.group(1) == "pm" else ("-", "+")
    return f"{content[:m.start()]}{first}{content[m.end():]}, {content[:m.start()]}{second}{content[m.end():]}"


def _unwrap(text: str, pattern: re.Pattern) -> str:
    """`text` with every ``\\cmd{x}`` matched by `pattern` (ending at its ``{``) replaced by ``x``."""
    pairs = _brace_pairs(text)
    cuts = sorted(c for m in pattern.finditer(text) if m.end() - 1 in pairs
                  for c in ((m.start(), m.end()), (pairs[m.end() - 1], pairs[m.end() - 1] + 1)))
    out, pos = [], 0
    for a, b in cuts:
        out.append(text[pos:a])
        pos = b
    out.append(text[pos:])
    return "".join(out)


def prepare(text: str) -> str:
    """The text math-verify extracts the answer from (see the module docstring)."""
    text, _ = cut_at_end_of_turn(text)
    if "\\underline" in text:
        text = _unwrap(text, _UNDERLINE)
    starts = list(_BOX_CMD.finditer(text))
    if not starts or (len(starts) == 1 and "\\pm" not in text and "\\mp" not in text):
        return text
    pairs = _brace_pairs(text)
    boxes = []  # (start of the command, its "{", its "}") of outermost closed boxes
    for m in starts:
        open_ = m.end() - 1
        if open_ not in pairs:
            if m is starts[-1]:
                return text  # the last box never closes (a truncated completion): leave it to math-verify
            continue
        if boxes and open_ < boxes[-1][2]:
            continue  # nested in the previous box
        boxes.append((m.start(), open_, pairs[open_]))
    if not boxes:
        return text
    run = len(boxes) - 1  # first box of the final list
    while run > 0 and _LIST_JOIN.fullmatch(_DELIMS.sub("", text[boxes[run - 1][2] + 1:boxes[run][0]])):
        run -= 1
    out, pos = [], 0
    for i, (start, open_, close) in enumerate(boxes):
        content = text[open_ + 1:close]
        out.append(text[pos:start])
        out.append(_unwrap(content, _BOX_CMD) if i < run else f"{text[start:open_ + 1]}{_expand_pm(content)}}}")
        pos = close + 1
    out.append(text[pos:])
    return "".join(out)


# --------------------------------------------------------------------------------------------------------------
# math-verify calls (run inside workers; also usable in-process)


def extraction_config(boxed_only: bool) -> tuple:
    """math-verify extraction targets: boxed-only or math-verify's default (LaTeX + expressions)."""
    from math_verify import ExprExtractionConfig, LatexExtractionConfig

    if boxed_only:
        return (LatexExtractionConfig(boxed_match_priority=0, try_extract_without_anchor=False),)
    return (LatexExtractionConfig(), ExprExtractionConfig())


_CONFIGS: dict[bool, tuple] = {}


def _config(boxed_only: bool) -> tuple:
    if boxed_only not in _CONFIGS:
        _CONFIGS[boxed_only] = extraction_config(boxed_only)
    return _CONFIGS[boxed_only]


def _alarm_seconds(timeout_s: float) -> int:
    return max(1, int(math.ceil(timeout_s)))


_ANSWERS: dict[tuple[str, int], list] = {}  # parses of answer strings, per process
_CACHE_SIZE = 65536


def _parse_answer(answer: str, t: int) -> list:
    """math-verify's parse of a gold (or extracted) answer string, prepared like a completion (cached unless it
    timed out)."""
    from math_verify import parse

    key = (answer, t)
    if key in _ANSWERS:
        return _ANSWERS[key]
    counter = _timeout_counter()
    before = counter.count
    parsed = parse(_answer_latex(answer), parsing_timeout=t)
    if counter.count == before:
        if len(_ANSWERS) > _CACHE_SIZE:
            _ANSWERS.clear()
        _ANSWERS[key] = parsed
    return parsed


def _answer_latex(answer: str) -> str:
    from rsrl.answers import gold_latex

    return prepare(gold_latex(answer))


def verify(gold: list, pred: list, t: int) -> bool:
    """math-verify's verdict on parsed answers, inequalities in one variable compared as the sets they describe."""
    from math_verify import verify as mv_verify

    return bool(mv_verify(gold, pred, allow_set_relation_comp=True, timeout_seconds=t))


def grade_sequential(completions: Sequence[str], golds: Sequence[str], *, boxed_only: bool = DEFAULTS["boxed_only"],
                     timeout_s: float = DEFAULTS["timeout_s"]) -> list[bool]:
    """The reference: a plain loop of math-verify ``parse`` + ``verify`` over every completion, in-process.

    Only for comparison (tests, benchmarks): it has no deadline and can hang on inputs that ignore the alarm.
    """
    from math_verify import parse

    t = _alarm_seconds(timeout_s)
    cfg = list(_config(boxed_only))
    return [verify(parse(_answer_latex(gold), parsing_timeout=t),
                   parse(prepare(text), extraction_config=cfg, parsing_timeout=t), t)
            for text, gold in zip(completions, golds, strict=True)]


def extraction_key(text: str, boxed_only: bool = DEFAULTS["boxed_only"]) -> bytes:
    """Digest of everything math-verify's ``parse`` sees of ``prepare(text)``: equal keys give equal parses.

    Mirrors ``math_verify.parser.extract_target_from_pred``: the patterns of every extraction target, grouped by
    priority; within a group the matches ordered rightmost end first (ties: leftmost start, then pattern
    order, as its stable sort); each match reduced to (target, pattern, named groups that matched) — the only
    things ``extract_latex``/``extract_expr`` read. No match at all gives the key of the empty list.
    """
    from math_verify.parser import get_extraction_regexes

    text = prepare(text)
    target_res = get_extraction_regexes(_config(boxed_only))
    patterns = [(pat, ti, pi, prio) for ti, (pats, _) in enumerate(target_res) for pi, (pat, prio) in enumerate(pats)]
    patterns.sort(key=lambda x: x[3])
    parts = []
    for _, group in itertools.groupby(patterns, key=lambda x: x[3]):
        matches = [(m.end(), -m.start(), ti, pi, tuple((k, v) for k, v in m.groupdict().items() if v is not None))
                   for pat, ti, pi, _ in group for m in pat.finditer(text)]
        matches.sort(key=lambda x: (x[0], x[1]), reverse=True)
        parts.append(tuple(m[2:] for m in matches))
    if not any(parts):
        return b""
    return hashlib.blake2b(pickle.dumps(parts, protocol=5), digest_size=16).digest()


def extraction_keys(texts: Sequence[str], boxed_only: bool) -> list[bytes]:
    return [extraction_key(t, boxed_only) for t in texts]


class _TimeoutCounter(logging.Handler):
    """Counts math-verify's "Timeout during parsing/comparison" warnings (it returns [] / False on timeouts)."""

    def __init__(self):
        super().__init__(level=logging.WARNING)
        self.count = 0

    def emit(self, record):
        if "Timeout" in record.getMessage():
            self.count += 1


_TIMEOUTS: _TimeoutCounter | None = None


def _timeout_counter() -> _TimeoutCounter:
    global _TIMEOUTS
    if _TIMEOUTS is None:
        _TIMEOUTS = _TimeoutCounter()
        mv = logging.getLogger("math_verify")
        mv.addHandler(_TIMEOUTS)
        mv.setLevel(logging.WARNING)
    return _TIMEOUTS


def _worker_init() -> None:
    """Set-up of a grading worker: math-verify imported, its timeout warnings counted, not printed."""
    logging.getLogger("math_verify").propagate = False
    _timeout_counter()
    import math_verify  # noqa: F401


def grade_one(text: str, gold: str, boxed_only: bool,
              timeout_s: float) -> tuple[bool, str | None, bool, bytes | None]:
    """(correct, extracted answer string or None, timed out, the pickled parse or None) of one completion, via
    math-verify with alarms.

    Must run in a main thread (math-verify uses ``signal.alarm``); workers call it.
    """
    from math_verify import parse

    t = _alarm_seconds(timeout_s)
    counter = _timeout_counter()
    before = counter.count
    g = _parse_answer(gold, t)
    pred = parse(prepare(text), extraction_config=list(_config(boxed_only)), parsing_timeout=t)
    correct = verify(g, pred, t)
    extracted = next((p for p in reversed(pred) if isinstance(p, str)), None)
    if extracted is None and pred:
        extracted = str(pred[0])
    try:
        blob = pickle.dumps(pred, protocol=5)
    except Exception:  # an object that does not pickle: answer classes parse the string instead
        blob = None
    return correct, extracted, counter.count > before, blob


_INT = re.compile(r"-?(?:0|[1-9]\d{0,14})")


def _plain_expression(x) -> bool:
    """Whether `x` is built from rationals, floats, pi, e, i and symbols with +, * and small rational powers (so
    that evaluating it is quick: no towers of powers, no big-integer arithmetic)."""
    from sympy import Add, E, Float, I, Mul, Pow, Rational, Symbol, pi

    if isinstance(x, (Rational, Float)):
        return abs(x) < 10 ** 100
    if isinstance(x, Symbol) or x in (pi, E, I):
        return True
    if isinstance(x, Pow):
        e = x.exp
        return isinstance(e, Rational) and abs(e.p) <= 64 and e.q <= 64 and _plain_expression(x.base)
    return isinstance(x, (Add, Mul)) and all(_plain_expression(a) for a in x.args)


def _value(x) -> complex | None:
    """A fingerprint of a plain expression (:func:`_plain_expression`; a lone symbol excepted, which math-verify
    compares by name): its value with every symbol set to a number drawn from the symbol's name."""
    from sympy import Expr, Symbol

    if not isinstance(x, Expr) or isinstance(x, Symbol):
        return None
    return _expression_value(x)


@functools.lru_cache(maxsize=65536)
def _expression_value(x) -> complex | None:
    if not _plain_expression(x):
        return None
    subs = {s: 1 + int.from_bytes(hashlib.blake2b(s.name.encode(), digest_size=4).digest(), "big") / 2 ** 32
            for s in x.free_symbols}
    try:
        v = complex(x.evalf(30, subs=subs))
    except (TypeError, ValueError, OverflowError, ArithmeticError):
        return None
    return v if math.isfinite(v.real) and math.isfinite(v.imag) else None


def _cannot_verify(a: list, b: list) -> bool:
    """Whether math-verify surely finds two parses different (it compares the strings of two parses when either
    has no sympy object, else their sympy objects: an equation against a non-equation by its right-hand side):

    * a parse without a sympy object and no equal string in the other;
    * two plain expressions whose fingerprints (:func:`_value`) are further apart than its rounding (math-verify
      compares expressions by structure, numerically to 6 decimals, or by simplifying their difference to zero;
      all need equal values at every point, while this needs a relative gap of 1e-4 at one point);
    * a plain expression and an interval (or a union of them), a matrix, or a set or tuple of two or more
      elements (compared as sets of different sizes, or not at all).
    """
    from sympy import Equality, FiniteSet, Interval, MatrixBase, Tuple, Union

    x = next((v for v in a if not isinstance(v, str)), None)
    y = next((v for v in b if not isinstance(v, str)), None)
    if x is None or y is None:
        return not any(s.strip() and s.strip() == t.strip() for s in a if isinstance(s, str)
                       for t in b if isinstance(t, str))
    if isinstance(x, Equality) != isinstance(y, Equality):
        x, y = (x.rhs if isinstance(x, Equality) else x), (y.rhs if isinstance(y, Equality) else y)
    vx, vy = _value(x), _value(y)
    if vx is not None and vy is not None:
        return abs(vx - vy) > 1e-4 * max(1.0, abs(vx), abs(vy))
    if vx is None and vy is None:
        return False
    other = x if vx is None else y
    if isinstance(other, (Interval, Union, MatrixBase)):
        return True
    return isinstance(other, (FiniteSet, Tuple)) and len(other) >= 2


_PAIRS: dict[tuple[str, str, int], bool] = {}  # verdicts between answer strings, per process


def _same(r: str, pr: list, a: str, pa: list, t: int) -> bool:
    """Whether two answers verify against each other (cached unless it timed out)."""
    key = (r, a, t) if r <= a else (a, r, t)
    if key in _PAIRS:
        return _PAIRS[key]
    counter = _timeout_counter()
    before = counter.count
    same = verify(pr, pa, t) and verify(pa, pr, t)
    if counter.count == before:  # a timed-out comparison may succeed another time
        if len(_PAIRS) > _CACHE_SIZE:
            _PAIRS.clear()
        _PAIRS[key] = same
    return same


def answer_class_ids(answers: Sequence[str], parses: Sequence[bytes | None], timeout_s: float,
                     budget_s: float) -> tuple[list[int | None], int]:
    """Classes of distinct answer strings of one problem, in order (most frequent first): class index per string,
    None for strings not compared within `budget_s` seconds; and the number of verifications made.

    An answer is its parse in a completion (`parses`: pickled by :func:`grade_one`), else its string parsed as a
    gold answer is. It joins the first class whose first member verifies against it and it against that member;
    otherwise it starts a class. Pairs that cannot verify skip math-verify: two different integers (up to 15
    digits), and the pairs of :func:`_cannot_verify`.
    """
    t = _alarm_seconds(timeout_s)
    end = time.monotonic() + budget_s
    parsed: dict[str, list] = {}

    def parse_of(k: int) -> list:
        a = answers[k]
        if a not in parsed:
            try:
                parsed[a] = pickle.loads(parses[k]) if parses[k] is not None else _parse_answer(a, t)
            except Exception:  # an unreadable parse: parse the string
                parsed[a] = _parse_answer(a, t)
        return parsed[a]

    ids: list[int | None] = [None] * len(answers)
    reps: list[int] = []  # index of each class's first member
    checks = 0
    for i, a in enumerate(answers):
        if time.monotonic() > end:
            break
        a_int = _INT.fullmatch(a.strip()) is not None
        for c, k in enumerate(reps):
            r = answers[k]
            if a_int and _INT.fullmatch(r.strip()):
                continue
            pa, pr = parse_of(i), parse_of(k)
            if _cannot_verify(pa, pr):
                continue
            checks += 1
            if _same(r, pr, a, pa, t):
                ids[i] = c
                break
            if time.monotonic() > end:
                break
        if ids[i] is None and time.monotonic() <= end:
            ids[i] = len(reps)
            reps.append(i)
    return ids, checks


# --------------------------------------------------------------------------------------------------------------
# Batch grading


@dataclass
class GradeStats:
    items: int = 0
    keyed: int = 0            # distinct (gold, extraction key) pairs
    verified: int = 0         # parse + verify calls made
    no_answer: int = 0        # completions without any extraction match (incorrect without verification)
    timeouts: int = 0         # items graded incorrect because of a timeout
    cut: int = 0              # completions cut at an end-of-turn marker
    percent_credit: int = 0   # correct verdicts for an answer with a percent sign against a gold without one
    class_checks: int = 0     # verifications between answers (answer classes)
    class_fallbacks: int = 0  # answers (samples) whose class is their string alone: past the cap or a timeout
    workers_replaced: int = 0
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        d = {k: v for k, v in self.__dict__.items() if k != "extra"}
        d.update(self.extra)
        return d


def _by_frequency(values) -> list[str]:
    """Distinct values, most frequent first (ties: first seen)."""
    counts = values.value_counts(sort=False, dropna=True)
    return counts.sort_values(ascending=False, kind="stable").index.tolist()


class Grader:
    """Grades many completions: extraction keys in chunks on the pool, then one verification per distinct key.

    ``grade(completions, golds)`` returns a DataFrame with ``correct``, ``timeout``, ``extracted``, ``cut`` per
    item; ``answer_classes(problem_ids, answers, correct)`` groups answers into classes (module docstring).
    """

    def __init__(self, *, workers: int = DEFAULTS["workers"], boxed_only: bool = DEFAULTS["boxed_only"],
                 timeout_s: float = DEFAULTS["timeout_s"], deadline_s: float = DEFAULTS["deadline_s"],
                 chunk_size: int = 128):
        self.boxed_only = bool(boxed_only)
        self.timeout_s = float(timeout_s)
        self.deadline_s = float(deadline_s)
        self.chunk_size = chunk_size
        self.pool = WorkerPool(int(workers), preload=("rsrl.grader:_worker_init",))
        self.stats = GradeStats()
        self._verdicts: dict[tuple[str, bytes], tuple[bool, str | None, bool, bytes | None]] = {}
        self._parses: dict[str, bytes] = {}  # pickled parse of each extracted answer string (the first seen)

    @classmethod
    def from_settings(cls, settings: dict, workers: int | None = None) -> "Grader":
        """A grader with the settings of a validated config's ``evaluation.grader`` (`workers` overrides)."""
        return cls(workers=max(1, int(workers or settings["workers"])), boxed_only=settings["boxed_only"],
                   timeout_s=settings["timeout_s"], deadline_s=settings["deadline_s"])

    def close(self):
        self.pool.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _keys(self, texts: list[str], progress: bool) -> list[bytes | None]:
        """Extraction key per text; None where even a lone key computation outlived the deadline."""
        chunks = [list(range(i, min(i + self.chunk_size, len(texts)))) for i in range(0, len(texts), self.chunk_size)]
        res = self.pool.map("rsrl.grader:extraction_keys", [([texts[j] for j in c], self.boxed_only) for c in chunks],
                            deadline=self.deadline_s, progress="extract" if progress else None)
        keys: list[bytes | None] = [None] * len(texts)
        retry = []
        for c, (ok, val) in zip(chunks, res):
            if ok:
                for j, k in zip(c, val):
                    keys[j] = k
            elif len(c) == 1:
                log.warning("extraction of item %d failed: %s", c[0], val)
            else:
                retry += c  # find the culprit: one item per task
        if retry:
            res = self.pool.map("rsrl.grader:extraction_keys", [([texts[j]], self.boxed_only) for j in retry],
                                deadline=self.deadline_s)
            for j, (ok, val) in zip(retry, res):
                if ok:
                    keys[j] = val[0]
                else:
                    log.warning("extraction of item %d failed: %s", j, val)
        return keys

    def grade(self, completions: Sequence[str | None], golds: Sequence[str], *, progress: bool = False):
        import pandas as pd

        t0 = time.perf_counter()
        golds = [str(g) for g in golds]
        if len(completions) != len(golds):
            raise ValueError(f"Grader.grade: {len(completions)} completions but {len(golds)} gold answers")
        texts, cut = [], np.zeros(len(golds), dtype=bool)
        for i, c in enumerate(completions):
            text, cut[i] = cut_at_end_of_turn("" if c is None else str(c))
            texts.append(text)
        killed0 = self.pool.killed + self.pool.crashed
        keys = self._keys(texts, progress)
        correct = np.zeros(len(texts), dtype=bool)
        timeout = np.zeros(len(texts), dtype=bool)
        extracted: list[str | None] = [None] * len(texts)
        groups: dict[tuple[str, bytes], list[int]] = {}
        for i, (k, g) in enumerate(zip(keys, golds)):
            if k is None:
                timeout[i] = True
            elif k == b"":
                self.stats.no_answer += 1
            else:
                groups.setdefault((g, k), []).append(i)
        todo = [(gk, idx) for gk, idx in groups.items() if gk not in self._verdicts]
        res = self.pool.map("rsrl.grader:grade_one",
                            [(texts[idx[0]], g, self.boxed_only, self.timeout_s) for (g, _), idx in todo],
                            deadline=self.deadline_s, progress="verify" if progress else None)
        for ((g, k), idx), (ok, val) in zip(todo, res):
            if ok:
                if not val[2]:  # a timed-out verdict may succeed another time; cache only clean ones
                    self._verdicts[(g, k)] = val
            else:
                log.warning("grading %d completion(s) with gold %r failed: %s", len(idx), g[:80], val)
                val = (False, None, True, None)
            if val[1] is not None and val[3] is not None:
                self._parses.setdefault(val[1], val[3])
            for i in idx:
                correct[i], extracted[i], timeout[i] = val[:3]
        for gk, idx in groups.items():
            if gk in self._verdicts:
                for i in idx:
                    correct[i], extracted[i], timeout[i] = self._verdicts[gk][:3]
        self.stats.items += len(texts)
        self.stats.keyed += len(groups)
        self.stats.verified += len(todo)
        self.stats.timeouts += int(timeout.sum())
        self.stats.cut += int(cut.sum())
        self.stats.percent_credit += sum(1 for i in np.flatnonzero(correct)
                                         if "%" in (extracted[i] or "") and "%" not in golds[i])
        self.stats.workers_replaced += self.pool.killed + self.pool.crashed - killed0
        self.stats.seconds += time.perf_counter() - t0
        return pd.DataFrame({"correct": correct, "timeout": timeout, "extracted": pd.array(extracted, dtype="string"),
                             "cut": cut})

    def answer_classes(self, problem_ids: Sequence, answers: Sequence[str | None], correct: Sequence[bool], *,
                       progress: bool = False):
        """Class label per sample: the first member string of its class within its problem (None: no answer),
        and whether the class is a fallback (the answer's string alone). See the module docstring."""
        import pandas as pd

        t0 = time.perf_counter()
        df = pd.DataFrame({"pid": pd.array([str(p) for p in problem_ids], dtype=object),
                           "answer": pd.array(list(answers), dtype="string"),
                           "correct": np.asarray(correct, dtype=bool)})
        # Distinct (problem, verdict, answer) with their counts, most frequent first (ties: first seen).
        cnt = df[df["answer"].notna()].groupby(["pid", "correct", "answer"], sort=False).size().reset_index(name="n")
        cnt["order"] = np.arange(len(cnt))
        cnt = cnt.sort_values(["n", "order"], ascending=[False, True], kind="stable")
        cnt["label"] = cnt["answer"].astype(object)
        cnt["fallback"] = False
        right = cnt["correct"].to_numpy()
        # One class of every correct answer, named by its most frequent string.
        cnt.loc[right, "label"] = cnt[right].groupby("pid", sort=False)["answer"].transform("first").astype(object)
        wrong = cnt[~right]
        lists = wrong.groupby("pid", sort=False)["answer"].agg(list)
        lists = lists[lists.map(len) >= 2]
        tasks = [strings[:CLASS_CAP] for strings in lists]
        # Past its budget a task still finishes the comparison under way: two parses and two verifications.
        budget = max(0.0, self.deadline_s - 3 * self.timeout_s) / 2
        res = self.pool.map("rsrl.grader:answer_class_ids",
                            [(s, [self._parses.get(a) for a in s], self.timeout_s, budget) for s in tasks],
                            deadline=self.deadline_s, progress="classes" if progress else None)
        label, fallback = {}, set()  # (problem, string) -> class label; answers of fallback classes
        for pid, strings, (ok, val) in zip(lists.index, lists, res):
            if ok:
                ids, checks = val
                self.stats.class_checks += checks
            else:
                log.warning("answer classes of problem %s (%d strings) failed: %s", pid, len(strings), val)
                ids = []
            first: dict[int, str] = {}
            for i, s in enumerate(strings):
                c = ids[i] if i < len(ids) else None
                if c is None:
                    fallback.add((pid, s))
                else:
                    label[(pid, s)] = first.setdefault(c, s)
        keys = list(zip(wrong["pid"], wrong["answer"]))
        cnt.loc[~right, "label"] = [label.get(k, k[1]) for k in keys]
        cnt.loc[~right, "fallback"] = [k in fallback for k in keys]
        out = df.merge(cnt[["pid", "correct", "answer", "label", "fallback"]], on=["pid", "correct", "answer"],
                       how="left", sort=False)
        fell = out["fallback"].fillna(False).to_numpy(bool)
        self.stats.class_fallbacks += int(fell.sum())
        self.stats.seconds += time.perf_counter() - t0
        return pd.DataFrame({"answer_class": pd.array(out["label"].where(out["answer"].notna(), None).tolist(),
                                                      dtype="string"),
                             "class_fallback": fell})


# --------------------------------------------------------------------------------------------------------------
# Single-call reward


_REWARD_POOL: WorkerPool | None = None
_REWARD_LOCK = threading.Lock()
_REWARD_WARNED = False


def _reward_pool() -> WorkerPool:
    global _REWARD_POOL
    with _REWARD_LOCK:
        if _REWARD_POOL is None:
            n = int(os.environ.get("RSRL_REWARD_WORKERS", min(4, os.cpu_count() or 1)))
            _REWARD_POOL = WorkerPool(max(1, n), preload=("rsrl.grader:_worker_init",))
            atexit.register(_REWARD_POOL.close)
        return _REWARD_POOL


def grade_many(items: Sequence[tuple[str, str]], boxed_only: bool, timeout_s: float) -> list[bool]:
    """Correctness of several (completion, gold) pairs, one :func:`grade_one` each (in a worker's main thread)."""
    return [grade_one(text, gold, boxed_only, timeout_s)[0] for text, gold in items]


def rewards(completions: Sequence, golds: Sequence, *, boxed_only: bool = DEFAULTS["boxed_only"],
            timeout_s: float = DEFAULTS["timeout_s"]) -> list[float]:
    """:func:`reward` of every (completion, gold) pair, equal to calling it on each, in one worker call.

    A training step grades a group's identical completions once, and the distinct pairs in one round trip to a
    worker instead of one each (2 ms per round trip against well under 1 ms of grading for a short answer). If
    that call fails (a worker past its deadline or crashed), each distinct pair is graded alone with
    :func:`reward`, so one pathological completion costs only itself."""
    if len(completions) != len(golds):
        raise ValueError(f"rewards: {len(completions)} completions but {len(golds)} golds")
    valid = [isinstance(c, str) and g is not None and str(g).strip() != "" for c, g in zip(completions, golds)]
    unique = list(dict.fromkeys((c, str(g)) for c, g, ok in zip(completions, golds, valid) if ok))
    alarm = max(1.0, timeout_s / 2)
    try:
        got = _reward_pool().call("rsrl.grader:grade_many", unique, bool(boxed_only), alarm,
                                  deadline=(timeout_s + 2.0) * max(1, len(unique)))
        value = {k: 1.0 if ok else 0.0 for k, ok in zip(unique, got)}
    except Exception:  # a timeout, a crash or workers that cannot start: pair by pair (reward never raises)
        value = {k: reward(*k, boxed_only=boxed_only, timeout_s=timeout_s) for k in unique}
    return [value[(c, str(g))] if ok else 0.0 for c, g, ok in zip(completions, golds, valid)]


def reward(completion: str, gold: str, *, boxed_only: bool = DEFAULTS["boxed_only"],
           timeout_s: float = DEFAULTS["timeout_s"]) -> float:
    """1.0 if `completion` is correct against `gold` (as in evaluation, end-of-turn cut included), else 0.0;
    never raises, never blocks longer than about `timeout_s` (plus a worker's start-up on first use).

    Thread-safe: calls from many threads share one pool of worker processes per process (size
    ``$RSRL_REWARD_WORKERS``, default min(4, CPUs)); no signals are used in the calling thread. With more
    concurrent callers than workers, a call first waits for a free worker.
    """
    try:
        if not isinstance(completion, str) or gold is None or str(gold).strip() == "":
            return 0.0
        alarm = max(1.0, timeout_s / 2)  # parse and verify each get one alarm inside the worker
        correct = _reward_pool().call("rsrl.grader:grade_one", completion, str(gold), bool(boxed_only), alarm,
                                      deadline=timeout_s + 2.0)[0]
        return 1.0 if correct else 0.0
    except (TaskTimeout, WorkerCrashed):
        return 0.0
    except Exception as exc:  # e.g. workers that cannot start: say so once, still never raise
        global _REWARD_WARNED
        if not _REWARD_WARNED:
            _REWARD_WARNED = True
            log.error("rsrl.grader.reward returns 0.0 after an error: %s", exc)
        return 0.0
