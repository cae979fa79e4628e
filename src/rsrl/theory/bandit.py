"""The 100-armed bandit of the RS-GRPO paper (Fig. 3): risk-sensitive policy gradient escapes a local optimum.

Setup (as in the authors' public code):

* arms ``x = 0..99``; the reward of arm ``x`` is deterministic,
  ``R(x) = 0.1 + 0.9 exp(-(x - 40)^2 / 50) + 0.5 exp(-(x - 75)^2 / 50)``: a global optimum 1.0 at x = 40 and a
  local optimum 0.6 at x = 75;
* softmax policy over logits; the initial policy is ``exp(-(x - 75)^2 / 50) + 0.1`` normalised (mass near the
  local optimum), logits = its log-probabilities centred to mean zero;
* each update draws a batch of 16 arms, weights each sample by the RS advantage
  ``w = (exp(beta (r - Z)) - 1) / beta`` with ``Z = (1/beta) log mean_batch exp(beta r)`` (``beta = 0``:
  ``r - mean r``), and takes a step of 0.1 along the batch mean of ``w (onehot(a) - pi)``;
* 400,000 samples (25,000 updates), beta in {0, 2, 4, 8, 16, 32, 64}.

All betas and seeds run in one vectorised loop over logits of shape [B, S, 100]. Seed ``s`` draws its uniforms
from its own generator (``default_rng([seed, s])``) in blocks, and every beta shares them (common random
numbers), so a single (beta, seed) run with the same generator reproduces that slice of the vectorised run.
Only curves at a stride and a running sum over the final window are kept, never per-sample histories.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from rsrl.estimators import rs_advantage_batch

N_ARMS = 100


def arm_rewards(n_arms: int = N_ARMS) -> np.ndarray:
    x = np.arange(n_arms, dtype=np.float64)
    return 0.1 + 0.9 * np.exp(-((x - 40) ** 2) / 50) + 0.5 * np.exp(-((x - 75) ** 2) / 50)


def initial_policy(n_arms: int = N_ARMS) -> np.ndarray:
    x = np.arange(n_arms, dtype=np.float64)
    p = np.exp(-((x - 75) ** 2) / 50) + 0.1
    return p / p.sum()


def initial_logits(n_arms: int = N_ARMS) -> np.ndarray:
    lp = np.log(initial_policy(n_arms))
    return lp - lp.mean()


@dataclass(frozen=True)
class BanditConfig:
    betas: tuple[float, ...] = (0, 2, 4, 8, 16, 32, 64)
    seeds: int = 16
    samples: int = 400_000
    batch_size: int = 16
    step_size: float = 0.1
    seed: int = 0            # base seed; seed s of the run uses default_rng([seed, s])
    stride: int = 100        # record the curves every `stride` updates
    final_window: int = 10_000  # final_reward = mean reward of the last `final_window` samples
    block: int = 1000        # updates per block of pre-drawn uniforms

    @classmethod
    def from_config(cls, cfg: dict, **overrides) -> "BanditConfig":
        b = dict(cfg.get("theory", {}).get("bandit", {}))
        if "betas" in b:
            b["betas"] = tuple(float(x) for x in b["betas"])
        b.update({k: v for k, v in overrides.items() if v is not None})
        known = set(cls.__dataclass_fields__)
        unknown = set(b) - known
        if unknown:
            raise ValueError(f"config key theory.bandit: unknown key(s) {sorted(unknown)}; allowed are {sorted(known)}")
        return cls(**b)

    @property
    def updates(self) -> int:
        return self.samples // self.batch_size

    def check(self) -> None:
        if self.updates < 1:
            raise ValueError(f"config key theory.bandit.samples: {self.samples} samples make no batch of "
                             f"{self.batch_size}; use samples >= batch_size")
        if any(b < 0 for b in self.betas):
            raise ValueError(f"config key theory.bandit.betas: betas must be >= 0; got {list(self.betas)}")


@dataclass
class BanditResult:
    curves: pd.DataFrame   # beta, seed, step, samples, mean_reward, entropy
    final: pd.DataFrame    # beta, seed, final_reward, final_mode_arm (most likely arm at the end)
    logits: np.ndarray = field(repr=False)  # [B, S, arms] final logits


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


def _entropy(pi: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.where(pi > 0, pi * np.log(pi), 0.0).sum(-1)


def _sample(pi: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Inverse-CDF sampling of ``u.shape[-1]`` arms per policy row, all rows in one ``searchsorted``.

    The cumulative sum over all rows flattened puts row ``i``'s CDF in ``(i, i + 1]`` (each row sums to 1), so
    one sorted array serves every row; the query for row ``i`` is ``i + u``.
    """
    rows = int(np.prod(pi.shape[:-1]))
    k = pi.shape[-1]
    flat = np.cumsum(pi.reshape(-1))
    queries = u.reshape(rows, -1) + np.arange(rows, dtype=np.float64)[:, None]
    idx = np.searchsorted(flat, queries.reshape(-1), side="right").reshape(rows, -1)
    idx -= np.arange(rows)[:, None] * k
    # rounding in the long cumulative sum moves row boundaries by ~1e-13: keep draws inside their row
    np.minimum(idx, k - 1, out=idx)
    np.maximum(idx, 0, out=idx)
    return idx.reshape(*pi.shape[:-1], u.shape[-1])


