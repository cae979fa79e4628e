"""DAPO's two rollout-side changes (Yu et al. 2025, arXiv 2503.14476) as the ``training`` block sets them, for both
trainers: clip-higher and dynamic sampling.

* Clip-higher: the PPO ratio is clipped to ``[1 - eps_clip, 1 + eps_clip_high]`` (DAPO publishes 0.2 / 0.28);
  without ``eps_clip_high`` the clip is symmetric. OpenRLHF 0.11.2: ``--actor.eps_clip_low_high LOW HIGH``;
  TRL 1.16: ``epsilon`` and ``epsilon_high``.
* Dynamic sampling: a prompt's group is kept only when its mean reward lies strictly inside ``reward_range``
  (default (0, 1): with binary rewards, groups that are all correct or all wrong are dropped). OpenRLHF 0.11.2
  (``--algo.dynamic_filtering_enable``, ``--algo.dynamic_filtering_range``) drops the group and dispatches a new
  prompt in its place, so every update has the full prompt batch; it draws the refills from the run's prompt file,
  which therefore holds ``prompt_factor`` times the prompts of ``max_steps`` unfiltered rollouts. TRL 1.16 cannot
  refill: the trainer here drops the filtered groups' samples from the loss (their advantages are zero anyway for
  every registry estimator except RiskPO with B > 1), so an update has fewer samples than the batch.
"""

from __future__ import annotations


def clip_bounds(training: dict) -> tuple[float, float]:
    """(low, high) of the ratio clip: ``eps_clip`` and ``eps_clip_high`` (default: ``eps_clip``)."""
    low = float(training.get("eps_clip", 0.2))
    high = training.get("eps_clip_high")
    return low, float(low if high is None else high)


def dynamic_sampling(training: dict) -> dict:
    """The ``dynamic_sampling`` block with its defaults: enable, reward_range, prompt_factor."""
    ds = dict(training.get("dynamic_sampling") or {})
    return {
        "enable": bool(ds.get("enable", False)),
        "reward_range": tuple(ds.get("reward_range", (0.0, 1.0))),
        "prompt_factor": float(ds.get("prompt_factor", 1.0)),
    }


def check(training: dict, where: str = "training", group_sizes: list[int] | None = None) -> None:
    """Raise ValueError naming the key: clip bounds not 0 < low <= high, dynamic sampling with groups of one
    sample (every group is then 'all equal') or an empty reward range. ``group_sizes``: other N the grid trains."""
    low, high = clip_bounds(training)
    if not 0 < low <= high:
        raise ValueError(
            f"config key {where}.eps_clip_high: the clip bounds must satisfy 0 < eps_clip <= "
            f"eps_clip_high; got eps_clip = {low}, eps_clip_high = {high}."
        )
    ds = dynamic_sampling(training)
    if not ds["enable"]:
        return
    sizes = [int(training["n_samples_per_prompt"])] + list(group_sizes or [])
    if min(sizes) < 2:
        raise ValueError(
            f"config key {where}.dynamic_sampling.enable: dynamic sampling keeps groups whose rewards "
            f"differ, which needs at least 2 samples per prompt; got N = {min(sizes)}. Raise "
            f"{where}.n_samples_per_prompt or disable dynamic sampling."
        )
    lo, hi = ds["reward_range"]
    if not lo < hi:
        raise ValueError(f"config key {where}.dynamic_sampling.reward_range: need min < max; got [{lo}, {hi}].")


def kept_groups(grouped, reward_range: tuple[float, float] = (0.0, 1.0)):
    """Boolean mask over the groups (rows) of a ``[G, N]`` reward matrix: mean reward strictly inside the range."""
    mean = grouped.mean(-1)
    return (mean > reward_range[0]) & (mean < reward_range[1])
