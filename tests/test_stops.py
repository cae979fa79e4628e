"""Stop sequences: for every model of the paper config (from local copies of the tokenizer and generation config
files its hub repository publishes, tests/fixtures/models) and the demo's tiny model, and the same sequences in
vLLM sampling, TRL generation and OpenRLHF rollouts."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from rsrl import config as rcfg
from rsrl import stops
from rsrl.prompts import END_OF_TURN_MARKERS, TEMPLATE_END, TEMPLATES

REPO = Path(__file__).resolve().parents[1]
MODELS = REPO / "tests" / "fixtures" / "models"

QWEN = stops.Stops(strings=("<|im_end|>", "<|endoftext|>"), token_ids=(151645, 151643), text_only=())
#: model of config/config.yaml -> its stop sequences.
EXPECTED = {
    "Qwen2.5-Math-1.5B": QWEN,
    "Qwen2.5-Math-7B": QWEN,
    "Qwen2.5-7B": QWEN,
    "Qwen3-4B-Base": QWEN,
    # `plain` template: its end marker is text; the generation config adds <|end_of_text|> and <|eom_id|>.
    "Llama-3.1-8B-Instruct": stops.Stops(
        strings=("\nQuestion:", "<|eot_id|>", "<|end_of_text|>", "<|eom_id|>"),
        token_ids=(128009, 128001, 128008),
        text_only=("\nQuestion:",),
    ),
}


@pytest.fixture
def cfg(paper_config):
    return rcfg.validate(paper_config)


def test_every_paper_model_has_fixtures_and_expected_stops(cfg):
    assert set(cfg["models"]) == set(EXPECTED)
    for m in cfg["models"]:
        assert {p.name for p in (MODELS / m).iterdir()} >= {
            "tokenizer_config.json",
            "generation_config.json",
            "config.json",
        }, m


@pytest.mark.parametrize("model", sorted(EXPECTED))
def test_stop_sequences_of_paper_models(cfg, model):
    got = stops.resolve(cfg, model, MODELS / model)
    assert got == EXPECTED[model]
    assert stops.stop_sequences(cfg, model, MODELS / model) == list(EXPECTED[model].strings)
    assert stops.stop_token_ids(cfg, model, MODELS / model) == list(EXPECTED[model].token_ids)
    # The template's end marker always comes first; every source file's end token is there.
    assert got.strings[0] == TEMPLATE_END[cfg["models"][model].get("prompt_template", cfg["prompt_template"])]
    gen = json.loads((MODELS / model / "generation_config.json").read_text())["eos_token_id"]
    assert set(gen if isinstance(gen, list) else [gen]) <= set(got.token_ids)
    eos = json.loads((MODELS / model / "tokenizer_config.json").read_text())["eos_token"]
    assert eos in got.strings


def test_qwen_base_files_disagree_and_both_stop(cfg):
    """Qwen2.5/Qwen3 base checkpoints name <|im_end|> in the tokenizer and <|endoftext|> in the generation config."""
    for m in ("Qwen2.5-7B", "Qwen3-4B-Base"):
        d = MODELS / m
        assert json.loads((d / "tokenizer_config.json").read_text())["eos_token"] == "<|im_end|>"
        assert json.loads((d / "generation_config.json").read_text())["eos_token_id"] == 151643
        assert set(stops.resolve(cfg, m, d).token_ids) == {151643, 151645}


def test_config_override_replaces_the_derived_list(cfg):
    m = "Llama-3.1-8B-Instruct"
    cfg["models"][m]["stop"] = ["<|eot_id|>", "</answer>"]
    got = stops.resolve(rcfg.validate(cfg), m, MODELS / m)
    assert got == stops.Stops(("<|eot_id|>", "</answer>"), (128009,), ("</answer>",))


@pytest.mark.parametrize("bad", [[], [""], "<|eot_id|>"])
def test_bad_override_is_rejected_naming_the_key(cfg, bad):
    cfg["models"]["Qwen2.5-7B"]["stop"] = bad
    with pytest.raises(rcfg.ConfigError, match=r"models\.Qwen2\.5-7B\.stop"):
        rcfg.validate(cfg)


def test_every_template_declares_an_end_marker():
    assert set(TEMPLATE_END) == set(TEMPLATES)
    assert set(TEMPLATE_END.values()) <= set(END_OF_TURN_MARKERS)
    for e in EXPECTED.values():
        assert set(e.strings) <= set(END_OF_TURN_MARKERS)


def test_generation_config_list_and_unknown_ids(tmp_path):
    (tmp_path / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "eos_token": {"content": "</s>", "special": True},
                "added_tokens_decoder": {"2": {"content": "</s>", "special": True}},
            }
        )
    )
    (tmp_path / "generation_config.json").write_text(json.dumps({"eos_token_id": [2, 7]}))
    got = stops.derive("qwen_math_boxed", tmp_path)
    # <|im_end|> is no token of this tokenizer: matched as text; id 7 has no known text: matched as an id.
    assert got == stops.Stops(("<|im_end|>", "</s>"), (2, 7), ("<|im_end|>",))
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="config.json: not valid JSON"):
        stops.derive("plain", tmp_path)


def test_tiny_model_stops_at_im_end(tmp_path):
    from rsrl.models import tiny

    tok = tiny.train_tokenizer(["<|im_start|>user\n1+1<|im_end|>\n<|im_start|>assistant\n\\boxed{2}<|im_end|>"], 300)
    spec = tiny.TinySpec(hidden_size=64, layers=1, heads=1, vocab_size=300, warmstart_steps=0)
    tiny.build_model(spec, tok).save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    cfg = {"prompt_template": "qwen_math_boxed", "models": {"tiny-qwen2": {}}}  # as config/demo.yaml has it
    got = stops.resolve(cfg, "tiny-qwen2", tmp_path)
    assert got == stops.Stops(("<|im_end|>",), (tok.convert_tokens_to_ids("<|im_end|>"),), ())


# ---------------------------------------------------------------------------------------------------------------
# The engines


def test_vllm_sampling_params_carry_the_stops(cfg):
    from rsrl.evaluate.sample import sampling_kwargs

    s = EXPECTED["Llama-3.1-8B-Instruct"]
    kw = sampling_kwargs({"temperature": 0.6, "top_p": 0.95, "max_tokens": 64}, s)
    assert kw["stop"] == list(s.strings) and kw["stop_token_ids"] == list(s.token_ids)
    vllm = pytest.importorskip("vllm")
    p = vllm.SamplingParams(n=2, seed=1, **kw)
    assert list(p.stop) == list(s.strings) and list(p.stop_token_ids) == list(s.token_ids)


def test_trl_generates_with_the_stop_ids():
    from rsrl.train.trl_trainer import generation_stop_ids

    assert generation_stop_ids(QWEN, "Qwen2.5-7B") == [151645, 151643]
    with pytest.raises(ValueError, match=r"models\.Llama-3\.1-8B-Instruct\.stop"):
        generation_stop_ids(EXPECTED["Llama-3.1-8B-Instruct"], "Llama-3.1-8B-Instruct")


def _fake_samples_generator() -> ModuleType:
    mod = ModuleType("fake_samples_generator")
    mod.SamplingParams = lambda **kw: kw
    return mod


def test_openrlhf_rollouts_carry_the_stops(cfg, monkeypatch):
    from rsrl.train.openrlhf import command, patch

    model = "Llama-3.1-8B-Instruct"
    paths = command.RunPaths(model=str(MODELS / model), prompts="p.jsonl", reward_file="r.py", work="w")
    s = command.rollout_stops(cfg, model, paths)
    assert s == EXPECTED[model]
    env = patch.runtime_env("rs", {"beta": 2.0}, None, stops=s)["env_vars"]
    assert json.loads(env[patch.ENV_STOP]) == {"stop": list(s.strings), "stop_token_ids": list(s.token_ids)}
    # The seam: OpenRLHF's SamplingParams(...) call gets the stops, once however often it is patched.
    mod = _fake_samples_generator()
    monkeypatch.setenv(patch.ENV_STOP, env[patch.ENV_STOP])
    patch.patch_stops(mod, check=False)
    patch.patch_stops(mod, check=False)
    got = mod.SamplingParams(temperature=1.0, top_p=1.0, skip_special_tokens=False)
    assert got["stop"] == list(s.strings) and got["stop_token_ids"] == list(s.token_ids)
    assert got["temperature"] == 1.0


def test_install_hooks_the_stop_seam_on_import(monkeypatch):
    from rsrl.train.openrlhf import patch

    monkeypatch.delenv(patch.ENV_ESTIMATOR, raising=False)
    monkeypatch.setenv(patch.ENV_STOP, json.dumps({"stop": ["x"], "stop_token_ids": [1]}))
    monkeypatch.delitem(sys.modules, patch.STOP_MODULE, raising=False)
    before = list(sys.meta_path)
    try:
        patch.install()
        patch.install()
        hooks = [f for f in sys.meta_path if f not in before]
        assert len(hooks) == 1 and hooks[0].target == patch.STOP_MODULE
    finally:
        sys.meta_path[:] = before


@pytest.mark.slow
def test_pinned_openrlhf_sampling_code_is_unchanged(tmp_path):
    """OpenRLHF 0.11.2 builds the rollouts' SamplingParams in one place, without stops (the seam's premise)."""
    from rsrl.train.openrlhf import patch

    r = subprocess.run(
        ["bash", str(REPO / "scripts" / "openrlhf_cpu_env.sh")], cwd=REPO, capture_output=True, text=True, timeout=1800
    )
    assert r.returncode == 0, r.stderr[-3000:]
    py = REPO / r.stdout.strip().splitlines()[-1]
    r = subprocess.run(
        [str(py), "-c", f"import importlib.util as u; print(u.find_spec({patch.STOP_MODULE!r}).origin)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    path = Path(r.stdout.strip())
    patch.check_stop_target(path)
    tree = ast.parse(path.read_text())
    assert any(
        isinstance(n, ast.ImportFrom) and n.module == "vllm" and any(a.name == patch.STOP_ATTR for a in n.names)
        for n in tree.body
    )
    calls = [
        c
        for c in ast.walk(tree)
        if isinstance(c, ast.Call) and isinstance(c.func, ast.Name) and c.func.id == patch.STOP_ATTR
    ]
    assert len(calls) == 1 and not {k.arg for k in calls[0].keywords} & {"stop", "stop_token_ids"}
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    r = subprocess.run(
        [str(py), "-c", "from rsrl.train.openrlhf.patch import check_openrlhf; check_openrlhf()"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
    )
    assert r.returncode == 0, r.stderr[-3000:]
