"""Answer forms: how models write a final answer that math-verify alone misreads, each rule with its scope.

*Rewrites* (:func:`rewrite`) act on the content of a box of the final answer, in completions and gold answers
alike (:func:`rsrl.grading.normalize.prepare`); each applies only when the whole content has the stated form:

* **Sentence-final punctuation.** One trailing ``.`` or ``,`` is dropped (``5.`` → ``5``, ``2/3.`` → ``2/3``);
  decimals (``5.1``), ellipses (``0.333...``, ``1, 2, \\ldots``) and lists keep theirs.
* **Thousands separators.** Digit groups of three joined by a thin space (``\\,``, ``\\thinspace``), a plain
  space, ``\\ `` or ``~`` are one integer (``1\\,000`` → ``1000``); groups of other sizes (``10 00``) are left.
* **Scientific forms.** ``1.5e3``, ``1.5E+3``, ``1.23 \\times 10^{8}`` (``\\cdot``) become their exact decimal
  value (``1500``, ``123000000``), so an integer gold is compared exactly, not through a binary float.
* **Words and units.** ``\\text{12 apples}`` (``\\mathrm``, ``\\textbf``: one number, then words only) becomes
  ``12``; two numbers (``\\text{12 apples and 3 pears}``) are left. ``30°`` and ``30\\degree`` become
  ``30^{\\circ}`` (which math-verify reads as 30). ``\\text{infinity}`` (``infinite``, ``inf``, a sign allowed)
  becomes ``\\infty``.

*Gold-aware rules* (applied by :func:`rsrl.grading.verify.judge`, which knows both answers) use the readers here:

* **Numerals with a base** (:func:`numeral`): ``1000_2`` is the number 8. When either answer is such a numeral,
  the values decide (``1000_2`` = 8, ``1000_2`` ≠ 1000, ``204_{10}`` ≠ ``204_5``); a plain numeral against a
  gold with a base is compared digit by digit (the question named the base: ``204`` = ``204_5``).
* **Answer choices** (:func:`choice`, :func:`gold_letter`): a box holding ``\\textbf{(C)}\\ 12`` (``\\text``,
  ``\\mathrm``, bare ``(C)``; letters A–E; the value after a space, not an operator: ``\\text{(C)}+1`` is no
  choice) is the letter C against a letter gold, and 12 against any other gold.
* **Several values** (:func:`gold_values`): a gold answer's values separated by top-level commas, for the
  multi-answer policy.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

_END_PUNCT = re.compile(r"(?<![.,\s\\])\s*[.,]\s*$")  # not after \\ (a thin space) or a dot
_NUMBER = r"-?\d+(?:\.\d+)?"
_THOUSANDS = re.compile(r"-?\d{1,3}(?:(?:\\,|\\thinspace\s*|\\ |~| )\d{3})+(?:\.\d+)?")
_SEP = re.compile(r"\\,|\\thinspace\s*|\\ |~| ")
_SCIENTIFIC = re.compile(
    rf"({_NUMBER})\s*(?:[eE]\s*([+-]?\d+)"
    r"|(?:\\times|\\cdot|\*)\s*10\s*\^\s*\{?\s*([+-]?\d+)\s*\}?)"
)
_WORDY = re.compile(
    r"\\(?:text|textbf|mathrm|textrm|mbox)\s*\{\s*(-?\d+(?:\.\d+)?(?:/\d+)?)"
    r"\s*([A-Za-z][A-Za-z .'-]*)\}"
)
_DEGREE = re.compile(r"(\d)\s*(?:°|\\degree(?![A-Za-z])|\^\s*°|\^\s*\{\s*°\s*\})")
_INFINITY = re.compile(r"([+-]?)\s*\\(?:text|mathrm|textrm)\s*\{\s*(?:infinity|infinite|inf)\s*\}", re.IGNORECASE)

_CHOICE = re.compile(
    r"\s*(?:\\(?:text|textbf|mathbf|mathrm|textrm)\s*\{\s*\(([A-E])\)\s*\}|\(([A-E])\))"
    r"(?:(?:\s|\\[ ,;:!]|~|\\q?quad)+([^+\-*/^=<>!\s].*?))?\s*",
    re.DOTALL,
)
_GOLD_LETTER = re.compile(r"\s*(?:\\(?:text|textbf|mathbf|mathrm)\s*\{\s*)?\(?([A-E])\)?\s*\}?\s*")
_NUMERAL = re.compile(r"\s*([0-9A-Z]+)\s*(?:_\s*\{?\s*\(?\s*(\d+)\s*\)?\s*\}?)?\s*")
_GROUPED = re.compile(r"\s*-?\d{1,3}(?:,\d{3})+(?:\.\d+)?\s*")  # 1,000: one number
_OPEN = {"(": ")", "[": "]", "{": "}"}


def _exact(value: Decimal) -> str:
    """A decimal's exact value as a plain numeral (no exponent, no trailing zeros)."""
    if value == value.to_integral_value():
        return str(int(value))
    return format(value.normalize(), "f")


