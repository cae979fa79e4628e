"""Fig. 7 over seeds: a method's runs are one entry, each problem's distinct-answer share and accuracy the mean
over its seeds, on synthetic per-problem tables with known answers; a grid without seeds draws each run as is."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from matplotlib.container import BarContainer, ErrorbarContainer

from report_inputs import MODEL, TS, eval_path, problems_files, seeded_config, unseeded_config, write_synthetic
from rsrl import grid
from rsrl.methods import Checkpoint
from rsrl.report import __main__ as cli
from rsrl.report.diversity import POOLED_COLUMNS, make_fig7, pool_problems

# Student-t quantile t_{0.975, 2} in closed form (independent of scipy): (2p − 1) · √(2 / (4 p (1 − p))).
T975_2 = 0.95 * math.sqrt(2 / (4 * 0.975 * 0.025))
BENCH = ("math500", "aime24")
SIZES = {"math500": 24, "aime24": 10}


@pytest.fixture(autouse=True)
def _close_figures():
    """Each test's figures are closed after it."""
    import matplotlib.pyplot as plt

    yield
    plt.close("all")


def _write(cfg, root):
    write_synthetic(cfg, root, seed=3, n_boot=10, n_problems=SIZES)


@pytest.fixture
def seeded(tmp_path, paper_config):
    cfg = seeded_config(paper_config)
    _write(cfg, tmp_path / "results")
    return cfg, tmp_path / "results"


@pytest.fixture
def unseeded(tmp_path, paper_config):
    cfg = unseeded_config(paper_config)
    _write(cfg, tmp_path / "results")
    return cfg, tmp_path / "results"


def _problems(root, run: str, bench: str) -> pd.DataFrame:
    ckpt = Checkpoint(MODEL, "base" if run == "base" else TS, run)
    return pd.read_parquet(eval_path(root, grid.PROBLEMS_PATTERN, ckpt, bench))


