"""Roles from the config: "the method under study" and "the reference" of every figure and table come from
``report.roles`` (labels of ``report.paper_methods``), so studying another estimator is one config line."""

from __future__ import annotations

import copy

import pytest

from rsrl import config as rcfg
from rsrl import estimators, grid
from rsrl.report import paired
from rsrl.report.style import method_beta, method_color, method_linestyle


def _cfg(paper_config: dict, **roles) -> dict:
    cfg = copy.deepcopy(paper_config)
    cfg["grid"] = [
        {
            "models": ["Qwen2.5-Math-1.5B"],
            "train_sets": ["math12k"],
            "methods": [
                {"estimator": "drgrpo"},
                {"estimator": "grpo"},
                {"estimator": "rloo"},
                {"estimator": "rs", "params": {"beta": [2, 8]}},
                {"estimator": "pkpo", "params": {"k": [2, 4]}},
            ],
        }
    ]
    cfg["report"] = {
        k: v for k, v in cfg["report"].items() if k not in ("ablation", "ablation_rows", "comparison", "paired")
    }
    cfg["report"]["paper_methods"]["rloo"] = {"estimator": "rloo"}
    if roles:
        cfg["report"]["roles"] = roles
    return grid.validate(cfg)


def test_default_roles_are_the_papers(paper_config):
    cfg = _cfg(paper_config)
    r = grid.roles(cfg)
    assert (r.method, r.reference) == ("rs", "drgrpo")  # the paper's GRPO: the authors' mean baseline
    assert grid.ablation_methods(cfg) == ["drgrpo", "rs_beta2", "rs_beta8"]
    assert paired.reference_method(cfg) == "drgrpo"


def test_one_line_changes_the_method_and_the_reference(paper_config):
    cfg = _cfg(paper_config, method="walder_karkhanis", reference="rloo")
    r = grid.roles(cfg)
    assert (r.method, r.reference) == ("pkpo", "rloo")
    assert grid.ablation_methods(cfg) == ["rloo", "pkpo_k2", "pkpo_k4"]
    assert paired.reference_method(cfg) == "rloo"


def test_a_role_that_names_no_paper_method_is_refused(paper_config):
    with pytest.raises(rcfg.ConfigError, match=r"report.roles.reference: 'ppo'.*paper_methods"):
        _cfg(paper_config, reference="ppo")


def test_shading_follows_the_registry_not_a_name():
    assert estimators.spec("rs").shade_by == "beta"
    assert method_beta("rs_beta4") == 4.0 and method_beta("grpo") is None and method_beta("base") is None
    assert method_color("rs_beta4") != method_color("rs_beta8") and method_linestyle("rs_beta4") == "-"
    assert method_linestyle("pkpo_k4") == "--"
    with pytest.raises(ValueError, match="shade_by 'gamma'"):
        estimators.register("shade_probe", shade_by="gamma")(lambda rewards: rewards)
    estimators.unregister("shade_probe")
