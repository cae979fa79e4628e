"""Config validation: the paper config is valid, and bad configs fail early, naming the key and allowed values."""

from __future__ import annotations

import copy

import pytest
import yaml

from conftest import REPO
from rsrl import config as rcfg
from rsrl import grid


def test_paper_config_is_valid_and_expands_the_grid(paper_config):
    cfg = rcfg.validate(paper_config)
    cells = grid.cells(cfg)
    # The paper's 21 runs (its results table), Fig. 5's betas 4 and 8 on both rows, Fig. 4's beta = 8 on the five
    # other Table 2 cells, and RiskPO; Fig. 11's 6 runs (N in {4, 8, 32}) only when switched on.
    assert len(cells) == 21 + 2 * 2 + 5 + 1
    fig11 = [c for c in grid.cells(cfg, include_disabled=True) if c.group_size is not None]
    assert sorted(c.run_id for c in fig11) == sorted(f"{m}.n{n}" for m in ("drgrpo", "rs_beta2") for n in (4, 8, 32))
    for c in fig11:
        t = grid.for_cell(cfg, c)["training"]
        assert t["n_samples_per_prompt"] * t["rollout_batch_size"] == t["train_batch_size"] == 2048
    by_row: dict = {}
    for c in cells:
        by_row.setdefault((c.model, c.train_set), []).append(c.method_id)
    assert sorted(by_row[("Qwen2.5-Math-1.5B", "deepmath103k")]) == sorted(
        ["drgrpo", "pkpo_k4", "passk_mahdavi_k4", "passk_chen_k4", "rs_beta2", "rs_beta4", "rs_beta8", "riskpo_B4"]
    )
    assert by_row[("Qwen2.5-Math-7B", "deepmath103k")] == [
        "drgrpo",
        "passk_mahdavi_k4",
        "passk_chen_k4",
        "rs_beta2",
        "rs_beta4",
        "rs_beta8",
    ]
    assert by_row[("Qwen2.5-Math-7B", "dapo17k")] == [
        "drgrpo",
        "passk_mahdavi_k4",
        "passk_chen_k4",
        "rs_beta2",
        "rs_beta8",
    ]
    for m in ("Qwen2.5-Math-7B", "Qwen2.5-7B", "Qwen3-4B-Base", "Llama-3.1-8B-Instruct"):
        assert by_row[(m, "math12k")] == ["drgrpo", "rs_beta2", "rs_beta8"]
    # every row of the paper's table is a configured cell, through report.paper_methods
    from rsrl.report.paper_comparison import method_map, read_reference

    ids = method_map(cfg)
    ref = read_reference(REPO / "reference" / "rs_grpo_table2.csv")
    for r in ref.drop_duplicates(["model", "train_set", "method"]).itertuples():
        if r.method != "base":
            assert ids[r.method] in by_row[(r.model, r.train_set)], r
    assert len(set(cells)) == len(cells)
    # base models are evaluated with the same rules; snapshots only on Fig. 5's two rows (one also Fig. 6's cell)
    assert len([c for c in grid.checkpoints(cfg) if c.is_base]) == 5
    assert {(c.model, c.train_set) for c in grid.snapshot_cells(cfg)} == {
        ("Qwen2.5-Math-1.5B", "deepmath103k"),
        ("Qwen2.5-Math-7B", "deepmath103k"),
    }


def test_defaults_are_filled(paper_config):
    cfg = copy.deepcopy(paper_config)
    cfg.pop("data_dir")
    out = rcfg.validate(cfg)
    assert out["data_dir"] == "../shared/data"
    assert out["size_classes"]["small"]["tensor_parallel"] == 1


def test_defaults_live_in_the_schema(paper_config):
    cfg = copy.deepcopy(paper_config)
    for key in ("seed", "eval_steps"):
        cfg["training"].pop(key, None)
    cfg.pop("report", None)
    out = rcfg.validate(cfg)
    assert out["training"]["seed"] == 42 and out["training"]["eval_steps"] == []
    assert out["report"]["k_table"] == [1, 32]
    assert out["evaluation"]["grader"]  # every grader setting has a schema default