def rewrite(content: str) -> str:
    """The content of a final box with the module's rewrites applied (unchanged when no rule applies)."""
    s = content.strip()
    if not s:
        return content
    if s[-1] in ".," and not s.endswith(("..", ",,")):
        s = _END_PUNCT.sub("", s) or s
    if _THOUSANDS.fullmatch(s):
        s = _SEP.sub("", s)
    m = _SCIENTIFIC.fullmatch(s)
    if m:
        try:
            s = _exact(Decimal(m.group(1)).scaleb(int(m.group(2) or m.group(3))))
        except (InvalidOperation, ValueError, OverflowError):
            pass
    if "\\" in s:
        m = _WORDY.fullmatch(s)
        if m:
            s = m.group(1)
        elif "inf" in s.lower():
            s = _INFINITY.sub(lambda x: f"{x.group(1)}\\infty", s)
    if "°" in s or "\\degree" in s:
        s = _DEGREE.sub(r"\1^{\\circ}", s)
    return content if s == content.strip() else s


class Numeral(NamedTuple):
    digits: str
    base: int | None  # None: no base written (decimal digits)

    def value(self) -> int:
        return int(self.digits, self.base or 10)


def numeral(s: str | None) -> Numeral | None:
    """An integer numeral with an optional base subscript (``1000_2``, ``204_{5}``, ``A3_{(16)}``; base 2–36,
    every digit below it; letters upper-case only, so ``x_2`` is a variable), else None."""
    if s is None:
        return None
    m = _NUMERAL.fullmatch(s)
    if not m:
        return None
    digits, base = m.group(1), m.group(2)
    if base is None:
        return Numeral(digits, None) if digits.isdigit() else None
    b = int(base)
    if not 2 <= b <= 36 or any(int(d, 36) >= b for d in digits):
        return None
    return Numeral(digits, b)


def numeral_verdict(gold: str, answer: str | None) -> bool | None:
    """The verdict of the numeral-with-base rule (module docstring), None where it does not apply."""
    g = numeral(gold)
    if g is None:
        return None
    p = numeral(answer)
    if g.base is None:
        return None if p is None or p.base is None else p.value() == g.value()
    if p is None:
        return None
    return p.value() == g.value() if p.base is not None else p.digits.lstrip("0") == g.digits.lstrip("0")


def choice(content: str) -> tuple[str, str] | None:
    """(letter, what follows it) of an answer-choice box ``\\textbf{(C)}\\ 12``, else None."""
    m = _CHOICE.fullmatch(content)
    return (m.group(1) or m.group(2), (m.group(3) or "").strip()) if m else None


def gold_letter(gold: str) -> str | None:
    """The letter of an answer-choice gold (``C``, ``(C)``, ``\\text{(C)}``), else None."""
    m = _GOLD_LETTER.fullmatch(gold)
    return m.group(1) if m else None


def split_top(s: str) -> list[str]:
    """`s` split at its top-level commas (outside ``()``, ``[]``, ``{}``, ``\\{\\}``; an interval's mismatched
    brackets ``(1, 2]`` count as a pair)."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(s):
        ch = s[i]
        if ch == "\\":  # an escaped brace \\{ \\} delimits a set; any other command is skipped
            nxt = s[i + 1 : i + 2]
            depth = depth + 1 if nxt == "{" else max(0, depth - 1) if nxt == "}" else depth
            i += 2
            continue
        if ch in _OPEN:
            depth += 1
        elif ch in ")]}":
            depth = max(0, depth - 1)
        elif ch == "," and depth == 0:
            parts.append(s[start:i])
            start = i + 1
        i += 1
    parts.append(s[start:])
    return [p.strip() for p in parts]


def gold_values(gold: str) -> list[str]:
    """The values of a gold answer listing several (``3, 5``; ``(3, 3), (1, 1)``), else a list of one."""
    if "," not in gold or _GROUPED.fullmatch(gold):
        return [gold]
    parts = split_top(gold)
    return parts if all(parts) else [gold]
