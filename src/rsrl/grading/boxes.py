"""Boxed answers: where every ``\\boxed{...}`` (``\\fbox{...}``) of a text starts and ends.

The one box reader of the pipeline: the data stage takes a gold answer from a solution's last box
(:func:`last_boxed`), sampling records the last box of a completion, and the grader's normalisation
(:mod:`rsrl.grading.normalize`) decides which boxes of a completion are its answer (:func:`boxes`).

Braces are counted as LaTeX reads them: an escaped brace (``\\{``, ``\\}``, as in a set ``\\{1, 2\\}``) is text,
not a group.
"""

from __future__ import annotations

import re
from typing import NamedTuple

#: A box command: ``\\boxed`` or ``\\fbox``, not the start of a longer command name.
BOX_CMD = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")
_BRACE_TOKEN = re.compile(r"\\.|[{}]", re.DOTALL)
_BRACELESS_END = re.compile(r"[$\n]")


class Box(NamedTuple):
    """One box: ``text[start:open]`` is the command, ``text[open + 1:close]`` its content. For the brace-less
    form ``\\boxed 7``, ``open`` is the position after the command and ``close`` the end of the content (no brace
    at either)."""

    start: int
    open: int
    close: int
    braced: bool

    def content(self, text: str) -> str:
        return text[self.open + 1 : self.close] if self.braced else text[self.open : self.close]


def brace_pairs(text: str) -> dict[int, int]:
    """Position of the matching ``}`` for every ``{`` that closes; escaped braces are skipped."""
    pairs, stack = {}, []
    for m in _BRACE_TOKEN.finditer(text):
        tok = m.group()
        if tok == "{":
            stack.append(m.start())
        elif tok == "}" and stack:
            pairs[stack.pop()] = m.start()
    return pairs


def boxes(text: str, pairs: dict[int, int] | None = None) -> tuple[list[Box], bool]:
    """(outermost closed boxes in order, whether the text's last box command never closes).

    A box nested in another is part of that box. A brace-less box (``\\boxed 7``, after at least one space) runs
    to the next ``$`` or line end. An unclosed last box is a truncated answer: it is reported, not read.
    """
    starts = list(BOX_CMD.finditer(text))
    if not starts:
        return [], False
    pairs = brace_pairs(text) if pairs is None else pairs
    out: list[Box] = []
    open_last = False
    for n, m in enumerate(starts):
        if out and m.start() < out[-1].close:
            continue  # nested in the previous box
        i = m.end()
        while i < len(text) and text[i] in " \t\r\n":
            i += 1
        last = n == len(starts) - 1
        if i < len(text) and text[i] == "{":
            if i in pairs:
                out.append(Box(m.start(), i, pairs[i], True))
            elif last:
                open_last = True
        elif i > m.end() and "\n" not in text[m.end() : i]:  # "\boxed 7": the content up to "$" or the line's end
            end = _BRACELESS_END.search(text, i)
            stop = end.start() if end else len(text)
            while stop > i and text[stop - 1] in " \t":
                stop -= 1
            if stop > i:
                out.append(Box(m.start(), i, stop, False))
    return out, open_last


def last_boxed(text: str | None) -> str | None:
    """Content of the last box in `text` (stripped), nested braces included; None when there is no box or the
    last box never closes (a truncated completion)."""
    if not text:
        return None
    found, open_last = boxes(text)
    if open_last or not found:
        return None
    return found[-1].content(text).strip() or None
