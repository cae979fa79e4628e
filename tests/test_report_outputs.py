"""Report stage: Table 2 and Figs. 4, 5, 7 built from synthetic evaluation and training outputs."""

from __future__ import annotations

import copy
import json
import re

import numpy as np
import pandas as pd
import pytest

from report_inputs import passk_file, problems_files, train_metrics_files, write_synthetic
from rsrl import config as rcfg
from rsrl import grid
from rsrl.methods import Checkpoint
from rsrl.report import __main__ as cli
from rsrl.report.beta_ablation import make_fig5
from rsrl.report.diversity import make_fig7
from rsrl.report.inputs import MissingInputError, read_passk
from rsrl.report.over_training import snapshot_curve
from rsrl.report.passk_curves import make_fig4
from rsrl.report.style import method_color, method_label, method_sort_key
from rsrl.report.table2 import make_table2

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def small_config(paper_config: dict, methods=None, evaluate_base=True) -> dict:
    cfg = copy.deepcopy(paper_config)
    cfg["grid"] = [
        {
            "models": ["Qwen2.5-Math-1.5B", "Qwen2.5-Math-7B"],
            "train_sets": ["math12k"],
            "methods": methods or [{"estimator": "grpo"}, {"estimator": "rs", "params": {"beta": [0, 4]}}],
        }
    ]
    cfg["benchmarks"] = {b: cfg["benchmarks"][b] for b in ("math500", "aime24")}
    cfg["evaluation"]["per_benchmark"] = {"math500": {"n": 16}, "aime24": {"n": 64}}
    cfg["evaluation"]["evaluate_base"] = evaluate_base
    cfg["training"].update(max_steps=20, save_steps=10, eval_steps=[10, 20])
    cfg.pop("report")
    return rcfg.validate(cfg)


def build(cfg: dict, root) -> None:
    write_synthetic(cfg, root / "results", seed=1, n_boot=50, n_problems={"math500": 40, "aime24": 12})


@pytest.fixture
def synthetic(tmp_path, paper_config):
    cfg = small_config(paper_config)
    build(cfg, tmp_path)
    cfg_path = tmp_path / "config.json"
    cfg_path.write_text(json.dumps(cfg))
    return cfg, tmp_path, cfg_path


def run_cli(*args) -> None:
    assert cli.main([str(a) for a in args]) == 0


def inputs(cfg: dict, results, command: str) -> list:
    """The input arguments of one report command: each file it reads, as the workflow passes them."""
    if command == "fig7":
        return ["--problems", *problems_files(cfg, results)]
    args = ["--passk", passk_file(results)]
    if command == "fig5":
        args += ["--train-metrics", *train_metrics_files(cfg, results)]
    return args


def figure_text(fig) -> str:
    texts = [t.get_text() for t in fig.findobj(lambda o: hasattr(o, "get_text"))]
    return "\n".join(texts)


# ------------------------------------------------------------------------------------------------------------
# Table 2


def test_table2_values_equal_passk_and_average_is_correct(synthetic):
    cfg, root, _ = synthetic
    passk = read_passk(root / "results" / "tables" / "passk.csv")
    table, _ = make_table2(cfg, passk)
    assert list(table.columns) == [
        "model",
        "train_set",
        "method",
        "estimator",
        "params",
        "metric",
        "math500",
        "aime24",
        "average",
        "n_seeds",
        "math500_ci_low",
        "math500_ci_high",
        "aime24_ci_low",
        "aime24_ci_high",
        "average_ci_low",
        "average_ci_high",
    ]
    # without seeds there is no summary row: the columns of the summaries over seeds are empty everywhere
    assert table.iloc[:, 9:].isna().all().all()
    # 2 models x (base + grpo + rs_beta0 + rs_beta4) x 2 metrics
    assert len(table) == 2 * 4 * 2
    final = passk[passk["step"].isna()]
    for _, row in table.iterrows():
        k = int(row["metric"].split("@")[1])
        for b in ("math500", "aime24"):
            src = final[
                (final["model"] == row["model"])
                & (final["train_set"] == row["train_set"])
                & (final["method"] == row["method"])
                & (final["benchmark"] == b)
                & (final["k"] == k)
            ]
            if b == "math500" and k == 32:  # n = 16 < 32: no unbiased estimate
                assert src.empty and np.isnan(row[b])
            else:
                assert len(src) == 1
                assert row[b] == src["pass_at_k"].iloc[0]
        expected = row["aime24"] if k == 32 else (row["math500"] + row["aime24"]) / 2
        assert row["average"] == pytest.approx(expected, abs=1e-12)
    rs = table[table["method"] == "rs_beta4"]
    assert (rs["estimator"] == "rs").all() and (rs["params"].map(json.loads) == {"beta": 4.0}).all()
    grpo = table[table["method"] == "grpo"]
    assert (grpo["estimator"] == "grpo").all() and (grpo["params"] == "{}").all()
    base = table[table["method"] == "base"]
    assert set(base["train_set"]) == {"base"} and (base["estimator"] == "").all() and (base["params"] == "").all()


