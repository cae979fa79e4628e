"""rsrl.evaluate.shards: every sample in exactly one shard, distinct reproducible seeds independent of sharding."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rsrl.config import validate
from rsrl.evaluate import shards as sh
from rsrl.evaluate.sample import shard_requests


@pytest.mark.parametrize("n_problems,n,ps,sps", [(30, 1024, 1, 256), (7, 10, 3, 4), (5, 3, 8, 16), (500, 16, 4, 5)])
def test_plan_covers_every_sample_once(n_problems, n, ps, sps):
    plan = sh.shard_plan(n_problems, n, ps, sps)
    assert len(plan) == ps * -(-n // sps)
    cover = np.zeros((n_problems, n), dtype=int)
    for s in plan:
        assert all(r % ps == s.p for r in s.rows)
        for r in s.rows:
            cover[r, s.start : s.start + s.count] += 1
        assert 1 <= s.count <= sps
    assert (cover == 1).all()


def test_seeds_distinct_and_independent_of_sharding():
    ids = [f"prob-{i}" for i in range(40)]
    bench = pd.DataFrame({"id": ids, "answer": "1", "prompt": [f"p{i}" for i in range(40)]})

    def all_seeds(ps, sps):
        st = {"n": 64, "problem_shards": ps, "samples_per_shard": sps, "seed": 1234}
        df = pd.concat([shard_requests(bench, st, p, s) for p, s in sh.shard_ids(64, ps, sps)])
        return df.set_index(["problem_id", "sample_idx"])["seed"].sort_index()

    a, b = all_seeds(1, 64), all_seeds(3, 5)
    assert len(a) == 40 * 64 and a.is_unique
    pd.testing.assert_series_equal(a, b)
    assert (a > 0).all() and (a < 2**63).all()
    # Another evaluation seed gives other seeds.
    c = sh.sample_seeds(99, "prob-0", 0, 64)
    assert not set(c) & set(a.to_numpy())


def test_seed_layout():
    s = sh.sample_seeds(7, "x", 10, 3)
    assert (np.diff(s) == 1).all()
    assert s[0] == (7 << 48) + (sh.problem_hash("x") << 16) + 10
    with pytest.raises(ValueError, match="65535"):
        sh.sample_seeds(7, "x", 65530, 10)


def test_bad_shards_and_ids():
    with pytest.raises(ValueError, match="outside the plan"):
        sh.shard(10, 8, 2, 4, 2, 0)
    with pytest.raises(ValueError, match="outside the plan"):
        sh.shard(10, 8, 2, 4, 0, 2)
    with pytest.raises(ValueError, match="not unique"):
        sh.check_ids(["a", "b", "a"])
    sh.check_ids([str(i) for i in range(2000)])


def test_eval_settings_from_paper_config(paper_config):
    cfg = validate(paper_config)
    st = sh.eval_settings(cfg, "aime24")
    assert st["n"] == 1024 and st["temperature"] == 1.0 and st["top_p"] == 0.7 and st["max_tokens"] == 3000
    assert sh.shard_ids(st["n"], st["problem_shards"], st["samples_per_shard"]) == [(0, 0), (0, 1), (0, 2), (0, 3)]
    assert sh.eval_settings(cfg, "math500")["n"] == 32
