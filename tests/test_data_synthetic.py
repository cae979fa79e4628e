"""The synthetic arithmetic task."""

from __future__ import annotations

import pandas as pd
import pytest

from rsrl.data.loaders import synthetic
from rsrl.data.schema import DataError


def gen(**kw):
    return synthetic.generate(synthetic.params("syn", {"synthetic": kw}), "syn")


def test_problems_and_answers():
    df = gen(split="train", size=200, seed=3, terms=[2, 4], min_value=0, max_value=50)
    for q, a, d in zip(df["problem"], df["answer"], df["difficulty"]):
        assert q.startswith("What is ") and q.endswith("?")
        values = [int(v) for v in q[len("What is ") : -1].split(" + ")]
        assert 2 <= len(values) <= 4 and len(values) == d and all(0 <= v <= 50 for v in values)
        assert a == str(sum(values))
    assert df["problem"].is_unique and df["id"].is_unique


def test_train_and_test_are_disjoint_for_any_seeds():
    train = gen(split="train", size=3000, seed=0)
    for seed in (0, 1, 7):
        test = gen(split="test", size=300, seed=seed)
        assert not set(train["problem"]) & set(test["problem"])
        assert all(synthetic.split_of(q, 0.2) == "test" for q in test["problem"])


def test_deterministic_and_ids_stable_when_size_grows():
    a = gen(split="train", size=50, seed=5)
    b = gen(split="train", size=80, seed=5)
    pd.testing.assert_frame_equal(a, b.iloc[:50])
    assert list(a["id"][:2]) == ["syn-00000", "syn-00001"]
    assert not gen(split="train", size=50, seed=6)["problem"].equals(a["problem"])


def test_difficulty_is_configurable():
    easy = gen(split="train", size=60, terms=2, max_value=9)
    hard = gen(split="train", size=100, terms=[4, 5], min_value=100, max_value=999)
    assert easy["answer"].map(len).max() <= 2 and hard["answer"].map(int).min() >= 400
    assert set(hard["difficulty"]) <= {4.0, 5.0}


@pytest.mark.parametrize(
    "bad, needle",
    [
        ({"task": "mul"}, "unknown task"),
        ({"split": "dev"}, "split"),
        ({"terms": 1}, "terms"),
        ({"min_value": 5, "max_value": 1}, "min_value"),
        ({"size": 0}, "size"),
        ({"colour": 1}, "unknown key"),
        ({"test_fraction": 1.5}, "test_fraction"),
    ],
)
def test_bad_params(bad, needle):
    with pytest.raises(DataError, match=needle):
        synthetic.params("syn", {"synthetic": bad})


def test_too_few_distinct_problems_fails():
    with pytest.raises(DataError, match="distinct"):
        gen(split="test", size=50, terms=2, max_value=3)


def test_prepare_synthetic_train_and_test(tmp_path, paper_config):
    import rsrl.config as rcfg
    from rsrl.data.prepare import prepare

    cfg = dict(paper_config)
    spec = {"task": "add", "size": 300, "seed": 0, "terms": [2, 3], "min_value": 0, "max_value": 99}
    cfg["train_sets"] = {"add_train": {"loader": "synthetic", "synthetic": {**spec, "split": "train"}}}
    test_spec = {**spec, "split": "test", "size": 40, "seed": 1}
    cfg["benchmarks"] = {"add_test": {"loader": "synthetic", "synthetic": test_spec}}
    cfg["grid"] = [{**cfg["grid"][0], "train_sets": ["add_train"]}]
    cfg["evaluation"] = {**cfg["evaluation"], "per_benchmark": {}}
    cfg["report"] = {}
    cfg = rcfg.validate(cfg)
    mb = prepare(cfg, "bench", "add_test", tmp_path / "add_test.parquet", tmp_path / "b.json")
    mt = prepare(
        cfg, "train", "add_train", tmp_path / "t.parquet", tmp_path / "t.json", [tmp_path / "add_test.parquet"]
    )
    assert (mb["rows_kept"], mt["rows_kept"]) == (40, 300)
    assert mt["decontamination"]["benchmarks"]["add_test"] == {"exact": 0, "ngram": 0}
    assert mt["source_id"] == "synthetic:add" and mt["splits"] == ["train"] and mt["notes"]["synthetic"]["seed"] == 0
    train, test = pd.read_parquet(tmp_path / "t.parquet"), pd.read_parquet(tmp_path / "add_test.parquet")
    assert not set(train["problem"]) & set(test["problem"])
    suffix = test["problem"].iloc[0] + "<|im_end|>\n<|im_start|>assistant\n"
    assert test["prompt"].iloc[0].endswith(suffix)


def test_prepare_rejects_overlapping_synthetic_splits(tmp_path, paper_config):
    import rsrl.config as rcfg
    from rsrl.data.prepare import prepare

    cfg = dict(paper_config)
    spec = {"task": "add", "size": 300, "seed": 0, "terms": 2, "max_value": 30}
    cfg["train_sets"] = {"add_train": {"loader": "synthetic", "synthetic": {**spec, "split": "train"}}}
    cfg["benchmarks"] = {
        "add_test": {"loader": "synthetic", "synthetic": {**spec, "split": "test", "size": 100, "test_fraction": 0.5}}
    }
    cfg["grid"] = [{**cfg["grid"][0], "train_sets": ["add_train"]}]
    cfg["evaluation"] = {**cfg["evaluation"], "per_benchmark": {}}
    cfg["report"] = {}
    cfg = rcfg.validate(cfg)
    prepare(cfg, "bench", "add_test", tmp_path / "add_test.parquet", tmp_path / "b.json")
    with pytest.raises(DataError, match="disjoint.*test_fraction"):
        prepare(cfg, "train", "add_train", tmp_path / "t.parquet", tmp_path / "t.json", [tmp_path / "add_test.parquet"])
    assert not (tmp_path / "t.parquet").exists()