def test_grid_is_a_union_of_blocks(paper_config):
    cfg = copy.deepcopy(paper_config)
    cfg.pop("setup_record")  # unnamed blocks: not the paper's setup
    cfg["grid"] = [
        {
            "models": ["Qwen2.5-Math-1.5B"],
            "train_sets": ["math12k"],
            "methods": [{"estimator": "rs", "params": {"beta": [2]}}],
        },
        {"models": ["Qwen2.5-Math-7B"], "train_sets": ["dapo17k"], "methods": [{"estimator": "grpo"}]},
    ]
    cfg["report"] = {}
    got = [c.key for c in grid.cells(rcfg.validate(cfg))]
    assert got == ["Qwen2.5-Math-1.5B/math12k/rs_beta2", "Qwen2.5-Math-7B/dapo17k/grpo"]


def _set(cfg, path, value):
    node = cfg
    keys = path.split("/")
    for k in keys[:-1]:
        node = node[int(k)] if isinstance(node, list) else node[k]
    last = keys[-1]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


def _delete(cfg, path):
    node = cfg
    keys = path.split("/")
    for k in keys[:-1]:
        node = node[int(k)] if isinstance(node, list) else node[k]
    del node[keys[-1]]


BAD = [
    # (description, mutate, substrings the message must contain)
    ("misspelt top-level key", lambda c: c.update(trainig=c["training"]), ["trainig", "allowed keys", "training"]),
    ("misspelt nested key", lambda c: _set(c, "training/learnig_rate", 1e-6), ["training", "learnig_rate"]),
    (
        "negative beta",
        lambda c: _set(c, "grid/0/methods/4/params", {"beta": [2, -1]}),
        ["grid[0].methods[4].params", "'beta'", ">= 0", "-1"],
    ),
    (
        "infinite beta",
        lambda c: _set(c, "grid/0/methods/4/params", {"beta": [float("inf")]}),
        ["grid[0].methods[4].params", "'beta'", "finite"],
    ),
    (
        "nan beta",
        lambda c: _set(c, "grid/0/methods/4/params", {"beta": float("nan")}),
        ["grid[0].methods[4].params", "'beta'", "finite"],
    ),
    ("unknown estimator", lambda c: _set(c, "grid/0/methods/0/estimator", "ppo"), ["estimator", "'ppo'", "rs"]),
    (
        "misspelt parameter",
        lambda c: _set(c, "grid/0/methods/4/params", {"betta": [2]}),
        ["grid[0].methods[4].params", "betta", "allowed parameters", "beta"],
    ),
    (
        "two values naming one method",
        lambda c: _set(c, "grid/0/methods/4/params", {"beta": [2, 2.0]}),
        ["duplicate cell", "rs_beta2"],
    ),
    (
        "unknown benchmark in evaluation",
        lambda c: _set(c, "evaluation/per_benchmark/aime26", {"n": 4}),
        ["evaluation.per_benchmark.aime26", "math500"],
    ),
    (
        "unknown benchmark excluded",
        lambda c: _set(c, "train_sets/math12k/exclude_benchmark", "math5000"),
        ["exclude_benchmark", "math5000", "math500"],
    ),
    ("model without size class", lambda c: _delete(c, "models/Qwen2.5-7B/size"), ["models.Qwen2.5-7B", "size"]),
    (
        "model with undefined size class",
        lambda c: _set(c, "models/Qwen2.5-7B/size", "huge"),
        ["models.Qwen2.5-7B.size", "huge", "small"],
    ),
    (
        "duplicate cell across blocks",
        lambda c: c["grid"].append(
            {
                "models": ["Qwen2.5-7B"],
                "train_sets": ["math12k"],
                "methods": [{"estimator": "rs", "params": {"beta": 2}}],
            }
        ),
        ["duplicate cell", "Qwen2.5-7B/math12k/rs_beta2"],
    ),
    ("unknown model in grid", lambda c: _set(c, "grid/0/models", ["Qwen9"]), ["grid[0].models", "Qwen9"]),
    (
        "unknown training set in grid",
        lambda c: _set(c, "grid/0/train_sets", ["gsm8k"]),
        ["grid[0].train_sets", "gsm8k", "math12k"],
    ),
    ("rs without beta", lambda c: _set(c, "grid/0/methods", [{"estimator": "rs"}]), ["'rs'", "needs", "beta"]),
    (
        "beta on a method without it",
        lambda c: _set(c, "grid/0/methods", [{"estimator": "grpo", "params": {"beta": [1]}}]),
        ["beta", "grpo", "allowed parameters"],
    ),
    (
        "wrong parameter type",
        lambda c: _set(c, "grid/0/methods", [{"estimator": "rs", "params": {"beta": "2"}}]),
        ["'beta'", "finite number", "'2'"],
    ),
    (
        "unknown loader",
        lambda c: _set(c, "benchmarks/math500/loader", "csvv"),
        ["benchmarks.math500.loader", "columns"],
    ),
    ("unknown trainer", lambda c: _set(c, "training/trainer", "verl"), ["training.trainer", "openrlhf", "trl"]),
    ("n out of range", lambda c: _set(c, "evaluation/per_benchmark/aime24", {"n": 0}), ["aime24.n", "minimum"]),
    (
        "source without hub or local",
        lambda c: _set(c, "benchmarks/cmimc25", {"loader": "columns"}),
        ["benchmarks.cmimc25", "hub", "local"],
    ),
    (
        "model with neither hf_id nor build",
        lambda c: _set(c, "models/Qwen2.5-7B", {"size": "small"}),
        ["models.Qwen2.5-7B", "hf_id", "build"],
    ),
    ("wrong type", lambda c: _set(c, "training/max_steps", "many"), ["training.max_steps", "integer"]),
    (
        "eval step beyond max_steps",
        lambda c: _set(c, "training/eval_steps", [100, 600]),
        ["training.eval_steps", "600", "max_steps"],
    ),
    (
        "k beyond the group size",
        lambda c: _set(c, "grid/0/methods/1/params", {"k": 17}),
        ["grid[0].methods[1].params", "k = 17", "group size N = 16"],
    ),
    (
        "RiskPO bundle that does not divide the batch",
        lambda c: _set(c, "grid/8/methods/0/params", {"B": 5}),
        ["grid[8].methods[0].params", "5", "128"],
    ),
    (
        "clip bounds with high below low",
        lambda c: _set(c, "training/eps_clip_high", 0.1),
        ["training.eps_clip_high", "0.1"],
    ),
    (
        "dynamic sampling with an empty reward range",
        lambda c: _set(c, "training/dynamic_sampling/reward_range", [1, 0]),
        ["training.dynamic_sampling.reward_range"],
    ),
    (
        "group-size ablation whose total batch does not divide",
        lambda c: _set(c, "grid/7/total_batch", 2000),
        ["grid[7].total_batch", "2000", "[32]"],
    ),
    ("setting without a setup record entry", lambda c: _set(c, "evaluation/n", 4), ["evaluation.n", "setup record"]),
    (
        "OpenRLHF eval step not at a checkpoint",
        lambda c: _set(c, "training/eval_steps", [100, 125]),
        ["training.eval_steps", "125", "save_steps"],
    ),
    (
        "OpenRLHF batch sizes that do not divide",
        lambda c: _set(c, "training/micro_train_batch_size", 3),
        ["train_batch_size", "micro_train_batch_size"],
    ),
    (
        "k_table entry that is not computed",
        lambda c: _set(c, "report/k_table", [1, 10]),
        ["report.k_table", "pass@10", "1, 2, 4", "n itself"],
    ),
    (
        "k_table entry above every n",
        lambda c: _set(c, "report/k_table", [1, 2048]),
        ["report.k_table", "pass@2048", "1024"],
    ),
    (
        "model name with a trailing newline",
        lambda c: c["models"].update({"tiny\n": c["models"]["Qwen2.5-7B"]}),
        ["config key models", repr("tiny\n"), "does not match"],
    ),
    (
        "name in both train sets and benchmarks",
        lambda c: c["benchmarks"].update(math12k=c["benchmarks"]["math500"]),
        ["math12k", "both"],
    ),
]


