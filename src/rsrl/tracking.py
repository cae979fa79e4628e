"""Experiment tracking (the config's ``tracking:`` block): W&B, TensorBoard, MLflow or Trackio, off by default.

Each trained cell is one run, named after the cell (:func:`run_name`, ``model.train_set.run``), its run config the
cell's settings (:func:`run_config`). The trainers log their training scalars to it (TRL through ``report_to``,
OpenRLHF through its ``--logger.*`` flags, :func:`openrlhf_flags`); the evaluation stage logs pass@k of every
checkpoint and benchmark to the same run (:func:`log_passk`, keys ``passk/<benchmark>/pass_at_<k>`` against the
checkpoint's training step, ``passk/step``).

Credentials come from the environment only (``WANDB_API_KEY``, ``MLFLOW_TRACKING_URI``...): no key is ever
written to the config, a command line or a log. :func:`check_environment` runs when the DAG is built and fails
naming the package to install or the variable to set; offline mode needs no network and no key.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
from pathlib import Path

from rsrl.config import ConfigError

#: The package each backend needs in the job's environment.
PACKAGES = {"wandb": "wandb", "tensorboard": "tensorboard", "mlflow": "mlflow", "trackio": "trackio"}
#: The environment variable that holds each online backend's credentials (None: none needed).
CREDENTIALS = {"wandb": "WANDB_API_KEY", "tensorboard": None, "mlflow": None, "trackio": None}
PASSK_PREFIX = "passk"


def settings(cfg: dict) -> dict:
    return cfg.get("tracking") or {"backend": "none"}


def enabled(cfg: dict) -> bool:
    return settings(cfg).get("backend", "none") != "none"


def run_name(model: str, train_set: str, run: str) -> str:
    """A cell's run: its id with dots for slashes (W&B run ids may not contain ``/``)."""
    return re.sub(r"[^A-Za-z0-9._=-]", "-", f"{model}.{train_set}.{run}")


def run_config(cfg: dict, model: str, train_set: str, run: str, estimator: str, params: dict) -> dict:
    """What a run records as its config: the cell and the settings it trained with."""
    return {
        "model": model,
        "train_set": train_set,
        "run": run,
        "estimator": estimator,
        "params": params,
        "model_spec": cfg["models"][model],
        "training": cfg["training"],
    }


def check_environment(cfg: dict, online_env: dict | None = None) -> None:
    """Fail when the backend's package is missing from this environment, or an online backend has no credentials
    in the environment. Called when the DAG is built; offline mode needs no credentials."""
    t = settings(cfg)
    backend = t.get("backend", "none")
    if backend == "none":
        return
    if backend in ("mlflow", "trackio"):
        from rsrl import grid

        if any(c.trainer == "openrlhf" for c in grid.cells(cfg)):
            raise ConfigError(
                f"config key tracking.backend: {backend!r} reaches TRL cells only; OpenRLHF 0.11.2 "
                "logs to W&B and TensorBoard alone. Use wandb or tensorboard for a grid with "
                "OpenRLHF cells."
            )
    package = PACKAGES[backend]
    if importlib.util.find_spec(package) is None:
        raise ConfigError(
            f"config key tracking.backend: {backend!r} needs the Python package {package!r}, which is "
            f"not installed; `pip install {package}` (and pin it in envs/cpu.txt), or set "
            "tracking.backend: none."
        )
    env = os.environ if online_env is None else online_env
    var = CREDENTIALS[backend]
    if var and t.get("mode", "online") == "online" and not env.get(var):
        raise ConfigError(
            f"config key tracking.backend: {backend!r} in online mode needs the environment "
            f"variable {var} (never put the key in the config); or set tracking.mode: offline."
        )


def tensorboard_dir(cfg: dict, name: str) -> Path:
    return Path(settings(cfg)["dir"]) / "tensorboard" / name


def env(cfg: dict, name: str) -> dict[str, str]:
    """Environment variables that point a trainer's own tracker integration at the cell's run (no credentials)."""
    t = settings(cfg)
    backend = t.get("backend", "none")
    d = Path(t.get("dir", "logs/tracking")).resolve()
    if backend == "wandb":
        out = {
            "WANDB_PROJECT": t["project"],
            "WANDB_MODE": t["mode"],
            "WANDB_DIR": str(d),
            "WANDB_RUN_ID": name,
            "WANDB_RESUME": "allow",
            "WANDB_NAME": name,
        }
        if t.get("entity"):
            out["WANDB_ENTITY"] = t["entity"]
        if t.get("tags"):
            out["WANDB_TAGS"] = ",".join(t["tags"])
        return out
    if backend == "tensorboard":
        return {"TENSORBOARD_LOGGING_DIR": str(tensorboard_dir(cfg, name).resolve())}
    if backend == "mlflow":
        out = {"MLFLOW_EXPERIMENT_NAME": t["project"], "MLFLOW_RUN_NAME": name}
        if not os.environ.get("MLFLOW_TRACKING_URI"):
            out["MLFLOW_TRACKING_URI"] = (d / "mlruns").as_uri()
        return out
    if backend == "trackio":
        return {"TRACKIO_PROJECT": t["project"], "TRACKIO_DIR": str(d / "trackio")}
    return {}


def report_to(cfg: dict) -> list[str]:
    """TRL/transformers ``report_to``: the backend's integration, or none."""
    return [settings(cfg)["backend"]] if enabled(cfg) else []


