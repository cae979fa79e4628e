"""The package's layers hold: no import circle, and no module imports a layer above its own.

Every import counts, module-level and function-local alike (a function-local import is still an import).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

#: Layers from the bottom up; a module belongs to the first entry whose name is it or a package above it.
#: pure science and facts < config < grid and layout < grading < stages < report and theory < commands
LAYERS: list[tuple[str, ...]] = [
    ("rsrl", "rsrl.passk", "rsrl.estimators", "rsrl.methods", "rsrl.prompts"),
    ("rsrl.config", "rsrl.io", "rsrl.dapo", "rsrl.setup_record"),
    ("rsrl.grid", "rsrl.layout", "rsrl.shard_plan", "rsrl.resources", "rsrl.stops", "rsrl.tracking", "rsrl.smoke"),
    ("rsrl.grading", "rsrl.grader"),
    ("rsrl.data", "rsrl.models", "rsrl.train", "rsrl.evaluate"),
    ("rsrl.report", "rsrl.theory"),
    ("rsrl.plan", "rsrl.cost", "rsrl.cli", "rsrl.status"),
]


def modules() -> dict[str, Path]:
    out = {}
    for p in (SRC / "rsrl").rglob("*.py"):
        name = ".".join(p.relative_to(SRC).with_suffix("").parts)
        out[name.removesuffix(".__init__")] = p
    return out


def imports(path: Path, me: str, known: dict) -> set[str]:
    """Package modules `me` imports anywhere in its file (relative imports resolved)."""
    found = set()
    is_pkg = path.name == "__init__.py"
    for n in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(n, ast.ImportFrom):
            base = n.module or ""
            if n.level:
                parts = me.split(".")
                keep = len(parts) - n.level + (1 if is_pkg else 0)
                base = ".".join(parts[:keep] + ([base] if base else []))
            for a in n.names:
                full = f"{base}.{a.name}"
                found.add(full if full in known else base)
        elif isinstance(n, ast.Import):
            found.update(a.name for a in n.names)
    return {t for t in found if t in known and t != me}


def graph() -> dict[str, set[str]]:
    known = modules()
    return {m: imports(p, m, known) for m, p in known.items()}


def layer_of(module: str) -> int | None:
    best = None
    for i, names in enumerate(LAYERS):
        for name in names:
            if module == name or module.startswith(name + "."):
                if best is None or len(name) > best[1]:
                    best = (i, len(name))
    return None if best is None else best[0]


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), a package with its own submodules
    excepted (``rsrl.estimators`` registering the estimator modules that import its helpers)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(g[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            top = min(comp, key=len)
            if len(comp) > 1 and not all(c == top or c.startswith(top + ".") for c in comp):
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def test_every_module_has_a_layer():
    assert [m for m in graph() if layer_of(m) is None] == []


def test_no_import_circle():
    assert cycles(graph()) == []


def test_no_module_imports_a_higher_layer():
    g = graph()
    upward = sorted(
        f"{m} (layer {layer_of(m)}) imports {t} (layer {layer_of(t)})"
        for m, ts in g.items()
        for t in ts
        if layer_of(t) > layer_of(m)
    )
    assert upward == []


@pytest.mark.parametrize(
    "src, expect",
    [
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, [["a", "b", "c"]]),
        ({"a": {"b"}, "b": set(), "c": {"a"}}, []),
        ({"p": {"p.x"}, "p.x": {"p"}}, []),
        ({"p.x": {"q"}, "q": {"p.x"}}, [["p.x", "q"]]),
    ],
)
def test_the_circle_finder_finds_circles(src, expect):
    assert cycles(src) == expect


def test_a_function_local_import_counts(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("def f():\n    from rsrl import grid\n    return grid\n")
    assert imports(f, "rsrl.config", {"rsrl.grid": None, "rsrl.config": None}) == {"rsrl.grid"}
