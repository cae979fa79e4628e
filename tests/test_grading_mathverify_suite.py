"""math-verify's own test suite, at the installed version, run against this grader.

The suite's cases are fetched from the package registry (the sdist ships ``tests/``) into a cache outside the
repository (``$RSRL_CACHE``, else ``~/.cache/rsrl``); nothing of it is copied here. A case is a (gold, pred,
expected) comparison: every parametrised case whose arguments name a gold and a pred, and every literal
``compare_strings(gold, pred, ...) == expected`` in a test body (276 at math-verify 0.9.0). Each is graded by
:func:`rsrl.grading.verify.grade_one` as the pipeline grades a completion: the gold answer is the gold without
its ``$`` delimiters, the completion is the pred, boxed-only (the pipeline's setting) when the pred has a box,
else with math-verify's default extraction (``boxed_only=False``: the suite's plain-text cases).

The grader must agree with the suite's expected verdict on every case except those listed in
:data:`DISAGREEMENTS`, each with its reason (a new disagreement, or a listed one that now agrees, fails).
"""

from __future__ import annotations

import ast
import importlib.metadata
import io
import logging
import math
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from rsrl.grading.verify import grade_one

logging.getLogger("math_verify").setLevel(logging.CRITICAL)

VERSION = importlib.metadata.version("math-verify")
MIN_AGREE = 266  # the grader's agreement before its answer-form rules (math-verify 0.9.0; 265 said its issue)

#: Cases (file::test[index]) where the grader's verdict differs from the suite's, with the reason.
DISAGREEMENTS: dict[str, str] = {
    "test_all.py::test_number_extraction[6]": "gold '1,22': a comma in a gold answer separates values (the "
    "pipeline's golds list answers as '3, 5'), not a decimal comma",
    "test_all.py::test_latex_notation[5]": "the suite extracts LaTeX only; the grader's boxed_only=False mode also "
    "reads plain expressions and finds the 9 of 'Answer $ \\n 9 \\n $'",
    "test_all.py::test_latex_notation[6]": "as test_latex_notation[5], with \\( \\) delimiters",
    "test_all.py::test_precision#0": "the suite compares at float_rounding=4 (0.3333 = 1/3); the grader's numeric "
    "policy is a relative tolerance of 1e-8, so 0.3333 is not 1/3",
    "test_all.py::test_complex_math_expressions[7]": "float_rounding=2 in the suite (0.33 = 1/3); the grader's "
    "relative tolerance of 1e-8 rejects it",
    "test_all.py::test_complex_math_expressions[13]": "float_rounding=4 in the suite (2.6667 = 8/3); the grader's "
    "relative tolerance of 1e-8 rejects it",
    "test_all.py::test_set_rel_assymetry[3]": "the suite turns off set-relation comparison; the grader always "
    "compares an inequality with the set it describes "
    "(-2 <= x <= 7 is [-2, 7])",
    "test_strict.py::test_strict_variable_comparison[1]": "the suite's strict=False equates f(x) and f(y); the "
    "grader compares variables strictly",
    "test_yujianll.py::test_string_extraction[9]": "math-verify reads both '1 - 1/\\mathrm{e}' and "
    "'1 + 1/\\mathrm{e}' as 1 when parsed plainly, so its suite "
    "expects them equal; the grader parses the gold as a boxed "
    "answer and rejects, as 1 - 1/e != 1 + 1/e",
}


def _sdist() -> bytes:
    """The math-verify sdist of the installed version, from the cache or the registry (skip when offline)."""
    cache = Path(os.environ.get("RSRL_CACHE", Path.home() / ".cache" / "rsrl")) / "math-verify"
    name = f"math_verify-{VERSION}.tar.gz"
    if not (cache / name).is_file():
        cache.mkdir(parents=True, exist_ok=True)
        try:
            r = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "download",
                    f"math-verify=={VERSION}",
                    "--no-deps",
                    "--no-binary",
                    ":all:",
                    "--no-build-isolation",
                    "-d",
                    str(cache),
                ],
                capture_output=True,
                text=True,
                timeout=180,
            )
        except (OSError, subprocess.TimeoutExpired) as e:
            pytest.skip(f"math-verify {VERSION} sdist not fetched (registry unreachable?): {e}")
        if r.returncode != 0 or not (cache / name).is_file():
            pytest.skip(f"math-verify {VERSION} sdist not fetched (registry unreachable?): {r.stderr[-300:]}")
    return (cache / name).read_bytes()


