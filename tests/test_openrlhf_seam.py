"""The OpenRLHF advantage seam: its grouping logic (fast), and OpenRLHF 0.11.2's own advantage code driven with
the seam installed, in the separate test environment .venv-openrlhf (slow: built on first use)."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from rsrl import estimators
from rsrl.train.openrlhf import patch as seam

REPO = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------------------------------------------------
# Fast: the seam's own logic on OpenRLHF-shaped experiences (no OpenRLHF needed)


def _args(n, estimator="dr_grpo", ckpt="/nonexistent", load=False):
    return SimpleNamespace(
        rollout=SimpleNamespace(n_samples_per_prompt=n),
        algo=SimpleNamespace(advantage=SimpleNamespace(estimator=estimator)),
        ckpt=SimpleNamespace(path=ckpt, load_enable=load),
    )


def _experiences(rewards: torch.Tensor, micro: int, seed: int = 0):
    """Samples permuted across micro-batches, each knowing its original position in `index`."""
    flat = rewards.reshape(-1)
    order = np.random.default_rng(seed).permutation(flat.numel())
    out = []
    for i in range(0, len(order), micro):
        idx = order[i : i + micro].tolist()
        out.append(
            SimpleNamespace(
                index=idx, rewards=flat[idx].clone(), prompts=[f"prompt {j // rewards.shape[1]}" for j in idx]
            )
        )
    return out


@pytest.mark.parametrize("name,params", [("grpo", {}), ("rloo", {}), ("rs", {"beta": 2.0}), ("rs", {"beta": 8.0})])
def test_seam_writes_registry_advantages_back_in_experience_order(name, params):
    g = torch.Generator().manual_seed(1)
    rewards = (torch.rand(5, 4, generator=g) < 0.4).float()
    exps = _experiences(rewards, micro=3)
    fn = estimators.get(name, **params)
    seam.apply_registry_advantages(exps, _args(4), fn)
    expected = fn(rewards).reshape(-1)
    for e in exps:
        torch.testing.assert_close(e.rewards, expected[e.index])


def test_seam_rejects_other_carrier_and_uncentred_estimators():
    rewards = torch.tensor([[0.0, 1.0], [1.0, 1.0]])
    with pytest.raises(RuntimeError, match="dr_grpo"):
        seam.apply_registry_advantages(_experiences(rewards, 2), _args(2, "group_norm"), estimators.get("grpo"))
    with pytest.raises(RuntimeError, match="not centred"):
        seam.apply_registry_advantages(_experiences(rewards, 2), _args(2), lambda r: r)


@pytest.mark.parametrize("name,params", [("pkpo", {"k": 2}), ("riskpo", {"B": 5}), ("rs", {"beta": 2.0})])
def test_uncentred_advantages_survive_the_carriers_recentring(name, params):
    """Both halves of the seam, with the carrier's group-mean subtraction in between as OpenRLHF does it."""
    g = torch.Generator().manual_seed(3)
    rewards = (torch.rand(5, 4, generator=g) < 0.4).float()
    exps = _experiences(rewards, micro=3)
    fn = estimators.get(name, **params)
    pending = seam._Pending()
    got = {}
    reward_half = seam.make_reward_seam(lambda r, *a, **k: r, pending)
    seam.apply_registry_advantages(exps, _args(4), fn, pending)
    # OpenRLHF's step 2 (dr_grpo): regroup, subtract the group mean, split back in experience order
    idx = torch.tensor([i for e in exps for i in e.index])
    flat = torch.cat([e.rewards for e in exps])
    grouped = torch.empty_like(flat)
    grouped[idx] = flat
    grouped = grouped.reshape(-1, 4)
    recentred = (grouped - grouped.mean(-1, keepdim=True)).reshape(-1)[idx].split([len(e.index) for e in exps])
    for e, r in zip(exps, recentred):
        got[tuple(e.index)] = reward_half(r)
    expected = fn(rewards).reshape(-1)
    for e in exps:
        torch.testing.assert_close(got[tuple(e.index)], expected[e.index], rtol=0, atol=3e-8)
    # rows out of order are caught
    seam.apply_registry_advantages(exps, _args(4), fn, pending)
    if pending.queue:
        with pytest.raises(RuntimeError, match="lost track"):
            reward_half(recentred[1] + 1.0)


def test_recorder_counts_solved_prompts_and_resumes_from_the_checkpoint_step(tmp_path):
    rec = tmp_path / "rollouts.jsonl"
    (tmp_path / "ckpt" / "_actor").mkdir(parents=True)
    (tmp_path / "ckpt" / "_actor" / "latest").write_text("global_step7")
    wrapped = seam.make_seam(lambda e, a: None, estimators.get("drgrpo"), rec)
    rewards = torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    wrapped(_experiences(rewards, 2), _args(3, ckpt=str(tmp_path / "ckpt"), load=True))
    wrapped(_experiences(rewards, 2), _args(3, ckpt=str(tmp_path / "ckpt"), load=True))
    lines = [json.loads(x) for x in rec.read_text().splitlines()]
    assert [x["step"] for x in lines] == [8, 9]
    assert sorted(c for _, c, _ in lines[0]["groups"]) == [0, 1]
    # Dr. GRPO: [-1/3, 2/3, -1/3] for the solved group, zeros for the other: mean |advantage| (4/3) / 6.
    assert lines[0]["advantage_abs_mean"] == pytest.approx(2 / 9)


def test_runtime_env_names_the_hook_and_estimator():
    env = seam.runtime_env("rs", {"beta": 4.0}, "/w/rollouts.jsonl")
    assert env["worker_process_setup_hook"] == "rsrl.train.openrlhf.patch.install"
    assert env["env_vars"][seam.ENV_ESTIMATOR] == "rs"
    assert json.loads(env["env_vars"][seam.ENV_PARAMS]) == {"beta": 4.0}
    mod, fn = seam.HOOK.rsplit(".", 1)
    assert callable(getattr(__import__(mod, fromlist=[fn]), fn))


