"""The OpenRLHF command line: golden file for one paper cell, every config value on it, every flag accepted by
OpenRLHF 0.11.2's own argparse (read from the installed source in .venv-openrlhf: slow)."""

from __future__ import annotations

import ast
import os
import subprocess
from pathlib import Path

import pytest

from rsrl import config as rcfg
from rsrl import grid
from rsrl.config import check_openrlhf_training
from rsrl.train.openrlhf import command
from rsrl.train.openrlhf.launch import dump_command, write_prompts

REPO = Path(__file__).resolve().parents[1]
GOLDEN = REPO / "tests" / "golden" / "openrlhf_command_Qwen2.5-Math-1.5B_deepmath103k_rs_beta2.txt"
CELL = ("Qwen2.5-Math-1.5B", "deepmath103k", "rs_beta2")


MODELS = REPO / "tests" / "fixtures" / "models"


@pytest.fixture
def cfg(paper_config):
    return rcfg.validate(paper_config)


@pytest.fixture(autouse=True)
def hub_model_files(monkeypatch, paper_config):
    """The paper models' tokenizer and generation config files (read for their stop sequences) come from
    tests/fixtures/models instead of the hub."""
    from rsrl import stops

    local = {m["hf_id"]: MODELS / name for name, m in paper_config["models"].items() if "hf_id" in m}
    read = stops.read_model_json
    monkeypatch.setattr(stops, "read_model_json", lambda path, filename: read(local.get(str(path), path), filename))


def _render(cfg):
    size = cfg["size_classes"][cfg["models"][CELL[0]]["size"]]
    text = dump_command(cfg, *CELL, size["nodes"], size["gpus_per_node"], root="/ROOT")
    return text.replace(str(REPO), "<repo>")