def _per_problem(root, runs: list[str], bench: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """By hand: (mean over runs of each problem's share n_distinct/n, of its accuracy c/n, each run's mean share);
    every run of the synthetic grid answers the same problems in the same order."""
    frames = [_problems(root, r, bench) for r in runs]
    assert all(f["problem_id"].tolist() == frames[0]["problem_id"].tolist() for f in frames)
    share = np.array([[d / n for d, n in zip(f["n_distinct"], f["n"])] for f in frames])
    acc = np.array([[c / n for c, n in zip(f["c"], f["n"])] for f in frames])
    return share.mean(axis=0), acc.mean(axis=0), share.mean(axis=1)


def _bars(ax) -> dict[str, list[float]]:
    return {c.get_label(): [p.get_height() for p in c.patches] for c in ax.containers if isinstance(c, BarContainer)}


def _error_bars(ax) -> list[list[tuple[float, float]]]:
    """(low, high) of each error bar, one list per pooled method, in drawing order."""
    out = []
    for c in ax.containers:
        if isinstance(c, ErrorbarContainer):
            out.append([(min(s[:, 1]), max(s[:, 1])) for s in c.lines[2][0].get_segments()])
    return out


def _texts(fig) -> str:
    return "\n".join(t.get_text() for t in fig.findobj(lambda o: hasattr(o, "get_text")))


# ------------------------------------------------------------------------------------------------------------
# Pooling the per-problem tables of one method's runs


def _frame(ids, n, c, d):
    return pd.DataFrame({"problem_id": ids, "n": n, "c": c, "accuracy": np.asarray(c) / np.asarray(n), "n_distinct": d})


def test_pooled_problem_values_are_the_mean_over_seeds():
    seeds = [
        _frame(["p1", "p2", "p3"], 4, [1, 2, 4], [4, 2, 1]),
        _frame(["p1", "p2", "p3"], 4, [3, 2, 4], [2, 2, 1]),
        _frame(["p2", "p1", "p3", "p4"], 4, [2, 2, 4, 0], [3, 3, 1, 4]),
    ]  # other order, one extra problem
    out, run_shares = pool_problems(seeds, what="test")
    assert list(out.columns) == POOLED_COLUMNS
    assert out["problem_id"].tolist() == ["p1", "p2", "p3"]  # problems of every seed, first seed's order
    # p1: rates 1/4, 3/4, 2/4 -> 1/2; shares 4/4, 2/4, 3/4 -> 3/4.  p2: rates 1/2 each; shares 2/4, 2/4, 3/4.
    assert out["accuracy"].tolist() == pytest.approx([0.5, 0.5, 1.0], abs=1e-12)
    assert out["share"].tolist() == pytest.approx([0.75, 7 / 12, 0.25], abs=1e-12)
    assert out["n"].tolist() == [4, 4, 4]
    # each seed's mean share over the common problems: (4+2+1)/12, (2+2+1)/12, (3+3+1)/12
    assert run_shares.tolist() == pytest.approx([7 / 12, 5 / 12, 7 / 12], abs=1e-12)
    # a single run is its own values, all its problems kept
    one, shares = pool_problems(seeds[2:])
    assert one["problem_id"].tolist() == ["p2", "p1", "p3", "p4"]
    assert one["accuracy"].tolist() == [0.5, 0.5, 1.0, 0.0] and one["share"].tolist() == [0.75, 0.75, 0.25, 1.0]
    assert shares.tolist() == pytest.approx([2.75 / 4])


# ------------------------------------------------------------------------------------------------------------
# A seeded grid: GRPO and RS-GRPO (β=4) with seeds 1-3, RS-GRPO (β=0) and the base model single runs


GRPO = ["grpo.seed1", "grpo.seed2", "grpo.seed3"]
RS4 = ["rs_beta4.seed1", "rs_beta4.seed2", "rs_beta4.seed3"]


def test_fig7_panel_a_has_one_bar_per_method_with_the_mean_over_seeds(seeded):
    cfg, root = seeded
    fig = make_fig7(cfg, problems_files(cfg, root))
    ax_a = fig.axes[0]
    assert [t.get_text() for t in ax_a.get_legend().get_texts()] == [
        "Base model",
        "GRPO, mean of 3 seeds",
        "RS-GRPO (β=0)",
        "RS-GRPO (β=4), mean of 3 seeds",
    ]
    bars = _bars(ax_a)
    for label, runs in [
        ("Base model", ["base"]),
        ("GRPO, mean of 3 seeds", GRPO),
        ("RS-GRPO (β=0)", ["rs_beta0"]),
        ("RS-GRPO (β=4), mean of 3 seeds", RS4),
    ]:
        want = [100 * float(np.mean(_per_problem(root, runs, b)[0])) for b in BENCH]
        assert bars[label] == pytest.approx(want, abs=1e-9), label
    # error bars for the two pooled methods only: 95 % t-interval over the seeds' mean shares
    errs = _error_bars(ax_a)
    assert len(errs) == 2
    for runs, got in zip((GRPO, RS4), errs):
        for b, (lo, hi) in zip(BENCH, got):
            per_seed = _per_problem(root, runs, b)[2]
            mean, hw = float(per_seed.mean()), T975_2 * float(np.std(per_seed, ddof=1)) / math.sqrt(3)
            assert (lo, hi) == pytest.approx((100 * (mean - hw), 100 * (mean + hw)), abs=1e-9)
    ticks = [t.get_text() for t in ax_a.get_xticklabels()]
    assert ticks == ["math500\n24 problems, n=16", "aime24\n10 problems, n=64"]
    assert "t-interval over seeds" in ax_a.get_title()
    assert "mean over its seeds" in fig._suptitle.get_text()


def test_fig7_panel_b_is_the_transition_heatmap_over_seed_pairs(seeded):
    cfg, root = seeded
    fig = make_fig7(cfg, problems_files(cfg, root))  # default: the largest β, 4 (seeded)
    ax_b = fig.axes[1]
    assert len(ax_b.images) == 1 and ax_b.images[0].get_array().shape == (5, 5)
    assert ax_b.get_xlabel() == "RS-GRPO (β=4): per-problem accuracy c/n"
    assert ax_b.get_ylabel() == "GRPO: per-problem accuracy c/n"
    assert "9 seed pairs" in ax_b.get_title()
    assert "(b) run against run, pooled over seed pairs" in fig._suptitle.get_text()
    # β = 0 is a single run: 3 GRPO seeds × 1
    ax0 = make_fig7(cfg, problems_files(cfg, root), beta=0).axes[1]
    assert "3 seed pairs" in ax0.get_title() and ax0.get_xlabel().startswith("RS-GRPO (β=0)")
    with pytest.raises(ValueError, match="available βs are"):
        make_fig7(cfg, problems_files(cfg, root), beta=2)


def test_fig7_command_line_on_a_seeded_grid(seeded, tmp_path):
    cfg, root = seeded
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    out = tmp_path / "out" / "fig7"
    assert (
        cli.main(
            [
                "fig7",
                "--config",
                str(tmp_path / "config.json"),
                "--problems",
                *map(str, problems_files(cfg, root)),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert out.with_suffix(".png").stat().st_size > 0
    assert "GRPO, mean of 3 seeds" in out.with_suffix(".svg").read_text()


# ------------------------------------------------------------------------------------------------------------
# Without seeds every run is drawn from its own values, as before


def test_fig7_without_seeds_draws_each_run_as_is(unseeded):
    cfg, root = unseeded
    fig = make_fig7(cfg, problems_files(cfg, root))
    ax_a, ax_b = fig.axes
    labels = ["Base model", "GRPO", "RS-GRPO (β=0)", "RS-GRPO (β=4)"]
    assert [t.get_text() for t in ax_a.get_legend().get_texts()] == labels
    bars = _bars(ax_a)
    for label, run in zip(labels, ["base", "grpo", "rs_beta0", "rs_beta4"]):
        want = [
            100 * float((_problems(root, run, b)["n_distinct"] / _problems(root, run, b)["n"]).mean()) for b in BENCH
        ]
        assert bars[label] == want  # exactly the share of that run's table
    assert _error_bars(ax_a) == []
    assert ax_a.get_title() == f"(a) Share of distinct final answers — {MODEL}, trained on {TS}"
    assert fig._suptitle.get_text() == (
        "Fig. 7: diversity of answers and per-problem accuracy (n = samples per problem)"
    )
    assert "one run each" in ax_b.get_title() and ax_b.get_ylabel() == "GRPO: per-problem accuracy c/n"
    assert "seed" not in _texts(fig)


def test_fig7_with_one_seed_keeps_the_runs_name(tmp_path, paper_config):
    cfg = seeded_config(paper_config)
    cfg["grid"][0]["seeds"] = [2]
    _write(cfg, tmp_path / "results")
    fig = make_fig7(cfg, problems_files(cfg, tmp_path / "results"))
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == [
        "Base model",
        "GRPO, seed 2",
        "RS-GRPO (β=0)",
        "RS-GRPO (β=4), seed 2",
    ]
    assert _error_bars(fig.axes[0]) == []
    assert "one run each" in fig.axes[1].get_title()
