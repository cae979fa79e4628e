"""The 100-armed bandit of the RS-GRPO paper (Fig. 3), run with every estimator of the registry.

Setup (as in the authors' public code):

* arms ``x = 0..99``; the reward of arm ``x`` is deterministic,
  ``R(x) = 0.1 + 0.9 exp(-(x - 40)^2 / 50) + 0.5 exp(-(x - 75)^2 / 50)``: a global optimum 1.0 at x = 40 and a
  local optimum 0.6 at x = 75;
* softmax policy over logits; the initial policy is ``exp(-(x - 75)^2 / 50) + 0.1`` normalised (mass near the
  local optimum), logits = its log-probabilities centred to mean zero;
* each update draws a batch of 16 arms (one group of N = 16 samples of the one "prompt"), weights each sample by
  the estimator's advantage ``w`` (RS-GRPO: ``w = (exp(beta (r - Z)) - 1) / beta`` with
  ``Z = (1/beta) log mean_batch exp(beta r)``), and takes a step of 0.1 along the batch mean of
  ``w (onehot(a) - pi)``;
* 400,000 samples (25,000 updates); RS-GRPO with beta in {0, 2, 4, 8, 16, 32, 64} is the paper's Fig. 3.

Beyond the paper, every registry estimator runs with its theory-stage parameters (:mod:`rsrl.theory.estimator_set`)
on two reward variants with the same arm means:

* ``deterministic``: the reward is ``R(x)`` (the paper's bandit);
* ``bernoulli``: the reward is 1 with probability ``R(x)``, else 0 -- the only variant for estimators defined for
  binary rewards (``binary_only``); RS-GRPO runs there too, so the comparison is like for like.

Tables: ``rewards`` (variant), ``estimator``, ``method`` (the method id of :mod:`rsrl.methods`), ``beta``
(RS-GRPO's β; empty for the other estimators), ``seed``. ``final_reward`` is the mean of ``R(x)`` over the arms
drawn in the last 10,000 samples (the expected reward of the draws, the same definition for both variants);
``escape_samples`` is the first recorded point at which the policy's expected reward ``E_pi[R]`` reaches 0.8,
midway between the local (0.6) and the global (1.0) optimum (empty if never).

All runs and seeds go through one vectorised loop over logits of shape [runs, seeds, 100]. Seed ``s`` draws its arm
uniforms from ``default_rng([seed, s])`` and its Bernoulli uniforms from ``default_rng([seed, s, 1])``, in blocks,
and every run shares them (common random numbers), so a single (run, seed) with the same generators reproduces that
slice of the vectorised run (:func:`run_bandit_single`, the plain loop). The arm uniforms of an update are sorted,
which draws the same multiset of arms (in increasing order) and makes the sampler's queries sorted. Advantages come
from the registry functions: RS-GRPO's β sweep through :func:`rsrl.estimators.rs_advantage_batch` (all betas at
once), every other run on deterministic rewards by calling its function on the [seeds, 1, N] rewards (each seed a
batch of one prompt), and every run on binary rewards from a table ``A[c, r]`` (advantage of a sample with reward
``r`` in a group with ``c`` correct samples) made by calling the function once on the N + 1 groups ``1^c 0^(N-c)``
(again one prompt per batch). The table is exact for an estimator that treats the samples of a group alike; that is
checked when the table is made (on the reversed groups), and a run whose estimator fails the check calls its
function on every update instead. ``workers > 1`` splits the runs over processes; the result does not depend on the
split. Only curves at a stride and a running sum over the final window are kept, never per-sample histories.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from rsrl import estimators
from rsrl.estimators import risk_sensitive, rs_advantage_batch
from rsrl.methods import Method

N_ARMS = 100
RS = risk_sensitive.NAME  # the paper's estimator: its beta sweep is Fig. 3, vectorised by rs_advantage_batch
REWARDS = ("deterministic", "bernoulli")
ESCAPE_REWARD = 0.8  # E_pi[R] above this: the policy has left the local optimum (0.6) for the global one (1.0)
CURVE_COLUMNS = ["rewards", "estimator", "method", "beta", "seed", "step", "samples", "mean_reward", "entropy"]
FINAL_COLUMNS = ["rewards", "estimator", "method", "beta", "seed", "final_reward", "final_mode_arm", "escape_samples"]


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
    seeds: int = 16
    samples: int = 400_000
    batch_size: int = 16
    step_size: float = 0.1
    rewards: tuple[str, ...] = REWARDS  # reward variants to run
    seed: int = 0  # base seed; seed s of the run uses default_rng([seed, s]) (and [seed, s, 1])
    stride: int = 100  # record the curves every `stride` updates
    final_window: int = 10_000  # final_reward = mean of R over the arms of the last `final_window` samples
    block: int = 1000  # updates per block of pre-drawn uniforms

    @classmethod
    def from_config(cls, cfg: dict, **overrides) -> BanditConfig:
        b = dict((cfg.get("theory") or {}).get("bandit") or {})
        if "rewards" in b:
            b["rewards"] = tuple(b["rewards"])
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
            raise ValueError(
                f"config key theory.bandit.samples: {self.samples} samples make no batch of "
                f"{self.batch_size}; use samples >= batch_size"
            )
        bad = sorted(set(self.rewards) - set(REWARDS))
        if bad or not self.rewards:
            raise ValueError(f"config key theory.bandit.rewards: unknown variant(s) {bad}; allowed are {list(REWARDS)}")


@dataclass(frozen=True)
class BanditRun:
    """One method on one reward variant (run for every seed)."""

    method: Method
    rewards: str

    @property
    def estimator(self) -> str:
        return self.method.estimator


def bandit_runs(methods, variants=REWARDS) -> list[BanditRun]:
    """Every method on every reward variant it is defined for (binary-only estimators: ``bernoulli`` only)."""
    return [
        BanditRun(m, v)
        for v in variants
        for m in methods
        if v == "bernoulli" or not estimators.spec(m.estimator).binary_only
    ]


@dataclass
class BanditResult:
    curves: pd.DataFrame  # CURVE_COLUMNS
    final: pd.DataFrame  # FINAL_COLUMNS
    logits: np.ndarray = field(repr=False)  # [runs, seeds, arms] final logits


def _softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis. The bandit's updates keep every row's logits at mean zero (the gradient sums to
    zero over the arms), so ``exp`` without the usual max shift sums to at least 1 and only overflow needs a guard:
    rows are shifted by their maximum only when some row would overflow."""
    with np.errstate(over="ignore"):
        e = np.exp(logits)
        total = e.sum(-1, keepdims=True)
    if not np.isfinite(total).all():
        e = np.exp(logits - logits.max(-1, keepdims=True))
        total = e.sum(-1, keepdims=True)
    e /= total
    return e