def run_bandit(cfg: BanditConfig = BanditConfig(), betas=None, seed_ids=None, progress: bool = False) -> BanditResult:
    """Run every beta x seed in one vectorised loop; return the curves and the final rewards.

    ``seed_ids`` picks which seeds to run (default ``range(cfg.seeds)``); a subset reproduces those seeds of the
    full run exactly.
    """
    cfg.check()
    betas = np.asarray(cfg.betas if betas is None else betas, dtype=np.float64)
    seed_ids = list(range(cfg.seeds)) if seed_ids is None else list(seed_ids)
    B, S, K, n = len(betas), len(seed_ids), N_ARMS, cfg.batch_size
    rewards = arm_rewards(K)
    logits = np.broadcast_to(initial_logits(K), (B, S, K)).copy()
    if np.any(betas < 0) or not np.all(np.isfinite(betas)):
        raise ValueError(f"config key theory.bandit.betas: betas must be finite and >= 0; got {betas.tolist()}")
    beta_col = betas[:, None, None]
    gens = [np.random.default_rng([cfg.seed, s]) for s in seed_ids]
    updates = cfg.updates
    final_updates = min(updates, -(-cfg.final_window // n))
    final_sum = np.zeros((B, S))
    rec_steps, rec_reward, rec_entropy = [], [], []
    flat_index = (np.arange(B * S) * K)[:, None]

    def record(step: int, pi: np.ndarray) -> None:
        rec_steps.append(step)
        rec_reward.append(pi @ rewards)
        rec_entropy.append(_entropy(pi))

    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=updates, desc=f"bandit {B} betas x {S} seeds", unit="update", mininterval=2)
    u_block = None
    for t in range(updates):
        j = t % cfg.block
        if j == 0:
            m = min(cfg.block, updates - t)
            u_block = np.stack([g.random((m, n)) for g in gens], axis=1)  # [m, S, n]
        pi = _softmax(logits)
        if t % cfg.stride == 0:
            record(t, pi)
        u = np.broadcast_to(u_block[j], (B, S, n))
        arms = _sample(pi, u)                              # [B, S, n]
        r = rewards[arms]
        w = rs_advantage_batch(r, beta_col)                # [B, S, n]
        if t >= updates - final_updates:
            final_sum += r.sum(-1)
        # batch mean of w * (onehot(a) - pi): scatter the weights onto arms, subtract mean(w) * pi
        scat = np.bincount((arms.reshape(B * S, n) + flat_index).ravel(), weights=w.ravel(),
                           minlength=B * S * K).reshape(B, S, K)
        grad = (scat - w.sum(-1, keepdims=True) * pi) / n
        logits += cfg.step_size * grad
        if bar is not None and (t + 1) % 500 == 0:
            bar.update(500)
    if bar is not None:
        bar.update(updates - bar.n)
        bar.close()
    record(updates, _softmax(logits))

    steps = np.asarray(rec_steps)
    T = len(steps)
    rew = np.stack(rec_reward, axis=-1)   # [B, S, T]
    ent = np.stack(rec_entropy, axis=-1)
    bb, ss, tt = np.meshgrid(np.arange(B), np.arange(S), np.arange(T), indexing="ij")
    curves = pd.DataFrame({
        "beta": betas[bb.ravel()],
        "seed": np.asarray(seed_ids)[ss.ravel()],
        "step": steps[tt.ravel()],
        "samples": steps[tt.ravel()] * n,
        "mean_reward": rew.ravel(),
        "entropy": ent.ravel(),
    })
    bf, sf = np.meshgrid(np.arange(B), np.arange(S), indexing="ij")
    final = pd.DataFrame({
        "beta": betas[bf.ravel()],
        "seed": np.asarray(seed_ids)[sf.ravel()],
        "final_reward": (final_sum / (final_updates * n)).ravel(),
        "final_mode_arm": logits.argmax(-1).ravel(),
    })
    return BanditResult(curves=curves, final=final, logits=logits)


def run_bandit_single(cfg: BanditConfig, beta: float, seed_id: int) -> float:
    """One (beta, seed) run written plainly (per-update numpy, ``rng.choice``); the baseline for the benchmark.

    Returns the mean reward of the last ``final_window`` samples.
    """
    rewards = arm_rewards()
    logits = initial_logits()
    rng = np.random.default_rng([cfg.seed, seed_id])
    updates = cfg.updates
    final_updates = min(updates, -(-cfg.final_window // cfg.batch_size))
    tail = []
    for t in range(updates):
        pi = np.exp(logits - logits.max())
        pi /= pi.sum()
        arms = rng.choice(N_ARMS, size=cfg.batch_size, p=pi)
        r = rewards[arms]
        if beta == 0:
            w = r - r.mean()
        else:
            z = np.log(np.mean(np.exp(beta * (r - r.max())))) / beta + r.max()
            w = np.expm1(beta * (r - z)) / beta
        grad = np.zeros(N_ARMS)
        for a, wi in zip(arms, w):
            g = -wi * pi
            g[a] += wi
            grad += g
        logits = logits + cfg.step_size * grad / cfg.batch_size
        if t >= updates - final_updates:
            tail.append(r.mean())
    return float(np.mean(tail))