def _md_blocks(md: str) -> list[list[list[str]]]:
    blocks, cur = [], None
    for line in md.splitlines():
        if line.startswith("| Method"):
            cur = []
            blocks.append(cur)
        elif line.startswith("|---"):
            continue
        elif line.startswith("| ") and cur is not None:
            cur.append([c.strip() for c in line.strip("|").split("|")])
        else:
            cur = None if not line.startswith("|") else cur
    return blocks


def test_table2_markdown_bolds_the_column_maximum(synthetic):
    cfg, root, cfg_path = synthetic
    run_cli("table2", "--config", cfg_path, *inputs(cfg, root / "results", "table2"), "--out", root / "out" / "table2")
    csv = pd.read_csv(root / "out" / "table2.csv")
    md = (root / "out" / "table2.md").read_text()
    assert "## pass@1" in md and "## pass@32" in md
    blocks = _md_blocks(md)
    assert len(blocks) == 2 * 2  # (pass@1, pass@32) x 2 models, one training set each
    n_bold = 0
    for block in blocks:
        for j in range(1, len(block[0])):
            cells = [r[j] for r in block]
            nums = [float(c.strip("*")) if c.strip("*") not in ("–",) else np.nan for c in cells]
            if all(np.isnan(nums)):
                assert not any(c.startswith("**") for c in cells)
                continue
            top = np.nanmax(nums)
            for c, v in zip(cells, nums):
                assert c.startswith("**") == (v == top), (block, j)
                n_bold += c.startswith("**")
    assert n_bold >= 2 * 2 * 2
    # Markdown values are the CSV's, in percent.
    base_row = csv[(csv["method"] == "base") & (csv["metric"] == "pass@1")].iloc[0]
    assert f"{100 * base_row['math500']:.1f}" in md


def test_table2_skips_metrics_with_k_above_every_n(synthetic):
    cfg, root, _ = synthetic
    cfg = copy.deepcopy(cfg)
    cfg["report"] = {"k_table": [1, 4096]}
    table, md = make_table2(cfg, read_passk(root / "results" / "tables" / "passk.csv"))
    assert set(table["metric"]) == {"pass@1"}
    assert "pass@4096" not in md


# ------------------------------------------------------------------------------------------------------------
# Figures


@pytest.mark.parametrize(
    "command,stem", [("fig4", "fig4_passk"), ("fig5", "fig5_beta_ablation"), ("fig7", "fig7_diversity")]
)
def test_figures_are_written(synthetic, command, stem):
    cfg, root, cfg_path = synthetic
    out = root / "figures" / stem
    run_cli(command, "--config", cfg_path, *inputs(cfg, root / "results", command), "--out", f"{out}.png")
    png, svg = out.with_suffix(".png"), out.with_suffix(".svg")
    assert png.read_bytes()[:8] == PNG_MAGIC and png.stat().st_size > 10_000
    assert svg.stat().st_size > 10_000 and "<svg" in svg.read_text()[:2000]


def test_fig4_draws_every_method_with_labels(synthetic):
    cfg, root, _ = synthetic
    fig = make_fig4(cfg, read_passk(root / "results" / "tables" / "passk.csv"))
    axes = [a for a in fig.axes if a.get_visible()]
    assert len(axes) == 2 * 2  # (model, train set) rows x benchmarks
    text = figure_text(fig)
    for label in ("Base model", "GRPO", "RS-GRPO (β=0)", "RS-GRPO (β=4)", "math500", "aime24", "40 problems, n=16"):
        assert label in text
    # one line per checkpoint per panel, on a log2 k axis up to n
    ax = axes[1]
    assert ax.get_xscale() == "log" and ax.get_xlim()[1] == 64
    assert len(ax.get_lines()) == 4
    one = make_fig4(cfg, read_passk(root / "results" / "tables" / "passk.csv"), model="Qwen2.5-Math-7B")
    assert len([a for a in one.axes if a.get_visible()]) == 2


