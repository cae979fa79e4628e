"""The record of the paper's setup (reference/paper_setup.csv): every training, evaluation and grid setting of the
paper config has an entry, the config's values are the record's, a value that departs from the evidence is a [C]
choice with a reason, secondary evidence is never primary, and the config check names a setting without entry."""

from __future__ import annotations

import copy
import csv

import pytest

from conftest import REPO
from rsrl import config as rcfg
from rsrl import setup_record as sr

RECORD = REPO / "reference" / "paper_setup.csv"


@pytest.fixture
def record():
    return sr.read(RECORD)


def test_every_paper_setting_has_an_entry_with_its_value(record):
    raw = rcfg.read_yaml(REPO / "config" / "config.yaml")
    assert raw["setup_record"] == "reference/paper_setup.csv"
    sr.check(raw, record, values=True)  # raises naming the first setting without entry or with another value
    settings = sr.settings(raw)
    assert set(record) == set(settings), "record rows without a config setting: " + str(set(record) - set(settings))
    assert all(b.get("name") for b in raw["grid"])


def test_values_departing_from_the_evidence_are_tagged_choices(record):
    for setting, row in record.items():
        evidence, ours = (sr.normalize(sr.parse_cell(row[k])) for k in ("value", "config"))
        if row["value"].strip() and evidence != ours:
            assert row["tag"] == "[C]" and row["reason"].strip(), setting
    # the group size follows the evidence: N = 16 from two secondary summaries, so tagged [S], not [P]
    n = record["training.n_samples_per_prompt"]
    assert (n["value"], n["config"], n["tag"]) == ("16", "16", "[S]")


def _row(**change):
    row = {
        "setting": "x",
        "value": "16",
        "source": "S2 (Fig. 9 caption)",
        "confidence": "medium",
        "tag": "[S]",
        "config": "16",
        "reason": "",
    }
    return {**row, **change}


@pytest.mark.parametrize(
    "change,message",
    [
        ({"config": "8"}, "differs from the evidence"),
        ({"tag": "[P]"}, "secondary summaries"),
        ({"tag": "[R]", "source": "S1 only"}, "secondary summaries"),
        ({"tag": "[C]"}, "needs a reason"),
        ({"value": "", "tag": "[S]"}, "no evidence"),
        ({"confidence": "certain"}, "confidence"),
        ({"tag": "[X]"}, "tag"),
    ],
)
def test_row_rules(change, message):
    with pytest.raises(sr.RecordError, match=message):
        sr.check_row("x", _row(**change))
    sr.check_row("x", _row(config="8", tag="[C]", reason="cheaper"))  # a departure with its reason is fine


def test_a_setting_without_entry_fails_the_config_check_naming_it(tmp_path, paper_config):
    rows = list(csv.DictReader(RECORD.open(newline="")))
    with (tmp_path / "record.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=sr.COLUMNS)
        w.writeheader()
        w.writerows(r for r in rows if r["setting"] != "training.eps_clip_high")
    cfg = copy.deepcopy(paper_config)
    cfg["setup_record"] = str(tmp_path / "record.csv")
    with pytest.raises(rcfg.ConfigError, match=r"config key training\.eps_clip_high: no entry in the setup record"):
        rcfg.validate(cfg)
    cfg["grid"][0]["name"] = "renamed_block"
    cfg["setup_record"] = str(RECORD)
    with pytest.raises(rcfg.ConfigError, match=r"grid\.renamed_block\.models"):
        rcfg.validate(cfg)
    # a filled-in config (every job validates it again) needs no entries for settings left at their defaults
    full = rcfg.load(REPO / "config" / "config.yaml")
    assert rcfg.validate(full)["evaluation"]["sample_jobs"] == "shard"


def test_readme_shows_the_record(record):
    assert sr.to_markdown(record) in (REPO / "README.md").read_text()


def test_demo_config_keeps_its_own_fast_settings():
    demo = rcfg.load(REPO / "config" / "demo.yaml")
    assert "setup_record" not in demo
    t = demo["training"]
    # absent, not filled in: the demo's training settings (its cells' rerun fingerprint) are unchanged
    assert t["n_samples_per_prompt"] == 8 and "dynamic_sampling" not in t and "eps_clip_high" not in t
