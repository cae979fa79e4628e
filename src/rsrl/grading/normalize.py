"""Normalisation: the text math-verify extracts an answer from, read the way a person grading it would.

:func:`prepare` is applied to every completion (evaluation and both trainers' rewards) and to every gold answer
(:func:`gold_latex` first), before math-verify sees it:

* **End of turn.** The text is cut at the first end-of-turn marker (:data:`rsrl.prompts.END_OF_TURN_MARKERS`:
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
* **Box forms.** ``\\fbox{x}`` and the brace-less ``\\boxed 7`` (up to ``$`` or the line's end) are boxes like
  ``\\boxed{x}``: the final ones are written ``\\boxed{...}``, the only form math-verify reads.
* **Answer forms.** The content of every final box is rewritten by :func:`rsrl.grading.forms.rewrite`
  (sentence-final punctuation, thousands separators, scientific forms, numbers in words or units, degrees,
  infinity); the box contents are kept for the gold-aware rules (:func:`prepare_full`).

Boxes are found by :mod:`rsrl.grading.boxes`, the pipeline's one box reader.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

from rsrl.grading.boxes import boxes, brace_pairs
from rsrl.grading.forms import rewrite
from rsrl.prompts import END_OF_TURN_MARKERS


def cut_at_end_of_turn(text: str, markers: Sequence[str] = END_OF_TURN_MARKERS) -> tuple[str, bool]:
    """(`text` up to its first end-of-turn marker, whether anything was cut)."""
    cut = min((i for i in (text.find(m) for m in markers) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


# What may join two boxes of one answer list once whitespace and math delimiters are dropped.
_LIST_JOIN = re.compile(r"(?:,|;|,?and|,?or)?(?:[A-Za-z](?:_\{?\w+\}?)?=)?", re.IGNORECASE)
_DELIMS = re.compile(r"\s+|\$|\\[()\[\],;:! ]|\\q?quad|~|\\(?:text|mathrm)\s*\{|\}")
_PM = re.compile(r"\\(pm|mp)(?![A-Za-z])")
_UNDERLINE = re.compile(r"\\underline\s*\{")
_BOX_OPEN = re.compile(r"\\(?:boxed|fbox)\s*\{")


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
    return f"{content[: m.start()]}{first}{content[m.end() :]}, {content[: m.start()]}{second}{content[m.end() :]}"


def _unwrap(text: str, pattern: re.Pattern) -> str:
    """`text` with every ``\\cmd{x}`` matched by `pattern` (ending at its ``{``) replaced by ``x``."""
    pairs = brace_pairs(text)
    cuts = sorted(
        c
        for m in pattern.finditer(text)
        if m.end() - 1 in pairs
        for c in ((m.start(), m.end()), (pairs[m.end() - 1], pairs[m.end() - 1] + 1))
    )
    out, pos = [], 0
    for a, b in cuts:
        out.append(text[pos:a])
        pos = b
    out.append(text[pos:])
    return "".join(out)


def gold_latex(answer: str) -> str:
    """A gold answer as the LaTeX string math-verify parses (it needs a math environment)."""
    return f"\\boxed{{{answer}}}"


class Prepared(NamedTuple):
    """A prepared text and what the gold-aware rules read of it: the (rewritten) contents of its boxes, earlier
    to last (at most :data:`MAX_BOXES`, the last ones), and how many boxes form its final run."""

    text: str
    boxes: tuple[str, ...]
    run: int


#: Most box contents kept per completion for the gold-aware rules (the multi-answer rule's largest gold list).
MAX_BOXES = 8


def prepare(text: str) -> str:
    """The text math-verify extracts the answer from (see the module docstring)."""
    return prepare_full(text).text


def prepare_full(text: str) -> Prepared:
    """:func:`prepare`'s text with the box contents the gold-aware rules read (:class:`Prepared`)."""
    text, _ = cut_at_end_of_turn(text)
    if "\\underline" in text:
        text = _unwrap(text, _UNDERLINE)
    if "\\boxed" not in text and "\\fbox" not in text:
        return Prepared(text, (), 0)
    pairs = brace_pairs(text)
    found, open_last = boxes(text, pairs)
    if open_last or not found:
        return Prepared(text, (), 0)  # the last box never closes (a truncated completion): leave it to math-verify
    run = len(found) - 1  # first box of the final list
    while run > 0 and _LIST_JOIN.fullmatch(
        _DELIMS.sub("", text[found[run - 1].close + int(found[run - 1].braced) : found[run].start])
    ):
        run -= 1
    out, pos, contents = [], 0, []
    for i, b in enumerate(found):
        content = b.content(text)
        out.append(text[pos : b.start])
        if i < run:
            out.append(_unwrap(content, _BOX_OPEN) if b.braced else content)
            content = rewrite(content)
        else:
            content = rewrite(content)
            out.append(f"\\boxed{{{_expand_pm(content)}}}")
        if i >= len(found) - MAX_BOXES:
            contents.append(content.strip())
        pos = b.close + int(b.braced)
    out.append(text[pos:])
    return Prepared("".join(out), tuple(contents), len(found) - run)