@pytest.mark.parametrize("desc,mutate,expected", BAD, ids=[b[0] for b in BAD])
def test_bad_config_fails_with_named_key(paper_config, desc, mutate, expected):
    cfg = copy.deepcopy(paper_config)
    mutate(cfg)
    with pytest.raises(rcfg.ConfigError) as info:
        grid.validate(cfg)
    msg = str(info.value)
    for s in expected:
        assert s in msg, f"{desc}: {s!r} not in message {msg!r}"


def test_duplicate_yaml_keys_and_tags_fail_naming_the_file(tmp_path):
    dup = tmp_path / "dup.yaml"
    dup.write_text("data_source: hub\ntraining:\n  seed: 1\n  seed: 2\n")
    with pytest.raises(rcfg.ConfigError, match=r"dup.yaml: key 'seed' appears twice .*lines 3 and 4"):
        rcfg.load(dup)
    tag = tmp_path / "tag.yaml"
    tag.write_text("data_source: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(rcfg.ConfigError, match=r"tag.yaml: .*tag.*YAML tags"):
        rcfg.load(tag)


def test_load_merges_files_and_reports_missing(tmp_path, repo):
    with pytest.raises(rcfg.ConfigError, match="does not exist"):
        rcfg.load(tmp_path / "nope.yaml")
    extra = tmp_path / "extra.yaml"
    extra.write_text("data_source: local\n")
    cfg = rcfg.load(repo / "config" / "config.yaml", extra)
    assert cfg["data_source"] == "local"


def test_config_files_merge_key_by_key_as_snakemake_merges_them(tmp_path, repo):
    from snakemake.utils import update_config

    extra = tmp_path / "extra.yaml"
    extra.write_text("training: {learning_rate: 2.0e-6}\nevaluation: {grader: {workers: 1}}\n")
    cfg = rcfg.load(repo / "config" / "config.yaml", extra)
    base = rcfg.read_yaml(repo / "config" / "config.yaml")
    snake = copy.deepcopy(base)
    update_config(snake, rcfg.read_yaml(extra))
    assert cfg == rcfg.validate(snake)
    assert cfg["training"]["learning_rate"] == 2.0e-6 and cfg["training"]["max_steps"] == base["training"]["max_steps"]
    assert cfg["evaluation"]["grader"]["workers"] == 1 and cfg["evaluation"]["grader"]["timeout_s"] == 5


def test_a_number_yaml_reads_as_text_is_named(tmp_path, paper_config):
    p = tmp_path / "lr.yaml"
    p.write_text(yaml.safe_dump(paper_config).replace("learning_rate: 1.0e-06", "learning_rate: 1e-3"))
    assert rcfg.read_yaml(p)["training"]["learning_rate"] == "1e-3"  # YAML 1.1: no dot, so text
    with pytest.raises(rcfg.ConfigError, match=r"training.learning_rate: '1e-3' is text.*write it as 0.001"):
        rcfg.load(p)


@pytest.mark.parametrize(
    "key, value",
    [
        ("training/learning_rate", float("nan")),
        ("training/learning_rate", float("inf")),
        ("evaluation/grader/timeout_s", float("inf")),
        ("evaluation/top_p", float("nan")),
    ],
)
def test_nan_and_infinity_are_refused_everywhere(paper_config, key, value):
    cfg = copy.deepcopy(paper_config)
    _set(cfg, key, value)
    with pytest.raises(rcfg.ConfigError, match=key.replace("/", ".")):
        rcfg.validate(cfg)


@pytest.mark.parametrize(
    "change, match",
    [
        ({"temperature": 0.0}, r"evaluation.temperature: temperature 0.*identical samples"),
        ({"temperature": 3.0}, r"evaluation.temperature: temperature 3.0.*above 2"),
        ({"grader": {"timeout_s": 20, "deadline_s": 30}}, r"evaluation.grader.deadline_s: 30 s is less than twice"),
    ],
)
def test_evaluation_settings_that_make_results_meaningless_are_refused(paper_config, change, match):
    cfg = copy.deepcopy(paper_config)
    for k, v in change.items():
        cfg["evaluation"][k] = {**cfg["evaluation"].get(k, {}), **v} if isinstance(v, dict) else v
    with pytest.raises(rcfg.ConfigError, match=match):
        rcfg.validate(cfg)


def test_greedy_evaluation_with_one_sample_is_allowed(paper_config):
    cfg = copy.deepcopy(paper_config)
    cfg["evaluation"]["temperature"] = 0.0
    cfg["evaluation"]["n"] = 1
    cfg["evaluation"]["per_benchmark"] = {}
    cfg["report"]["k_table"] = [1]
    assert rcfg.validate(cfg)["evaluation"]["temperature"] == 0.0


def test_a_config_path_that_is_no_yaml_file_is_named(tmp_path):
    from rsrl import cli
    from rsrl.io import load_config_json

    (tmp_path / "bin.yaml").write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00")
    for bad, why in (
        (tmp_path, "not a file"),
        (tmp_path / "bin.yaml", "not text"),
        (tmp_path / "nope.yaml", "does not exist"),
    ):
        with pytest.raises(rcfg.ConfigError, match=why):
            rcfg.read_yaml(bad)
        assert cli.main(["plan", "--config", str(bad)]) == 2
    with pytest.raises(rcfg.ConfigError, match="does not exist"):
        load_config_json(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(rcfg.ConfigError, match="not the JSON of a config"):
        load_config_json(tmp_path / "bad.json")


def test_pass_at_n_itself_may_be_tabled(paper_config):
    cfg = copy.deepcopy(paper_config)
    cfg["evaluation"]["per_benchmark"]["math500"]["n"] = 24
    cfg["report"]["k_table"] = [1, 24]
    assert rcfg.validate(cfg)["report"]["k_table"] == [1, 24]
    cfg["report"]["k_table"] = [1, 12]
    with pytest.raises(rcfg.ConfigError, match="pass@12 is not computed"):
        rcfg.validate(cfg)


@pytest.mark.parametrize(
    "change, match",
    [
        ({"entropy_coef": 0.01}, r"training.entropy_coef: the TRL trainer has no entropy bonus"),
        ({"train_batch_size": 48}, r"train_batch_size must be a multiple of micro_train_batch_size and divide"),
    ],
)
def test_a_trl_setting_only_its_trainer_used_to_check_fails_when_the_dag_is_built(repo, change, match):
    cfg = rcfg.read_yaml(repo / "config" / "demo.yaml")  # every cell trains with TRL
    cfg["training"].update(change)
    with pytest.raises(rcfg.ConfigError, match=match):
        grid.validate(cfg)


def test_whole_numbers_written_as_floats_fingerprint_as_integers(paper_config):
    from rsrl import resources as rsrc

    cfg = rcfg.validate(paper_config)
    spelled = copy.deepcopy(paper_config)
    spelled["training"]["max_steps"] = float(spelled["training"]["max_steps"])
    spelled["training"]["n_samples_per_prompt"] = 16.0
    other = rcfg.validate(spelled)
    assert other == cfg and isinstance(other["training"]["max_steps"], int)
    c = grid.cells(cfg)[0]
    assert rsrc.train_fingerprint(other, c) == rsrc.train_fingerprint(cfg, c)
    assert (
        rcfg.validate({**spelled, "training": {**spelled["training"], "learning_rate": 1.0}})["training"][
            "learning_rate"
        ]
        == 1.0
    )  # a number setting keeps its float


@pytest.mark.parametrize(
    "change, match",
    [
        ({"training": {"max_new_tokens": 4000}}, r"models.Qwen2.5-Math-1.5B.max_context: 4096 tokens cannot hold"),
    ],
)
def test_a_model_context_too_short_for_its_prompts_and_completions_fails_early(paper_config, change, match):
    cfg = copy.deepcopy(paper_config)
    for block, values in change.items():
        cfg[block].update(values)
    with pytest.raises(rcfg.ConfigError, match=match):
        grid.validate(cfg)