def test_fig5_uses_snapshots_and_base_at_step_zero(synthetic):
    cfg, root, _ = synthetic
    passk = read_passk(root / "results" / "tables" / "passk.csv")
    fig = make_fig5(cfg, passk, train_metrics_files(cfg, root / "results"))
    test_axes = [a for a in fig.axes if a.get_visible() and "Test pass@" in a.get_title()]
    assert [a.get_title().split("\n")[0] for a in test_axes] == ["(c) Test pass@1", "(d) Test pass@32"]
    xs = sorted(set(test_axes[0].get_lines()[0].get_xdata()))
    assert xs == [0, 10, 20]  # base model, snapshot step 10, final checkpoint at max_steps


def test_passk_holds_the_snapshots_of_the_focus_cell(synthetic):
    cfg, root, _ = synthetic
    passk = read_passk(root / "results" / "tables" / "passk.csv")
    snap = passk[passk["step"].notna()]
    assert set(snap["method"]) == {"grpo.step10", "rs_beta0.step10", "rs_beta4.step10"}
    assert set(snap["model"]) == {"Qwen2.5-Math-1.5B"} and (snap["step"] == 10).all()
    assert set(zip(snap["method"], snap["base_method"])) == {
        ("grpo.step10", "grpo"),
        ("rs_beta0.step10", "rs_beta0"),
        ("rs_beta4.step10", "rs_beta4"),
    }
    assert snap.loc[snap["base_method"] == "rs_beta4", "beta"].eq(4.0).all()
    # The snapshot's values are its own evaluation's metrics.csv.
    ck = Checkpoint("Qwen2.5-Math-1.5B", "math12k", "rs_beta4", 10)
    m = pd.read_csv(root / grid.eval_file(grid.EVAL_METRICS_PATTERN, ck, "aime24"))
    m = m[m["metric"] == "pass@k"].set_index("k")["value"]
    got = snap[(snap["method"] == "rs_beta4.step10") & (snap["benchmark"] == "aime24")].set_index("k")["pass_at_k"]
    pd.testing.assert_series_equal(got.sort_index(), m.sort_index(), check_names=False, check_exact=False, rtol=1e-12)
    # Fig. 5's test curve: the base model at step 0, the snapshot, the final model at max_steps, each the mean
    # over the benchmarks.
    cur = snapshot_curve(cfg, passk, "Qwen2.5-Math-1.5B", "math12k", "rs_beta4", 1, ["math500", "aime24"])
    assert cur["step"].tolist() == [0, 10, 20]
    sel = passk[(passk["k"] == 1) & (passk["model"] == "Qwen2.5-Math-1.5B")]
    expected = [sel[sel["method"] == m]["pass_at_k"].mean() for m in ("base", "rs_beta4.step10", "rs_beta4")]
    assert cur["value"].tolist() == pytest.approx(expected, abs=1e-12)
    # Without the snapshot rows the curve has the base model and the final model only.
    cur = snapshot_curve(
        cfg, passk[passk["step"].isna()], "Qwen2.5-Math-1.5B", "math12k", "rs_beta4", 1, ["math500", "aime24"]
    )
    assert cur["step"].tolist() == [0, 20]


def test_fig7_compares_grpo_with_the_largest_beta(synthetic):
    cfg, root, _ = synthetic
    fig = make_fig7(cfg, problems_files(cfg, root / "results"))
    text = figure_text(fig)
    assert "GRPO → RS-GRPO (β=4)" in text
    assert "52 problems" in text  # 40 + 12 problems pooled
    with pytest.raises(ValueError, match="available βs are"):
        make_fig7(cfg, problems_files(cfg, root / "results"), beta=2.0)
    with pytest.raises(ValueError, match="fig7 --problems: the files passed do not match"):
        make_fig7(cfg, problems_files(cfg, root / "results")[:-1])


# ------------------------------------------------------------------------------------------------------------
# Missing inputs and incomplete grids


def test_missing_passk_names_the_file_and_producer(synthetic):
    cfg, root, cfg_path = synthetic
    (root / "results" / "tables" / "passk.csv").unlink()
    with pytest.raises(MissingInputError, match=r"tables/passk\.csv.*evaluat"):
        run_cli("table2", "--config", cfg_path, *inputs(cfg, root / "results", "table2"), "--out", root / "t2")


def test_missing_problems_and_train_metrics_are_named(synthetic):
    cfg, root, cfg_path = synthetic
    p = root / "results" / "eval" / "Qwen2.5-Math-1.5B" / "math12k" / "grpo" / "aime24" / "problems.parquet"
    p.unlink()
    with pytest.raises(MissingInputError, match=re.escape(str(p))):
        run_cli("fig7", "--config", cfg_path, *inputs(cfg, root / "results", "fig7"), "--out", root / "f7")
    m = root / "results" / "train" / "Qwen2.5-Math-1.5B" / "math12k" / "rs_beta4" / "metrics.csv"
    m.unlink()
    with pytest.raises(MissingInputError, match=re.escape(str(m)) + ".*train"):
        run_cli("fig5", "--config", cfg_path, *inputs(cfg, root / "results", "fig5"), "--out", root / "f5")


