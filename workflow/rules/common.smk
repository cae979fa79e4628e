# Config loading and validation, wildcard constraints and path helpers shared by every stage.
import hashlib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "src"))
import rsrl.config as rcfg  # noqa: E402

try:
    CFG = rcfg.validate(dict(config))
except rcfg.ConfigError as exc:
    raise WorkflowError(f"Invalid configuration: {exc}")

# The validated config (with defaults and --config overrides) is handed to every job as one JSON file.
_cfg_text = json.dumps(CFG, sort_keys=True, indent=1)
CONFIG_JSON = Path(".snakemake/rsrl") / f"config-{hashlib.sha256(_cfg_text.encode()).hexdigest()[:16]}.json"
if not CONFIG_JSON.exists():
    CONFIG_JSON.parent.mkdir(parents=True, exist_ok=True)
    _tmp = CONFIG_JSON.with_suffix(".tmp")
    _tmp.write_text(_cfg_text)
    _tmp.replace(CONFIG_JSON)

PY = "python"  # the job environment's interpreter (a venv, a conda env from envs/, or a module)

wildcard_constraints:
    model="[^/]+",
    train_set="[^/]+",
    method="[^/]+",
    benchmark="[^/]+",
    name="[^/]+",
    p=r"\d+",
    s=r"\d+",
    step=r"\d+",

CELLS = rcfg.cells(CFG)
CHECKPOINTS = rcfg.checkpoints(CFG)
TRAIN_SETS = list(CFG["train_sets"])
BENCHMARKS = list(CFG["benchmarks"])


def size_class(model):
    return CFG["size_classes"][CFG["models"][model]["size"]]


def built_model(model):
    """Directory of a locally built base model, or [] for a hub model (loaded by id)."""
    if "build" in CFG["models"][model]:
        return [f"results/models/{model}/base"]
    return []


# Step snapshots `<method>.step<k>` of the beta-ablation cell (Fig. 5): evaluated like any checkpoint.
from rsrl.report.beta_ablation import ablation_benchmarks, ablation_checkpoints  # noqa: E402

# (checkpoint, benchmark) pairs to evaluate: every checkpoint on every benchmark, snapshots on the ablation's.
EVAL_PAIRS = [(c, b) for c in CHECKPOINTS for b in BENCHMARKS] + [
    (c, b) for c in ablation_checkpoints(CFG) for b in ablation_benchmarks(CFG)]
