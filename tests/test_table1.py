"""Table 1 (estimator properties) is measured on the registry functions, never listed by hand."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from rsrl import estimators
from rsrl.config import REPO_ROOT, load
from rsrl.estimators import Param
from rsrl.methods import Method
from rsrl.theory.__main__ import main
from rsrl.theory.estimator_set import theory_methods
from rsrl.theory.properties import COLUMNS, continuous_groups, estimator_table, method_properties, to_markdown

N = 16


@pytest.fixture(scope="module")
def table():
    cfg = load(REPO_ROOT / "config" / "config.yaml")
    return estimator_table(theory_methods(cfg, N), N).set_index("method")


def test_one_row_per_theory_method_and_consistent_with_the_registry(table):
    assert list(table.reset_index().columns) == COLUMNS
    assert set(table.estimator) == set(estimators.names())
    # a binary-only estimator fails on continuous rewards, every other one works there
    assert (table.continuous_rewards == ~table.binary_only).all()


def test_properties_agree_with_the_closed_forms(table):
    # PKPO: never negative, zero for a correct sample once fewer than k - 1 wrong ones remain: C(N - c, k - 1) = 0
    k = 4
    pk = table.loc[f"pkpo_k{k}"]
    assert not pk.penalises_wrong_samples and pk.rewards_correct_samples and not pk.centred
    assert pk.no_signal_accuracies.split() == [f"{c}/{N}" for c in range(1, N) if math.comb(N - c, k - 1) == 0]
    # Chen et al.: sigma = 0 once fewer than k samples are wrong, so no signal at those accuracies; centred
    ch = table.loc[f"passk_chen_k{k}"]
    assert ch.no_signal_accuracies.split() == [f"{c}/{N}" for c in range(1, N) if N - c < k]
    assert ch.penalises_wrong_samples and ch.centred and not ch.signal_when_solved_often
    # the Mahdavi weight k (1 - c/N)^(k-1) vanishes only at c = N
    ma = table.loc[f"passk_mahdavi_k{k}"]
    assert ma.signal_when_solved_often and ma.no_signal_accuracies == "" and ma.centred
    # GRPO and RS-GRPO: centred, reward correct and penalise wrong samples at every mixed accuracy
    for m in ["grpo", "rs_beta4", "rs_beta64"]:
        row = table.loc[m]
        assert row.centred and row.penalises_wrong_samples and row.rewards_correct_samples
        assert row.signal_when_solved_often and row.zero_on_equal_rewards
    # RiskPO (one question per bundle): every paper advantage is <= 0, so correct samples are never rewarded
    rp = table.loc["riskpo_B1"]
    assert not rp.rewards_correct_samples and rp.penalises_wrong_samples and rp.continuous_rewards


def test_pkpo_k1_is_plain_reinforce_and_not_zero_on_equal_rewards():
    row = method_properties(Method.of("pkpo", {"k": 1}), N)
    assert not row["zero_on_equal_rewards"] and not row["centred"]


@pytest.fixture
def toy_estimators():
    """Two estimators registered for this test only: a sign-flipped GRPO and a binary-only one."""

    @estimators.register("toy_flipped", params=(Param("scale", float, default=1.0),))
    def toy_flipped(rewards, scale: float = 1.0):
        return -scale * estimators.get("grpo")(rewards)

    @estimators.register("toy_binary", binary_only=True)
    def toy_binary(rewards):
        x = np.asarray(rewards, dtype=np.float64)
        if not np.isin(x, (0.0, 1.0)).all():
            raise estimators.EstimatorError("toy_binary: binary rewards only")
        return x - x.mean(-1, keepdims=True)

    yield
    estimators.unregister("toy_flipped")
    estimators.unregister("toy_binary")


def test_table_follows_the_functions_not_a_list(toy_estimators):
    flipped = method_properties(Method.of("toy_flipped"), N)
    assert not flipped["rewards_correct_samples"] and not flipped["penalises_wrong_samples"]
    assert flipped["centred"] and flipped["continuous_rewards"]
    binary = method_properties(Method.of("toy_binary"), N)
    assert not binary["continuous_rewards"] and binary["penalises_wrong_samples"]


def test_continuous_groups_span_the_accuracies():
    g = continuous_groups(N)
    np.testing.assert_allclose(g.mean(-1), np.arange(1, 10) / 10, atol=0.02)
    assert ((g > 0) & (g < 1)).all()


def test_cli_writes_csv_and_markdown(tmp_path):
    cfg = load(REPO_ROOT / "config" / "config.yaml")
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    main(["table1", "--config", str(path), "--csv", str(tmp_path / "t.csv"), "--md", str(tmp_path / "t.md")])
    df = pd.read_csv(tmp_path / "t.csv")
    assert len(df) == len(theory_methods(cfg, N))
    md = (tmp_path / "t.md").read_text()
    assert md == to_markdown(df.fillna(""), N)
    assert "| Walder & Karkhanis (k=4) | ✓ | ✗ |" in md