def test_grid_without_grpo_or_base_does_not_crash(tmp_path, paper_config):
    cfg = small_config(paper_config, methods=[{"estimator": "rs", "params": {"beta": [2]}}], evaluate_base=False)
    build(cfg, tmp_path)
    cfg_path = tmp_path / "config.json"
    cfg_path.write_text(json.dumps(cfg))
    for cmd in ("fig4", "fig5", "fig7", "table2"):
        run_cli(cmd, "--config", cfg_path, *inputs(cfg, tmp_path / "results", cmd), "--out", tmp_path / "out" / cmd)
    fig = make_fig7(cfg, problems_files(cfg, tmp_path / "results"))
    assert "panel skipped: no GRPO run" in figure_text(fig)
    fig5 = make_fig5(
        cfg, read_passk(tmp_path / "results" / "tables" / "passk.csv"), train_metrics_files(cfg, tmp_path / "results")
    )
    assert "only 1 RS-GRPO β" in figure_text(fig5)
    table = pd.read_csv(tmp_path / "out" / "table2.csv")
    assert set(table["method"]) == {"rs_beta2"}


def test_checkpoint_missing_from_passk_leaves_a_note(synthetic):
    cfg, root, _ = synthetic
    passk = read_passk(root / "results" / "tables" / "passk.csv")
    passk = passk[passk["method"] != "grpo"]
    fig = make_fig4(cfg, passk)
    assert "not evaluated: GRPO" in figure_text(fig)
    table, _ = make_table2(cfg, passk)
    assert table.loc[table["method"] == "grpo", ["math500", "aime24", "average"]].isna().all().all()


# ------------------------------------------------------------------------------------------------------------
# Ablation cell, checkpoints and style


def test_ablation_checkpoints_of_the_paper_grid(paper_config):
    cfg = rcfg.validate(paper_config)
    got = grid.snapshot_checkpoints(cfg)
    # the cell of Fig. 5's top row and Fig. 6 (every method) and Fig. 5's bottom row (GRPO and RS-GRPO only), in
    # config order: the paper's blocks, the ablation blocks, the extension
    small, medium = ("Qwen2.5-Math-1.5B", "deepmath103k"), ("Qwen2.5-Math-7B", "deepmath103k")
    runs = (
        [(small, m) for m in ("drgrpo", "pkpo_k4", "passk_mahdavi_k4", "passk_chen_k4", "rs_beta2")]
        + [(medium, m) for m in ("drgrpo", "rs_beta2")]
        + [(small, "rs_beta4"), (small, "rs_beta8")]
        + [(medium, "rs_beta4"), (medium, "rs_beta8"), (small, "riskpo_B4")]
    )
    assert [(c.model, c.train_set, c.id) for c in got] == [
        (*row, f"{m}.step{s}") for row, m in runs for s in (100, 200, 300, 400)
    ]


def test_focus_cell_default_and_errors(paper_config):
    cfg = copy.deepcopy(paper_config)
    cfg.pop("report")
    cfg["grid"] = [
        {
            "models": ["Qwen2.5-7B"],
            "train_sets": ["dapo17k"],
            "methods": [{"estimator": "rs", "params": {"beta": [2]}}],
        },
        {
            "models": ["Qwen3-4B-Base"],
            "train_sets": ["math12k"],
            "methods": [{"estimator": "grpo"}, {"estimator": "rs", "params": {"beta": [2, 8]}}],
        },
    ]
    valid = rcfg.validate(cfg)
    assert grid.focus_cell(valid) == ("Qwen3-4B-Base", "math12k")
    valid["report"] = {**valid["report"], "ablation": {"model": "Qwen2.5-Math-7B", "train_set": "math12k"}}
    with pytest.raises(ValueError, match="report.ablation"):
        grid.focus_cell(valid)
    # validation reports it too
    cfg["report"] = valid["report"]
    with pytest.raises(rcfg.ConfigError, match="report.ablation"):
        grid.validate(cfg)


def test_method_style_is_consistent_and_distinct():
    methods = ["base", "grpo", "rs_beta0", "rs_beta2", "rs_beta4", "rs_beta8"]
    colors = [method_color(m) for m in methods]
    assert len(set(colors)) == len(colors)
    assert method_color("rs_beta4") == method_color("rs_beta4.step100")
    assert method_label("rs_beta0.5") == "RS-GRPO (β=0.5)"
    assert method_label("grpo.step100") == "GRPO, step 100"
    assert sorted(reversed(methods), key=method_sort_key) == methods