def openrlhf_flags(cfg: dict, name: str, group: str) -> list[str]:
    """OpenRLHF 0.11.2 logger flags for the cell's run (appended after the cell's own; the last flag wins).

    OpenRLHF enables W&B when ``--logger.wandb.key`` is non-empty and logs in with it only when wandb has no key
    of its own; the key itself stays in ``WANDB_API_KEY`` (the flag carries the variable's name, not its value)."""
    t = settings(cfg)
    backend = t.get("backend", "none")
    if backend == "wandb":
        a = [
            "--logger.wandb.key",
            CREDENTIALS["wandb"],
            "--logger.wandb.project",
            t["project"],
            "--logger.wandb.group",
            group,
            "--logger.wandb.run_name",
            name,
        ]
        if t.get("entity"):
            a += ["--logger.wandb.org", t["entity"]]
        return a
    if backend == "tensorboard":
        # OpenRLHF writes its events to <tensorboard_dir>/<run_name>.
        return [
            "--logger.tensorboard_dir",
            str(tensorboard_dir(cfg, name).parent.resolve()),
            "--logger.wandb.run_name",
            name,
        ]
    return []


def open_run(cfg: dict, name: str, config: dict, group: str | None = None):
    """Start (or resume) the cell's run in this process and return a handle with ``log(metrics, step)`` and
    ``finish()``; None when tracking is off."""
    t = settings(cfg)
    backend = t.get("backend", "none")
    if backend == "none":
        return None
    return _OPENERS[backend](t, name, config, group, cfg)


class _Run:
    def __init__(self, log, finish):
        self.log, self.finish = log, finish


def _wandb(t, name, config, group, cfg):
    import wandb

    run = wandb.init(
        id=name,
        name=name,
        project=t["project"],
        entity=t.get("entity"),
        mode=t["mode"],
        dir=str(Path(t["dir"]).resolve()),
        tags=t.get("tags") or None,
        group=group,
        config=config,
        resume="allow",
        reinit="finish_previous",
    )
    run.define_metric(f"{PASSK_PREFIX}/step")
    run.define_metric(f"{PASSK_PREFIX}/*", step_metric=f"{PASSK_PREFIX}/step")

    def finish():
        run.finish()
        wandb.teardown()  # waits for wandb's service to write the run (finish alone returns before, offline)

    return _Run(lambda m, step: run.log({**m, f"{PASSK_PREFIX}/step": step}), finish)


def _tensorboard(t, name, config, group, cfg):
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(log_dir=str(tensorboard_dir(cfg, name)))
    writer.add_text("rsrl/config", json.dumps(config, indent=1, default=str))

    def log(metrics, step):
        for k, v in metrics.items():
            writer.add_scalar(k, v, step)

    return _Run(log, writer.close)


def _mlflow(t, name, config, group, cfg):
    import mlflow

    for k, v in env(cfg, name).items():
        os.environ.setdefault(k, v)
    mlflow.set_experiment(t["project"])
    found = mlflow.search_runs(filter_string=f"tags.mlflow.runName = '{name}'", output_format="list")
    run = mlflow.start_run(run_id=found[0].info.run_id) if found else mlflow.start_run(run_name=name)
    if not found:
        mlflow.log_params({k: json.dumps(v, default=str)[:500] for k, v in config.items()})
    return _Run(lambda m, step: mlflow.log_metrics(m, step=step), lambda: mlflow.end_run() if run else None)


def _trackio(t, name, config, group, cfg):
    import trackio

    trackio.init(project=t["project"], name=name, config=config, resume="allow")
    return _Run(lambda m, step: trackio.log(m, step=step), trackio.finish)


_OPENERS = {"wandb": _wandb, "tensorboard": _tensorboard, "mlflow": _mlflow, "trackio": _trackio}


def passk_key(benchmark: str, k: int) -> str:
    return f"{PASSK_PREFIX}/{benchmark}/pass_at_{int(k)}"


def log_passk(cfg: dict, passk) -> int:
    """Log pass@k of every trained checkpoint (``results/tables/passk.csv`` rows) to its cell's run, against the
    checkpoint's training step (the final model at ``training.max_steps``); returns the runs written. Base models
    have no run."""
    if not enabled(cfg) or passk is None or len(passk) == 0:
        return 0
    import pandas as pd

    trained = passk[passk["train_set"] != "base"].copy()
    if trained.empty:
        return 0
    step = pd.to_numeric(trained["step"], errors="coerce")
    trained["_step"] = step.fillna(cfg["training"]["max_steps"]).astype(int)
    trained["_run"] = [m.removesuffix(f".step{int(s)}") if pd.notna(s) else m for m, s in zip(trained["method"], step)]
    n = 0
    for (model, train_set, run), rows in trained.groupby(["model", "train_set", "_run"], sort=True):
        first = rows.iloc[0]
        params = json.loads(first["params"]) if isinstance(first.get("params"), str) and first["params"] else {}
        handle = open_run(
            cfg,
            run_name(model, train_set, run),
            run_config(cfg, model, train_set, run, str(first.get("estimator", "")), params),
            group=f"{model}.{train_set}",
        )
        for s, at_step in rows.groupby("_step", sort=True):
            handle.log(
                {
                    passk_key(b, k): float(v)
                    for b, k, v in zip(at_step["benchmark"], at_step["k"], at_step["pass_at_k"])
                },
                int(s),
            )
        handle.finish()
        n += 1
    return n
