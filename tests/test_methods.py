"""Method names (rsrl.methods) and the grid (rsrl.grid): exact round trips, one registry for estimators and their
parameters, and an estimator registered at test time flowing through the grid, the DAG, the tables and the labels
with no other code change."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from fractions import Fraction

import numpy as np
import pytest
import yaml

from rsrl import config as rcfg
from rsrl import estimators, grid, shard_plan
from rsrl import methods as mth


@pytest.mark.parametrize(
    "beta",
    [0.0, 2.0, 0.5, 1 / 3, 2.0000001, 1e-9, 1e300, 7.0, 123456789.125, float(Fraction(2, 7)), np.nextafter(2.0, 3.0)],
)
def test_rs_ids_round_trip_exactly(beta):
    m = mth.Method.of("rs", {"beta": beta})
    back = mth.parse(m.id)
    assert back == m and back.param_dict["beta"] == beta  # bit for bit, not approximately
    assert m.id.startswith("rs_beta") and "/" not in m.id


def test_close_betas_name_different_methods_and_labels_stay_short():
    a, b = mth.Method.of("rs", {"beta": 2.0}), mth.Method.of("rs", {"beta": 2.0000001})
    assert a.id == "rs_beta2" and b.id == "rs_beta2.0000001" and a != b
    assert mth.Method.of("rs", {"beta": 1 / 3}).label == "RS-GRPO (β=0.333333)"
    assert mth.label("rs_beta4.step20") == "RS-GRPO (β=4), step 20"
    assert mth.label("base") == "Base model" and mth.label("grpo") == "GRPO"


def test_default_parameters_do_not_name_a_method():
    assert mth.Method.of("grpo", {"eps": 1e-6}).id == "grpo"
    assert mth.Method.of("grpo", {"eps": 1e-5}).id == "grpo_eps1e-05"
    assert mth.parse("grpo_eps1e-05_unbiasedfalse").param_dict == {"eps": 1e-5, "unbiased": False}


@pytest.mark.parametrize("bad", ["ppo", "rs_gamma2", "rs_beta", "rs_betax", "grpo_unbiasedmaybe"])
def test_parse_rejects_what_the_grammar_cannot_read(bad):
    with pytest.raises(mth.MethodError):
        mth.parse(bad)


def test_checkpoint_ids_and_sort_order():
    assert mth.split_checkpoint("rs_beta2.step100") == ("rs_beta2", 100)
    assert mth.split_checkpoint("grpo") == ("grpo", None)
    ids = ["rs_beta8", "rs_beta2.step20", "grpo", "rs_beta2", "base", "rs_beta0"]
    assert sorted(ids, key=mth.sort_key) == ["base", "grpo", "rs_beta0", "rs_beta2", "rs_beta2.step20", "rs_beta8"]


def test_registry_is_the_only_list_of_estimators_and_parameters():
    assert {"grpo", "drgrpo", "rloo", "rs"} <= set(estimators.names())
    for name in estimators.names():
        spec = estimators.spec(name)
        assert spec.label and spec.examples
        for ex in spec.examples:  # every example builds a method that round-trips
            m = mth.Method.of(name, ex)
            assert mth.parse(m.id) == m


# --------------------------------------------------------------------------------------------------------------
# An estimator registered at test time: one decorated function, nothing else.

TOY = textwrap.dedent("""
    import numpy as np
    from rsrl import estimators

    @estimators.register("toy_topk", label="Top-k toy", params=(
        estimators.Param("k", int, minimum=1, symbol="k", doc="how many of the best samples get credit"),
    ), check=lambda p, ctx: (_ for _ in ()).throw(ValueError(f"k={p['k']} > group size {ctx['group_size']}"))
       if "group_size" in ctx and p["k"] > ctx["group_size"] else None, examples=[{"k": 2}])
    def toy_topk(rewards, k):
        x, back = estimators.to_work(rewards)
        ranks = np.argsort(np.argsort(-x, axis=-1), axis=-1)
        return back(np.where(ranks < k, 1.0, 0.0) - k / x.shape[-1])
