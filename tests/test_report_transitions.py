"""Fig. 7(b): per-problem accuracy bins and the reference → RS-GRPO transition matrix, against a brute-force count
over every (reference seed, method seed) pair on synthetic per-problem tables."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

from report_inputs import MODEL, TS, eval_path, problems_files, seeded_config, unseeded_config, write_synthetic
from rsrl import grid
from rsrl.methods import Checkpoint
from rsrl.report import __main__ as cli
from rsrl.report import transitions as tr
from rsrl.report.diversity import make_fig7, make_transitions

BENCH = ("math500", "aime24")


@pytest.fixture(autouse=True)
def _close_figures():
    import matplotlib.pyplot as plt

    yield
    plt.close("all")


def _bin_by_hand(c: int, n: int) -> int:
    a = Fraction(c, n)
    if a == 0:
        return 0
    if a <= Fraction(2, 5):
        return 1
    if a <= Fraction(4, 5):
        return 2
    return 3 if a < 1 else 4


def test_bins_are_exact_at_their_edges():
    cases = [(0, 10), (1, 1000), (2, 5), (4, 10), (41, 100), (4, 5), (81, 100), (999, 1000), (7, 7), (1, 3), (2, 3)]
    got = tr.bin_index([c for c, _ in cases], [n for _, n in cases])
    assert got.tolist() == [_bin_by_hand(c, n) for c, n in cases] == [0, 1, 1, 1, 2, 2, 3, 3, 4, 1, 2]
    with pytest.raises(ValueError):
        tr.bin_index([3], [2])


def test_counts_match_a_loop_over_problems():
    rng = np.random.default_rng(0)
    n = 8
    ids = [f"p{i}" for i in range(40)]
    ref = pd.DataFrame({"problem_id": ids, "n": n, "c": rng.integers(0, n + 1, 40)})
    met = pd.DataFrame({"problem_id": ids[::-1][:35], "n": n, "c": rng.integers(0, n + 1, 35)})
    want = np.zeros((5, 5), dtype=int)
    cm = dict(zip(met["problem_id"], met["c"]))
    for pid, c in zip(ref["problem_id"], ref["c"]):
        if pid in cm:
            want[_bin_by_hand(int(c), n), _bin_by_hand(int(cm[pid]), n)] += 1
    assert (tr.transition_counts(ref, met) == want).all() and want.sum() == 35


def _problems(root, run, bench):
    return pd.read_parquet(eval_path(root, grid.PROBLEMS_PATTERN, Checkpoint(MODEL, TS, run), bench))


def _pairs_by_hand(root, ref_runs, met_runs) -> list[np.ndarray]:
    out = []
    for r in ref_runs:
        for m in met_runs:
            counts = np.zeros((5, 5), dtype=int)
            for b in BENCH:
                fr, fm = _problems(root, r, b), _problems(root, m, b)
                cm = {p: (int(c), int(n)) for p, c, n in zip(fm["problem_id"], fm["c"], fm["n"])}
                for p, c, n in zip(fr["problem_id"], fr["c"], fr["n"]):
                    counts[_bin_by_hand(int(c), int(n)), _bin_by_hand(*cm[p])] += 1
            out.append(counts)
    return out


@pytest.fixture
def seeded(tmp_path, paper_config):
    cfg = seeded_config(paper_config)
    write_synthetic(cfg, tmp_path / "results", seed=5, n_boot=10, n_problems={"math500": 24, "aime24": 10})
    return cfg, tmp_path / "results"


def test_pooled_over_seed_pairs_with_the_spread(seeded, tmp_path):
    cfg, root = seeded
    fig, matrix, head, md = make_transitions(cfg, problems_files(cfg, root))
    pairs = _pairs_by_hand(root, [f"grpo.seed{s}" for s in (1, 2, 3)], [f"rs_beta4.seed{s}" for s in (1, 2, 3)])
    pooled = sum(pairs)
    assert len(pairs) == 9 and pooled.sum() == 9 * 34
    m = matrix.set_index(["reference_bin", "method_bin"])
    for i, fb in enumerate(tr.BINS):
        for j, tb in enumerate(tr.BINS):
            row = m.loc[(fb, tb)]
            assert row["count"] == pooled[i, j]
            assert row["share"] == pytest.approx(pooled[i, j] / pooled.sum(), abs=1e-12)
            per = [p[i, j] / p.sum() for p in pairs]
            assert (row["share_min"], row["share_max"]) == pytest.approx((min(per), max(per)), abs=1e-12)
    h = head.iloc[0]
    assert (h["reference"], h["method"], h["n_pairs"], h["n_problems"]) == ("grpo", "rs_beta4", 9, 34)
    unsolved = pooled[0].sum()
    assert h["share"] == pytest.approx(pooled[0, 1] / unsolved if unsolved else np.nan, nan_ok=True)
    assert h["share_of_all"] == pytest.approx(pooled[0, 1] / pooled.sum())
    per_pair = [p[0, 1] / p[0].sum() for p in pairs if p[0].sum()]
    if per_pair:
        assert (h["share_min"], h["share_max"]) == pytest.approx((min(per_pair), max(per_pair)))
    assert h["paper"] == tr.PAPER_SHARE and h["delta"] == pytest.approx(h["share"] - tr.PAPER_SHARE, nan_ok=True)
    assert "| grpo" not in md and "GRPO → RS-GRPO (β=4)" in md and "0.08" in md
    # the heatmap shows the pooled shares
    ax = fig.axes[0]
    assert np.allclose(ax.images[0].get_array(), pooled / pooled.sum())
    assert "9 seed pairs" in ax.get_title()
    # the command line writes the figure and both tables
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    out = tmp_path / "out"
    assert (
        cli.main(
            [
                "fig7b",
                "--config",
                str(tmp_path / "config.json"),
                "--problems",
                *map(str, problems_files(cfg, root)),
                "--out",
                str(out / "fig7b_unsolved.csv"),
                "--matrix-out",
                str(out / "fig7b_transitions.csv"),
                "--figure",
                str(out / "fig7b.png"),
            ]
        )
        == 0
    )
    assert list(pd.read_csv(out / "fig7b_unsolved.csv").columns) == tr.HEADLINE_COLUMNS
    assert len(pd.read_csv(out / "fig7b_transitions.csv")) == 25
    assert (out / "fig7b.png").stat().st_size > 0 and (out / "fig7b_unsolved.md").read_text().startswith("# Fig. 7(b)")
    # Fig. 7's panel (b) is the same heatmap
    fig7 = make_fig7(cfg, problems_files(cfg, root))
    assert np.allclose(fig7.axes[1].images[0].get_array(), pooled / pooled.sum())


def test_one_run_each_and_one_problem_draw_without_spread(tmp_path, paper_config):
    cfg = unseeded_config(paper_config)
    root = tmp_path / "results"
    write_synthetic(cfg, root, seed=1, n_boot=10, n_problems={"math500": 1, "aime24": 1})
    fig, matrix, head, md = make_transitions(cfg, problems_files(cfg, root))
    (pair,) = _pairs_by_hand(root, ["grpo"], ["rs_beta4"])
    assert pair.sum() == 2 and np.allclose(fig.axes[0].images[0].get_array(), pair / 2)
    assert "one run each" in fig.axes[0].get_title() and "(one pair)" in md
    assert head.iloc[0]["n_pairs"] == 1 and np.isfinite(matrix["share"]).all()
    # no RS-GRPO in the cell: a note, empty tables, no exception
    cfg2 = json.loads(json.dumps(cfg))
    cfg2["grid"] = [dict(cfg2["grid"][0], methods=[{"estimator": "grpo"}])]
    files = [f for f in problems_files(cfg, root) if "rs_beta" not in str(f)]
    fig, matrix, head, md = make_transitions(cfg2, files)
    assert head.empty and matrix.empty and "panel skipped" in " ".join(t.get_text() for t in fig.axes[0].texts)
