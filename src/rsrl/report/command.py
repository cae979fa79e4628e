"""The report's products as commands: each product module declares its :class:`Command` (``COMMAND``, or several
as ``COMMANDS``), and ``python -m rsrl.report`` and the cost plan find them all (:func:`commands`).

A new figure or table therefore costs one module (its function and its ``COMMAND``), one workflow rule named
``report_<name>`` (the aggregate ``report`` target and the cost plan take its jobs from the ``COMMAND``), and one
caption.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rsrl.io import save_figure, write_table, write_text

_SUFFIXES = {".png", ".svg", ".csv", ".md"}


@dataclass(frozen=True)
class Arg:
    """One command-line argument: ``argparse``'s flags and keyword arguments."""

    flags: tuple[str, ...]
    kwargs: dict = field(default_factory=dict)


#: The aggregated pass@k table, read by most products.
PASSK = Arg(("--passk",), {"required": True, "help": "the aggregated pass@k table (results/tables/passk.csv)"})


def one_job(cfg: dict) -> list[dict]:
    return [{}]


@dataclass(frozen=True)
class Rule:
    """A workflow rule that runs a product's command: ``jobs(cfg)`` gives the wildcard values of each of its jobs
    for a config (one job without wildcards by default; none when the config has nothing for it to draw)."""

    name: str
    jobs: Callable[[dict], list[dict]] = one_job


@dataclass(frozen=True)
class Command:
    """A report product: subcommand ``name`` runs ``run(args, cfg)``, which writes the outputs and returns their
    paths; ``rules`` are the workflow rules that run it (the first one named ``report_<name>``, usually alone).
    The aggregate ``report`` target and the cost plan read both from here."""

    name: str
    help: str
    run: Callable[[argparse.Namespace, dict], list[Path]]
    arguments: tuple[Arg, ...] = ()
    rules: tuple[Rule, ...] = ()

    def __post_init__(self):
        if not self.rules:
            object.__setattr__(self, "rules", (Rule(f"report_{self.name}"),))


def stem(out: str | Path) -> Path:
    """``--out`` as a path stem (a suffix such as ``.png`` or ``.csv`` is dropped)."""
    p = Path(out)
    return p.with_suffix("") if p.suffix in _SUFFIXES else p


def write_figure(fig, out: str | Path) -> list[Path]:
    """Save a figure as ``STEM.png`` and ``STEM.svg`` and close it."""
    import matplotlib.pyplot as plt

    paths = save_figure(fig, stem(out))
    plt.close(fig)
    return paths


def write_tables(out: str | Path, table, md: str) -> list[Path]:
    """Write a table as ``STEM.csv`` and its Markdown rendering as ``STEM.md``."""
    s = stem(out)
    write_table(s.with_suffix(".csv"), table)
    write_text(s.with_suffix(".md"), md if md.endswith("\n") else md + "\n")
    return [s.with_suffix(".csv"), s.with_suffix(".md")]


def commands() -> dict[str, Command]:
    """Every report product, by subcommand: the ``COMMAND`` of each module of :mod:`rsrl.report`."""
    import rsrl.report as pkg

    found: dict[str, Command] = {}
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"rsrl.report.{info.name}")
        declared = getattr(module, "COMMANDS", ()) or ((module.COMMAND,) if hasattr(module, "COMMAND") else ())
        for cmd in declared:
            if cmd.name in found:
                raise RuntimeError(
                    f"report command {cmd.name!r} is declared twice ({found[cmd.name].run.__module__} and {info.name})"
                )
            found[cmd.name] = cmd
    return found


def rule_jobs(cfg: dict) -> dict[str, list[dict]]:
    """Every report rule and the wildcard values of each of its jobs for ``cfg``."""
    return {r.name: r.jobs(cfg) for c in commands().values() for r in c.rules}