def _value(node: ast.AST):
    """A literal argument; f-strings (one case formats ``math.sqrt(17)``) are evaluated with ``math`` alone."""
    try:
        return ast.literal_eval(node)
    except ValueError:
        return eval(compile(ast.Expression(node), "<case>", "eval"), {"__builtins__": {}, "math": math})


def suite_cases(tests: dict[str, str]) -> dict[str, tuple[str, str, int]]:
    """(gold, pred, expected) of every comparison case of the suite's test files (module docstring)."""
    cases = {}
    for fname, src in sorted(tests.items()):
        for fn in ast.walk(ast.parse(src)):
            if not isinstance(fn, ast.FunctionDef):
                continue
            for dec in fn.decorator_list:
                if not (isinstance(dec, ast.Call) and getattr(dec.func, "attr", "") == "parametrize"):
                    continue
                names = [n.strip() for n in ast.literal_eval(dec.args[0]).split(",")]
                if not {"gold", "pred"} <= set(names):
                    continue
                for i, row in enumerate(dec.args[1].elts):
                    v = dict(zip(names, (_value(e) for e in row.elts)))
                    cases[f"{fname}::{fn.name}[{i}]"] = (v["gold"], v["pred"], int(v.get("expected", v.get("result"))))
            n = 0
            for node in ast.walk(fn):
                if (
                    isinstance(node, ast.Compare)
                    and isinstance(node.left, ast.Call)
                    and getattr(node.left.func, "id", "") == "compare_strings"
                    and not fn.decorator_list
                ):
                    gold, pred = (_value(a) for a in node.left.args[:2])
                    cases[f"{fname}::{fn.name}#{n}"] = (gold, pred, int(_value(node.comparators[0])))
                    n += 1
    return cases


@pytest.fixture(scope="module")
def cases() -> dict[str, tuple[str, str, int]]:
    tests = {}
    with tarfile.open(fileobj=io.BytesIO(_sdist()), mode="r:gz") as tar:
        for m in tar.getmembers():
            parts = m.name.split("/")
            if m.isfile() and len(parts) == 3 and parts[1] == "tests" and parts[2].startswith("test_"):
                tests[parts[2]] = tar.extractfile(m).read().decode()
    return suite_cases(tests)


def _strip_math(s: str) -> str:
    return re.sub(r"^\s*\$+|\$+\s*$", "", s).strip()


def verdict(gold: str, pred: str) -> bool:
    """The grader's verdict on a case (module docstring)."""
    return grade_one(pred, _strip_math(gold), bool(re.search(r"\\(?:boxed|fbox)", pred)), 5.0)[0]


def test_agrees_with_math_verify_suite(cases):
    assert len(cases) >= 276, f"math-verify {VERSION}: {len(cases)} comparison cases found"
    differ = {}
    for cid, (gold, pred, expected) in cases.items():
        if verdict(gold, pred) != bool(expected):
            differ[cid] = (gold, pred, expected)
    new = {k: v for k, v in differ.items() if k not in DISAGREEMENTS}
    fixed = sorted(set(DISAGREEMENTS) - set(differ))
    print(f"math-verify {VERSION} suite: {len(cases) - len(differ)} of {len(cases)} cases agree")
    assert not new, "new disagreements with math-verify's suite:\n" + "\n".join(f"{k}: {v!r}" for k, v in new.items())
    assert not fixed, f"listed disagreements that now agree (remove them from DISAGREEMENTS): {fixed}"
    assert len(cases) - len(differ) >= MIN_AGREE