""")


@pytest.fixture
def toy_estimator():
    ns: dict = {}
    exec(compile(TOY, "toy_estimator", "exec"), ns)
    yield "toy_topk"
    estimators.unregister("toy_topk")


def _toy_config(repo) -> dict:
    cfg = yaml.safe_load((repo / "config" / "demo.yaml").read_text())
    cfg["grid"] = [
        {
            "models": ["tiny-qwen2"],
            "train_sets": ["sums"],
            "trainer": "trl",
            "methods": [
                {"estimator": "rs", "params": {"beta": [0, 8]}},
                {"estimator": "toy_topk", "params": {"k": [2, 4]}},
            ],
        }
    ]
    for fig in ("ablation", "comparison"):
        cfg["report"][fig]["benchmarks"] = ["sums_test"]
    return cfg


def test_a_new_estimator_reaches_cells_tables_and_labels(repo, toy_estimator):
    cfg = rcfg.validate(_toy_config(repo))
    assert [c.method_id for c in grid.cells(cfg)] == ["rs_beta0", "rs_beta8", "toy_topk_k2", "toy_topk_k4"]
    evaluated = {c.id for c, _ in grid.eval_targets(cfg)}
    assert {"toy_topk_k2", "toy_topk_k4", "toy_topk_k4.step30", "toy_topk_k2.step30"} <= evaluated
    from rsrl.evaluate.aggregate import checkpoint_keys
    from rsrl.report.style import method_color, method_label

    keys = checkpoint_keys(grid.Checkpoint("tiny-qwen2", "sums", "toy_topk_k4", 30), "sums_test")
    assert keys["method"] == "toy_topk_k4.step30" and keys["estimator"] == "toy_topk"
    assert json.loads(keys["params"]) == {"k": 4} and keys["step"] == 30
    assert method_label("toy_topk_k4") == "Top-k toy (k=4)"
    assert method_color("toy_topk_k2") == method_color("toy_topk_k4") != method_color("rs_beta8")
    assert grid.methods_of(cfg, "tiny-qwen2", "sums") == ["rs_beta0", "rs_beta8", "toy_topk_k2", "toy_topk_k4"]
    # A parameter value the estimator refuses fails at config validation, naming the key.
    bad = _toy_config(repo)
    bad["grid"][0]["methods"][1]["params"]["k"] = [2, 9]
    with pytest.raises(rcfg.ConfigError, match=r"grid\[0\]\.methods\[1\]\.params.*k=9 > group size 8"):
        rcfg.validate(bad)


@pytest.mark.slow
def test_a_new_estimator_builds_the_demo_dag(repo, tmp_path):
    """Snakemake, in a process where the toy estimator is registered, plans its training, snapshot and
    evaluation jobs like any other method's."""
    cfg_path = tmp_path / "toy.yaml"
    cfg_path.write_text(yaml.safe_dump(_toy_config(repo)))
    script = TOY + textwrap.dedent(f"""
        import sys
        from snakemake.cli import main
        sys.argv = ["snakemake", "-n", "all", "--configfile", {str(cfg_path)!r}, "--profile", "local",
                    "--directory", {str(tmp_path)!r}, "--snakefile", {str(repo / "Snakefile")!r}, "--quiet", "rules"]
        main()
    """)
    r = subprocess.run([sys.executable, "-c", script], cwd=repo, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    counts = {
        line.split()[0]: int(line.split()[1])
        for line in r.stdout.splitlines()
        if len(line.split()) == 2 and line.split()[1].isdigit()
    }
    assert counts["train_cell"] == 4  # rs_beta0, rs_beta8, toy_topk_k2, toy_topk_k4
    assert counts["export_step"] == 4  # a snapshot at step 30 of each of the focus cell's four methods
    # base + 4 final models on 2 benchmarks, 4 snapshots on the ablation's one benchmark
    assert counts["score"] == (1 + 4) * 2 + 4


def test_grid_layout_has_one_path_per_output(repo):
    cfg = rcfg.load(repo / "config" / "demo.yaml")
    c = grid.cell(cfg, "tiny-qwen2", "sums", "rs_beta2")
    assert grid.model_dir(c.model, c.train_set, c.method_id) == "results/train/tiny-qwen2/sums/rs_beta2/model"
    ck = c.checkpoint(30)
    assert grid.checkpoint_source(cfg, ck) == "results/train/tiny-qwen2/sums/rs_beta2/steps/step30"
    assert (
        grid.eval_file(grid.PROBLEMS_PATTERN, ck, "sums_test")
        == "results/eval/tiny-qwen2/sums/rs_beta2.step30/sums_test/problems.parquet"
    )
    assert grid.checkpoint_source(cfg, grid.base_checkpoint("tiny-qwen2")) == "results/models/tiny-qwen2/base"
    paper = rcfg.load(repo / "config" / "config.yaml")
    assert grid.checkpoint_inputs(paper, grid.base_checkpoint("Qwen2.5-Math-7B")) == []
    assert grid.checkpoint_source(paper, grid.base_checkpoint("Qwen2.5-Math-7B")) == "Qwen/Qwen2.5-Math-7B"


def test_snapshots_only_for_the_focus_cell(repo, paper_config):
    cfg = rcfg.validate(paper_config)
    fc = grid.focus_cell(cfg)
    assert fc == (cfg["report"]["ablation"]["model"], cfg["report"]["ablation"]["train_set"])
    rows = {(r["model"], r["train_set"]) for r in cfg["report"]["ablation_rows"]}  # Fig. 5's further rows
    assert rows and {(c.model, c.train_set) for c in grid.snapshot_cells(cfg)} == {fc} | rows
    assert all(s < cfg["training"]["max_steps"] for s in grid.snapshot_steps(cfg))


def test_sampling_batches_cover_every_shard_once_per_run(repo):
    from rsrl.evaluate.shards import eval_settings, shard_ids

    cfg = rcfg.load(repo / "config" / "demo.yaml")
    assert cfg["evaluation"]["sample_jobs"] == "run"
    batches = shard_plan.sample_batches(cfg)
    shards = [
        (c, b, p, s)
        for c, b in grid.eval_targets(cfg)
        for p, s in shard_ids(*(eval_settings(cfg, b)[k] for k in ("n", "problem_shards", "samples_per_shard")))
    ]
    got = [t for b in batches for t in b.targets]
    assert len(got) == len(set(got)) and set(got) == set(shards)  # every shard, in exactly one batch
    runs = [(b.model, b.train_set, b.run) for b in batches]
    assert len(set(runs)) == len(runs) == 1 + len(grid.cells(cfg))  # the base model and every cell's run
    assert [b.rule for b in batches] == [f"sample_run_{i}" for i in range(len(batches))]
    b = shard_plan.sample_batch(cfg, "tiny-qwen2", "sums", "grpo.seed2")
    assert [c.id for c in b.checkpoints()] == ["grpo.seed2", "grpo.seed2.step30"]
    assert {(c.id, bench) for c, bench, _, _ in b.targets} == {
        ("grpo.seed2", "sums_train"),
        ("grpo.seed2", "sums_test"),
        ("grpo.seed2.step30", "sums_test"),
    }
    with pytest.raises(grid.GridError, match="not a sampling batch"):
        shard_plan.sample_batch(cfg, "tiny-qwen2", "sums", "grpo.seed9")
    cfg["evaluation"]["sample_jobs"] = "shard"
    assert shard_plan.sample_batches(cfg) == []


def test_group_size_runs_name_their_n():
    """A group-size ablation run ``<method>.n<N>``: parsed, labelled and ordered by N, seeds and steps as before."""
    assert mth.run_id("rs_beta2", None, 4) == "rs_beta2.n4" and mth.run_id("grpo", 1, 8) == "grpo.n8.seed1"
    assert mth.split_group("rs_beta2.n32") == ("rs_beta2", 32)
    assert mth.split_group("grpo.n8.seed1") == ("grpo.seed1", 8)
    assert mth.split_group("rs_beta0.5") == ("rs_beta0.5", None)
    assert mth.parts("rs_beta2.n32.step100") == ("rs_beta2", None, 100)
    assert mth.label("rs_beta2.n4") == "RS-GRPO (β=2), N=4"
    runs = ["grpo.n32", "grpo", "grpo.n4", "grpo.n8.seed1"]
    assert sorted(runs, key=mth.sort_key) == ["grpo", "grpo.n4", "grpo.n8.seed1", "grpo.n32"]