def test_command_matches_golden(cfg):
    text = _render(cfg)
    if os.environ.get("RSRL_UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text(), "OpenRLHF command changed; rerun with RSRL_UPDATE_GOLDEN=1 if intended"


def test_rollouts_stop_at_the_models_stop_sequences(cfg):
    import json

    from rsrl.train.openrlhf import patch

    env = json.loads(_render(cfg).splitlines()[0].removeprefix("# ray runtime_env: "))
    assert json.loads(env["env_vars"][patch.ENV_STOP]) == {
        "stop": ["<|im_end|>", "<|endoftext|>"],
        "stop_token_ids": [151645, 151643],
    }


def _flags(argv):
    out, key = {}, None
    for tok in argv:
        if tok.startswith("--"):
            key = tok[2:]
            out[key] = []
        else:
            out[key].append(tok)
    return out


def test_every_training_value_reaches_the_command(cfg):
    t = cfg["training"]
    cell = grid.cell(cfg, *CELL)
    f = _flags(command.openrlhf_args(cfg, cell, command.default_paths(cfg, cell, "/ROOT"), 1, 8, 4096))
    expect = {
        "rollout.n_samples_per_prompt": t["n_samples_per_prompt"],
        "rollout.batch_size": t["rollout_batch_size"],
        "train.batch_size": t["train_batch_size"],
        "train.micro_batch_size": t["micro_train_batch_size"],
        "rollout.micro_batch_size": t["micro_rollout_batch_size"],
        "actor.adam.lr": t["learning_rate"],
        "rollout.max_new_tokens": t["max_new_tokens"],
        "rollout.temperature": t["temperature"],
        "rollout.top_p": t["top_p"],
        "algo.kl.init_coef": t["init_kl_coef"],
        "actor.entropy_coef": t["entropy_coef"],
        "actor.eps_clip": t["eps_clip"],
        "train.num_episodes": t["num_episodes"],
        "ckpt.save_steps": t["save_steps"],
        "train.seed": t["seed"],
        "data.max_samples": int(t["max_steps"] * t["rollout_batch_size"] * t["dynamic_sampling"]["prompt_factor"]),
        "data.max_len": min(4096, t["max_prompt_len"] + t["max_new_tokens"]),
        "algo.advantage.estimator": "dr_grpo",
    }
    for k, v in expect.items():
        assert f[k] == [str(v)], k
    assert ("algo.kl.use_loss" in f) == t["use_kl_loss"]
    assert f["actor.eps_clip_low_high"] == [str(t["eps_clip"]), str(t["eps_clip_high"])]
    assert ("algo.dynamic_filtering_enable" in f) == t["dynamic_sampling"]["enable"]
    assert f["algo.dynamic_filtering_range"] == [str(float(v)) for v in t["dynamic_sampling"]["reward_range"]]
    assert f["actor.model_name_or_path"] == ["Qwen/Qwen2.5-Math-1.5B"]
    assert f["ckpt.path"][0].startswith("/ROOT/work/train/Qwen2.5-Math-1.5B/deepmath103k/rs_beta2")
    assert "ckpt.load_enable" in f and "ckpt.save_hf" in f


def test_inconsistent_batches_and_snapshot_steps_are_rejected(cfg):
    t = dict(cfg["training"], eval_steps=[75])
    with pytest.raises(ValueError, match="eval_steps"):
        check_openrlhf_training(t)
    t = dict(cfg["training"], train_batch_size=1000)
    with pytest.raises(ValueError, match="train_batch_size"):
        check_openrlhf_training(t)


def test_paper_defaults_follow_the_evidence(cfg):
    """N = 16, DAPO's clip-higher 0.2 / 0.28 and dynamic sampling over (0, 1), one update per rollout."""
    t = cfg["training"]
    assert t["n_samples_per_prompt"] == 16
    assert (t["eps_clip"], t["eps_clip_high"]) == (0.2, 0.28)
    assert t["dynamic_sampling"]["enable"] and list(t["dynamic_sampling"]["reward_range"]) == [0.0, 1.0]
    assert t["train_batch_size"] == t["rollout_batch_size"] * t["n_samples_per_prompt"]
    assert (cfg["evaluation"]["temperature"], cfg["evaluation"]["top_p"]) == (1.0, 0.7)


def test_without_the_dapo_settings_no_dapo_flags(cfg):
    t = {k: v for k, v in cfg["training"].items() if k not in ("eps_clip_high", "dynamic_sampling")}
    cell = grid.cell(cfg, *CELL)
    f = _flags(command.openrlhf_args({**cfg, "training": t}, cell, command.default_paths(cfg, cell, "/R"), 1, 8))
    assert "actor.eps_clip_low_high" not in f and "algo.dynamic_filtering_enable" not in f
    assert f["data.max_samples"] == [str(t["max_steps"] * t["rollout_batch_size"])]


@pytest.mark.parametrize(
    "change,key",
    [
        ({"eps_clip_high": 0.1}, "training.eps_clip_high"),
        ({"dynamic_sampling": {"enable": True, "reward_range": [1.0, 0.0]}}, "training.dynamic_sampling.reward_range"),
        ({"n_samples_per_prompt": 1, "dynamic_sampling": {"enable": True}}, "training.dynamic_sampling.enable"),
    ],
)
def test_bad_dapo_settings_fail_naming_the_key(cfg, change, key):
    from rsrl import dapo

    with pytest.raises(ValueError, match=key.replace(".", r"\.")):
        dapo.check({**cfg["training"], **change})


def test_prompt_file_has_exactly_max_steps_rollouts(tmp_path):
    import pandas as pd

    df = pd.DataFrame(
        {"id": [f"p{i}" for i in range(7)], "prompt": [f"q{i}" for i in range(7)], "answer": [str(i) for i in range(7)]}
    )
    df.to_parquet(tmp_path / "t.parquet")
    write_prompts(tmp_path / "t.parquet", tmp_path / "p.jsonl", 20, seed=0)
    out = pd.read_json(tmp_path / "p.jsonl", lines=True)
    assert len(out) == 20 and set(out["id"][:7]) == set(df["id"])  # whole passes before repeats
    assert command.prompt_rows({"max_steps": 5, "rollout_batch_size": 4}) == 20


def _argparse_flags(src: str) -> set[str]:
    """Every option of OpenRLHF's train_ppo_ray argparse (expanding its per-prefix loop)."""
    flags = set()
    for node in ast.walk(ast.parse(src)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "add_argument":
            a = node.args[0] if node.args else None
            if isinstance(a, ast.Constant) and isinstance(a.value, str):
                flags.add(a.value)
            elif isinstance(a, ast.JoinedStr):
                for prefix in ("actor", "critic"):
                    flags.add("".join(prefix if isinstance(v, ast.FormattedValue) else v.value for v in a.values))
    return flags


@pytest.mark.slow
def test_every_flag_exists_in_openrlhf_0_11_2(cfg, tmp_path):
    r = subprocess.run(
        ["bash", str(REPO / "scripts" / "openrlhf_cpu_env.sh")], cwd=REPO, capture_output=True, text=True, timeout=1800
    )
    assert r.returncode == 0, r.stderr[-3000:]
    py = REPO / r.stdout.strip().splitlines()[-1]
    r = subprocess.run(
        [str(py), "-c", "import importlib.util as u; print(u.find_spec('openrlhf.cli.train_ppo_ray').origin)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    accepted = _argparse_flags(Path(r.stdout.strip()).read_text())
    assert "--algo.advantage.estimator" in accepted and "--actor.adam.lr" in accepted
    cell = grid.cell(cfg, *CELL)
    used = {
        t
        for t in command.openrlhf_args(cfg, cell, command.default_paths(cfg, cell, "/R"), 2, 8, 4096)
        if t.startswith("--")
    }
    assert used - accepted == set()


def test_prompt_file_uses_the_models_own_template(tmp_path):
    import pandas as pd

    from rsrl.prompts import build_prompt

    df = pd.DataFrame(
        {
            "id": ["a", "b"],
            "problem": ["1+1?", "2+2?"],
            "prompt": [build_prompt(p, "qwen_math_boxed") for p in ("1+1?", "2+2?")],
            "answer": ["2", "4"],
        }
    )
    df.to_parquet(tmp_path / "t.parquet")
    cfg = {"prompt_template": "qwen_math_boxed", "models": {"llama": {"prompt_template": "plain"}, "qwen": {}}}
    write_prompts(tmp_path / "t.parquet", tmp_path / "llama.jsonl", 2, seed=0, cfg=cfg, model="llama")
    write_prompts(tmp_path / "t.parquet", tmp_path / "qwen.jsonl", 2, seed=0, cfg=cfg, model="qwen")
    llama = pd.read_json(tmp_path / "llama.jsonl", lines=True).set_index("id")
    qwen = pd.read_json(tmp_path / "qwen.jsonl", lines=True).set_index("id")
    assert llama.loc["a", "prompt"] == build_prompt("1+1?", "plain")
    assert qwen.loc["a", "prompt"] == df.loc[0, "prompt"]
    assert list(llama.columns) == ["prompt", "answer"]


def test_group_size_ablation_cells_keep_the_total_batch(cfg):
    """Fig. 11's cells (switched on): N samples of total_batch / N prompts per rollout, one update per rollout."""
    import copy

    on = copy.deepcopy(cfg)
    block = next(b for b in on["grid"] if b.get("group_sizes"))
    block["enabled"] = True
    for n in block["group_sizes"]:
        cell = grid.cell(on, "Qwen2.5-Math-7B", "dapo17k", f"rs_beta2.n{n}")
        f = _flags(command.openrlhf_args(on, cell, command.default_paths(on, cell, "/R"), 2, 8, 4096))
        assert f["rollout.n_samples_per_prompt"] == [str(n)]
        assert f["rollout.batch_size"] == [str(block["total_batch"] // n)]
        assert f["train.batch_size"] == [str(block["total_batch"])]
        assert f["ckpt.path"][0].endswith(f"/rs_beta2.n{n}/ckpt")
