"""Fig. 11 (group size at a fixed total batch): its points from a pass@k table, computed by hand."""

from __future__ import annotations

import copy

import pandas as pd

from rsrl import config as rcfg
from rsrl.report import group_size as gs


def _passk(rows):
    df = pd.DataFrame(rows, columns=["model", "train_set", "method", "benchmark", "k", "pass_at_k"])
    df["step"] = pd.array([pd.NA] * len(df), dtype="Int64")
    df["base_method"] = df["method"]
    df["method_id"] = df["method"].str.replace(r"\.n[0-9]+$", "", regex=True)
    return df


def test_fig11_points_by_hand_and_the_main_run_as_n16(paper_config):
    cfg = copy.deepcopy(paper_config)
    cfg["grid"][7]["enabled"] = True  # fig11_group_size
    cfg = rcfg.validate(cfg)
    m, ts = "Qwen2.5-Math-7B", "dapo17k"
    rows = []
    for run, base in (("drgrpo.n4", 10.0), ("drgrpo", 20.0), ("rs_beta2.n4", 30.0)):
        for b, shift in (("aime24", 0.0), ("aime25", 4.0), ("math500", 100.0)):  # MATH500 is left out
            for k, up in ((1, 0.0), (2, 1.0), (32, 2.0), (64, 50.0)):  # k > 32 is left out
                rows.append((m, ts, run, b, k, base + shift + up))
    rows.append(("Qwen2.5-Math-1.5B", "deepmath103k", "drgrpo", "aime24", 1, 99.0))  # another cell
    pts = gs.points(cfg, _passk(rows)).set_index(["method_id", "N"])["value"]
    # per benchmark: mean over k in {1, 2, 32} of base + shift + {0, 1, 2} = base + shift + 1; then over aime24/25
    assert pts.to_dict() == {("drgrpo", 4): 13.0, ("drgrpo", 16): 23.0, ("rs_beta2", 4): 33.0}
    fig = gs.make_fig11(cfg, _passk(rows))
    assert "Qwen2.5-Math-7B trained on dapo17k" in fig._suptitle.get_text()


def test_fig11_without_its_runs_draws_a_note(paper_config):
    cfg = rcfg.validate(paper_config)  # the block is off by default
    assert gs.fig11_block(cfg) is None and gs.points(cfg, _passk([])).empty
    assert "no data" in gs.make_fig11(cfg, _passk([]))._suptitle.get_text()