def _entropy(pi: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.where(pi > 0, pi * np.log(pi), 0.0).sum(-1)


def _sample(pi: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Inverse-CDF sampling of ``u.shape[-1]`` arms per policy row, all rows in one ``searchsorted``.

    The cumulative sum over all rows flattened puts row ``i``'s CDF in ``(i, i + 1]`` (each row sums to 1), so
    one sorted array serves every row; the query for row ``i`` is ``i + u``. ``u`` broadcasts against the rows;
    uniforms sorted along their last axis make the queries sorted, which ``searchsorted`` serves fastest.
    """
    shape = pi.shape[:-1]
    rows = int(np.prod(shape))
    k = pi.shape[-1]
    flat = np.cumsum(pi.reshape(-1))
    offsets = np.arange(rows, dtype=np.float64).reshape(*shape, 1)
    queries = (u + offsets).reshape(rows, -1)
    idx = np.searchsorted(flat, queries.reshape(-1), side="right").reshape(rows, -1)
    idx -= np.arange(rows)[:, None] * k
    # rounding in the long cumulative sum moves row boundaries by ~1e-13: keep draws inside their row
    np.minimum(idx, k - 1, out=idx)
    np.maximum(idx, 0, out=idx)
    return idx.reshape(*shape, u.shape[-1])


def binary_table(fn, n: int) -> np.ndarray | None:
    """``A[c, r]``: the advantage of a sample with reward ``r`` in a binary group of ``n`` with ``c`` correct.

    From ``fn`` on the groups ``1^c 0^(n-c)``, each a batch of one prompt (shape [n + 1, 1, n]); None if ``fn``
    does not treat the samples of a group alike (its advantages on the reversed groups differ).
    """
    groups = (np.arange(n)[None, :] < np.arange(n + 1)[:, None]).astype(np.float64)  # row c: c ones first
    adv = np.asarray(fn(groups[:, None, :]), dtype=np.float64)[:, 0, :]
    rev = np.asarray(fn(groups[:, None, ::-1].copy()), dtype=np.float64)[:, 0, ::-1]
    if not np.allclose(adv, rev, rtol=1e-12, atol=1e-12):
        return None
    table = np.zeros((n + 1, 2))
    table[1:, 1] = adv[1:, 0]  # a correct sample (exists for c >= 1)
    table[:-1, 0] = adv[:-1, -1]  # an incorrect sample (exists for c <= n - 1)
    return table


class _Advantages:
    """Advantages of every run for one update's rewards [runs, seeds, n] (see the module docstring)."""

    def __init__(self, runs: list[BanditRun], n: int):
        self.rs_idx, self.rs_beta = [], []
        self.table_idx, tables = [], []
        self.calls: list[tuple[int, object]] = []
        for i, run in enumerate(runs):
            fn = estimators.get(run.estimator, **run.method.param_dict)
            if run.rewards == "bernoulli":
                table = binary_table(fn, n)
                if table is not None:
                    self.table_idx.append(i)
                    tables.append(table)
                    continue
            if run.estimator == RS:
                self.rs_idx.append(i)
                self.rs_beta.append(float(run.method.param_dict["beta"]))
            else:
                self.calls.append((i, fn))
        self.rs_beta_col = np.asarray(self.rs_beta)[:, None, None]
        self.tables = np.stack(tables) if tables else np.zeros((0, n + 1, 2))
        self.table_row = np.arange(len(self.table_idx))[:, None, None]

    def __call__(self, r: np.ndarray) -> np.ndarray:
        w = np.empty_like(r)
        if self.table_idx:
            rt = r[self.table_idx]
            c = rt.sum(-1, keepdims=True).astype(np.intp)
            w[self.table_idx] = self.tables[self.table_row, c, rt.astype(np.intp)]
        if self.rs_idx:
            w[self.rs_idx] = rs_advantage_batch(r[self.rs_idx], self.rs_beta_col)
        for i, fn in self.calls:  # every seed is a batch of one prompt: [seeds, 1, n]
            w[i] = fn(r[i][:, None, :])[:, 0, :]
        return w


def _simulate(cfg: BanditConfig, runs: list[BanditRun], seed_ids: list[int], progress: bool = False) -> BanditResult:
    R, S, K, n = len(runs), len(seed_ids), N_ARMS, cfg.batch_size
    rewards = arm_rewards(K)
    logits = np.broadcast_to(initial_logits(K), (R, S, K)).copy()
    bern_idx = np.flatnonzero([run.rewards == "bernoulli" for run in runs])
    advantages = _Advantages(runs, n)
    arm_gens = [np.random.default_rng([cfg.seed, s]) for s in seed_ids]
    coin_gens = [np.random.default_rng([cfg.seed, s, 1]) for s in seed_ids]
    updates = cfg.updates
    final_updates = min(updates, -(-cfg.final_window // n))
    final_sum = np.zeros((R, S))
    rec_steps, rec_reward, rec_entropy = [], [], []
    flat_index = (np.arange(R * S) * K)[:, None]

    def record(step: int, pi: np.ndarray) -> None:
        rec_steps.append(step)
        rec_reward.append(pi @ rewards)
        rec_entropy.append(_entropy(pi))

    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=updates, desc=f"bandit {R} runs x {S} seeds", unit="update", mininterval=2)
    u_block = v_block = None
    for t in range(updates):
        j = t % cfg.block
        if j == 0:
            m = min(cfg.block, updates - t)
            # sorted within each update: the same multiset of arms, drawn in increasing order
            u_block = np.sort(np.stack([g.random((m, n)) for g in arm_gens], axis=1), axis=-1)  # [m, S, n]
            v_block = np.stack([g.random((m, n)) for g in coin_gens], axis=1)
        pi = _softmax(logits)
        if t % cfg.stride == 0:
            record(t, pi)
        arms = _sample(pi, u_block[j])  # [R, S, n]
        mean_r = rewards[arms]
        r = mean_r.copy()
        if bern_idx.size:
            r[bern_idx] = v_block[j] < mean_r[bern_idx]
        w = advantages(r)  # [R, S, n]
        if t >= updates - final_updates:
            final_sum += mean_r.sum(-1)
        # batch mean of w * (onehot(a) - pi): scatter the weights onto arms, subtract sum(w) * pi, divide by n
        step = np.bincount(
            (arms.reshape(R * S, n) + flat_index).ravel(), weights=w.ravel(), minlength=R * S * K
        ).reshape(R, S, K)
        step -= pi * w.sum(-1, keepdims=True)
        step *= cfg.step_size / n
        logits += step
        if bar is not None and (t + 1) % 500 == 0:
            bar.update(500)
    if bar is not None:
        bar.update(updates - bar.n)
        bar.close()
    record(updates, _softmax(logits))

    steps = np.asarray(rec_steps)
    T = len(steps)
    rew = np.stack(rec_reward, axis=-1)  # [R, S, T]
    ent = np.stack(rec_entropy, axis=-1)
    rr, ss, tt = np.meshgrid(np.arange(R), np.arange(S), np.arange(T), indexing="ij")
    variant, est, method, beta = _run_columns(runs, rr.ravel())
    curves = pd.DataFrame(
        {
            "rewards": variant,
            "estimator": est,
            "method": method,
            "beta": beta,
            "seed": np.asarray(seed_ids)[ss.ravel()],
            "step": steps[tt.ravel()],
            "samples": steps[tt.ravel()] * n,
            "mean_reward": rew.ravel(),
            "entropy": ent.ravel(),
        }
    )
    reached = rew >= ESCAPE_REWARD
    first = np.where(reached.any(-1), steps[reached.argmax(-1)] * n, np.nan)  # [R, S]
    rf, sf = np.meshgrid(np.arange(R), np.arange(S), indexing="ij")
    variant, est, method, beta = _run_columns(runs, rf.ravel())
    final = pd.DataFrame(
        {
            "rewards": variant,
            "estimator": est,
            "method": method,
            "beta": beta,
            "seed": np.asarray(seed_ids)[sf.ravel()],
            "final_reward": (final_sum / (final_updates * n)).ravel(),
            "final_mode_arm": logits.argmax(-1).ravel(),
            "escape_samples": first.ravel(),
        }
    )
    return BanditResult(curves=curves, final=final, logits=logits)


def _run_columns(runs: list[BanditRun], index: np.ndarray) -> tuple[np.ndarray, ...]:
    """The rewards, estimator, method and beta (RS-GRPO's β, else NaN) columns of rows of ``runs[index]``."""
    cols = np.array([(run.rewards, run.estimator, run.method.id) for run in runs], dtype=object)
    beta = np.array([float(run.method.param_dict["beta"]) if run.estimator == RS else np.nan for run in runs])
    return cols[index, 0], cols[index, 1], cols[index, 2], beta[index]


def run_bandit(
    cfg: BanditConfig, runs: list[BanditRun], seed_ids=None, workers: int = 1, progress: bool = False
) -> BanditResult:
    """Run every (run, seed) in one vectorised loop (``workers`` processes, each a share of the runs).

    ``seed_ids`` picks which seeds to run (default ``range(cfg.seeds)``); a subset, or any split of the runs,
    reproduces those slices of the full run exactly.
    """
    cfg.check()
    if not runs:
        raise ValueError("bandit: no runs")
    seed_ids = list(range(cfg.seeds)) if seed_ids is None else list(seed_ids)
    workers = max(1, min(int(workers), len(runs)))
    if workers == 1:
        return _simulate(cfg, list(runs), seed_ids, progress)
    # round robin: every worker gets a like share of the costlier runs (those that call their estimator)
    chunks = [list(range(k, len(runs), workers)) for k in range(workers)]
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        parts = list(pool.map(_simulate, [cfg] * workers, [[runs[i] for i in c] for c in chunks], [seed_ids] * workers))
    position = {(run.rewards, run.method.id): i for i, run in enumerate(runs)}

    def in_run_order(frames: list[pd.DataFrame], by: list[str]) -> pd.DataFrame:
        df = pd.concat(frames, ignore_index=True)
        key = np.array([position[k] for k in zip(df.rewards, df.method)])
        return df.assign(_run=key).sort_values(["_run"] + by, kind="stable").drop(columns="_run").reset_index(drop=True)

    logits = np.empty((len(runs), len(seed_ids), N_ARMS))
    for c, part in zip(chunks, parts):
        logits[c] = part.logits
    return BanditResult(
        curves=in_run_order([p.curves for p in parts], ["seed", "step"]),
        final=in_run_order([p.final for p in parts], ["seed"]),
        logits=logits,
    )


def run_bandit_single(cfg: BanditConfig, run: BanditRun, seed_id: int) -> float:
    """One (run, seed) written plainly (per-update inverse-CDF draws, the registry function on the group).

    The baseline for the benchmark and the reference of the vectorised loop; returns the final reward.
    """
    rewards = arm_rewards()
    logits = initial_logits()
    fn = estimators.get(run.estimator, **run.method.param_dict)
    rng = np.random.default_rng([cfg.seed, seed_id])
    coins = np.random.default_rng([cfg.seed, seed_id, 1])
    updates = cfg.updates
    final_updates = min(updates, -(-cfg.final_window // cfg.batch_size))
    tail = []
    for t in range(updates):
        pi = np.exp(logits - logits.max())
        pi /= pi.sum()
        u = np.sort(rng.random(cfg.batch_size))
        arms = np.minimum(np.searchsorted(np.cumsum(pi), u, side="right"), N_ARMS - 1)
        v = coins.random(cfg.batch_size)
        r = (v < rewards[arms]).astype(np.float64) if run.rewards == "bernoulli" else rewards[arms]
        w = fn(r[None, :])[0]
        grad = np.zeros(N_ARMS)
        for a, wi in zip(arms, w):
            g = -wi * pi
            g[a] += wi
            grad += g
        logits = logits + cfg.step_size * grad / cfg.batch_size
        if t >= updates - final_updates:
            tail.append(rewards[arms].mean())
    return float(np.mean(tail))