def test_install_without_estimator_is_a_no_op(monkeypatch):
    monkeypatch.delenv(seam.ENV_ESTIMATOR, raising=False)
    before = list(sys.meta_path)
    seam.install()
    assert sys.meta_path == before


# ---------------------------------------------------------------------------------------------------------------
# Slow: against the real OpenRLHF 0.11.2 in .venv-openrlhf


@pytest.fixture(scope="session")
def openrlhf_python() -> Path:
    """Interpreter of .venv-openrlhf (built by scripts/openrlhf_cpu_env.sh when absent or outdated)."""
    r = subprocess.run(
        ["bash", str(REPO / "scripts" / "openrlhf_cpu_env.sh")], cwd=REPO, capture_output=True, text=True, timeout=1800
    )
    if r.returncode != 0:
        pytest.fail(f"scripts/openrlhf_cpu_env.sh failed:\n{r.stderr[-4000:]}")
    py = REPO / r.stdout.strip().splitlines()[-1]
    assert py.exists(), py
    return py


def _run(py: Path, args: list[str], tmp_path: Path, timeout=600):
    # Run outside the repository so OpenRLHF's own top-level `tests` package cannot be confused with ours, and
    # put the project's src first on the path (rsrl is not installed in that environment).
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    return subprocess.run([str(py), *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=timeout)


def _site_file(py: Path, tmp_path: Path, module: str) -> Path:
    r = _run(py, ["-c", f"import importlib.util as u; print(u.find_spec({module!r}).origin)"], tmp_path)
    assert r.returncode == 0, r.stderr
    return Path(r.stdout.strip())


@pytest.mark.slow
def test_openrlhf_advantages_equal_registry_for_every_estimator(openrlhf_python, tmp_path):
    out = tmp_path / "check.json"
    r = _run(openrlhf_python, ["-m", "rsrl.train.openrlhf.check", "--stub-missing", "--json", str(out)], tmp_path)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    report = json.loads(out.read_text())
    assert report["ok"]
    names = {(c["estimator"], json.dumps(c["params"], sort_keys=True)) for c in report["cases"]}
    assert {n for n, _ in names} == set(estimators.names())  # every registered estimator, none listed here
    assert len({p for n, p in names if n == "rs"}) >= 4
    assert any(c["dynamic_batch"] for c in report["cases"]) and any(c["micro_batches"] > 1 for c in report["cases"])
    assert all(c["max_abs_diff"] <= 3e-8 for c in report["cases"]), [
        c for c in report["cases"] if c["max_abs_diff"] > 3e-8
    ]
    assert report["negative_control"]["max_abs_diff"] > 0.1  # without the seam OpenRLHF's dr_grpo is not grpo
    assert report["hook"]["ok"] and report["hook"]["records"][0]["step"] == 1


@pytest.mark.slow
def test_pinned_openrlhf_internals_are_unchanged(openrlhf_python, tmp_path):
    """Fails loudly when OpenRLHF's version, the patched method, or the call sites the seam relies on change."""
    r = _run(openrlhf_python, ["-c", "import importlib.metadata as m; print(m.version('openrlhf'))"], tmp_path)
    assert r.stdout.strip() == seam.OPENRLHF_VERSION == "0.11.2"
    r = _run(
        openrlhf_python, ["-c", "from rsrl.train.openrlhf.patch import check_openrlhf; check_openrlhf()"], tmp_path
    )
    assert r.returncode == 0, r.stderr[-3000:]
    path = _site_file(openrlhf_python, tmp_path, seam.TARGET_MODULE)
    src = path.read_text()
    assert seam.method_fingerprint(src) == seam.PINNED_FINGERPRINT
    tree = ast.parse(src)
    # The seam is a module-level name imported from length_penalty ...
    assert any(
        isinstance(n, ast.ImportFrom)
        and n.module == "openrlhf.trainer.ppo_utils.length_penalty"
        and any(a.name == seam.SEAM_ATTR and a.asname is None for a in n.names)
        for n in tree.body
    )
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == seam.TARGET_CLASS)
    methods = {f.name: f for f in cls.body if isinstance(f, ast.FunctionDef)}
    # ... called once, by name, with (experiences, args), before the grouping ...
    calls = [
        c
        for c in ast.walk(methods[seam.TARGET_METHOD])
        if isinstance(c, ast.Call) and isinstance(c.func, ast.Name) and c.func.id == seam.SEAM_ATTR
    ]
    assert len(calls) == 1 and [a.id for a in calls[0].args] == ["experiences", "args"]
    # ... and the method is what make_experience_batch runs.
    assert any(
        isinstance(c, ast.Call) and isinstance(c.func, ast.Attribute) and c.func.attr == seam.TARGET_METHOD
        for c in ast.walk(methods["make_experience_batch"])
    )
    # The carrier is still accepted on the command line.
    cli = _site_file(openrlhf_python, tmp_path, "openrlhf.cli.train_ppo_ray").read_text()
    assert f'"{seam.CARRIER_ESTIMATOR}"' in cli and "--algo.advantage.estimator" in cli


def test_fingerprint_detects_a_changed_method():
    src = "class RemoteExperienceMaker:\n    def compute_advantages_and_returns(self, e):\n        return e\n"
    changed = src.replace("return e", "return e[::-1]")
    assert seam.method_fingerprint(src) != seam.method_fingerprint(changed)
    with pytest.raises(seam.OpenRLHFDriftError):
        seam.method_fingerprint("class Other:\n    pass\n")
