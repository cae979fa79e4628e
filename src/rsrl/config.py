"""Pipeline configuration: loading, JSON-schema validation, defaults and cross-reference checks.

The lowest layer of the package: it imports no other layer but the estimator registry (pure functions). A whole
config is validated by :func:`rsrl.grid.load` / :func:`rsrl.grid.validate` (this module's checks, then the
grid's), so a bad config fails once, early, with a message that names the key and says what is allowed.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import math
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from rsrl import dapo, estimators, setup_record

REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMA_PATH = REPO_ROOT / "workflow" / "schemas" / "config.schema.json"


class ConfigError(ValueError):
    """A configuration problem; the message names the offending key and how to fix it."""


def _schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text())


def _key_path(path: Iterable[Any]) -> str:
    parts = [str(p) for p in path]
    return ".".join(parts) if parts else "<top level>"


def _subschema(schema: dict, path: Iterable[Any], root: dict) -> dict:
    """Follow `$ref`s to the schema node that validated `path` (for listing allowed keys)."""
    node = schema
    for _ in range(10):
        if "$ref" in node:
            ref = node["$ref"].split("/")[1:]
            node = root
            for r in ref:
                node = node[r]
        else:
            break
    return node


_NUMBER_TEXT = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def _format_error(err: jsonschema.ValidationError, root: dict) -> str:
    where = _key_path(err.absolute_path)
    expected = err.validator_value if err.validator == "type" else None
    numeric = expected in ("number", "integer") or (
        isinstance(expected, list) and {"number", "integer"} & set(expected)
    )
    if numeric and isinstance(err.instance, str) and _NUMBER_TEXT.fullmatch(err.instance.strip()):
        return (
            f"config key {where}: {err.instance!r} is text, not a number, to YAML (YAML reads a number in "
            f"exponent form only with a dot and a signed exponent, e.g. 1.0e-3); write it as "
            f"{float(err.instance)!r}."
        )
    schema = _subschema(err.schema, err.absolute_schema_path, root)
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        allowed = sorted(schema.get("properties", {}))
        extra = sorted(set(err.instance) - set(allowed))
        return (
            f"config key {where}: unknown key(s) {extra}; allowed keys are {allowed}. "
            "Check the spelling against config/config.yaml."
        )
    if err.validator == "enum":
        return f"config key {where}: value {err.instance!r} is not allowed; allowed values are {err.validator_value}."
    if err.validator == "required":
        return f"config key {where}: {err.message}. Add it (see config/config.yaml for an example)."
    if err.validator in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        return f"config key {where}: {err.message}."
    if err.validator == "oneOf" and where.startswith("models."):
        return f"config key {where}: a model needs exactly one of 'hf_id' (load from the hub) or 'build' (tiny local model)."
    if err.validator == "propertyNames":
        return f"config key {where}: name {err.instance!r} is not allowed; {err.message}."
    return f"config key {where}: {err.message}"


def _fill_defaults(instance: Any, schema: dict, root: dict) -> None:
    """Fill schema `default`s into `instance` in place (objects only)."""
    schema = _subschema(schema, (), root)
    if not isinstance(instance, dict) or schema.get("type") != "object":
        return
    for key, sub in schema.get("properties", {}).items():
        sub = _subschema(sub, (), root)
        if key not in instance and "default" in sub:
            instance[key] = copy.deepcopy(sub["default"])
        if key in instance:
            _fill_defaults(instance[key], sub, root)
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        for key, value in instance.items():
            if key not in schema.get("properties", {}):
                _fill_defaults(value, extra, root)


def _integers(instance: Any, schema: dict, root: dict) -> Any:
    """``instance`` with every whole float where the schema asks for an integer written as an int (YAML's ``60.0``
    for ``max_steps`` is 60), so that job fingerprints follow values, not their spelling."""
    schema = _subschema(schema, (), root)
    if schema.get("type") == "integer" and isinstance(instance, float) and instance.is_integer():
        return int(instance)
    if isinstance(instance, dict):
        props, extra = schema.get("properties", {}), schema.get("additionalProperties")
        return {
            k: _integers(v, props[k], root)
            if k in props
            else (_integers(v, extra, root) if isinstance(extra, dict) else v)
            for k, v in instance.items()
        }
    if isinstance(instance, list) and isinstance(schema.get("items"), dict):
        return [_integers(v, schema["items"], root) for v in instance]
    return instance


# --------------------------------------------------------------------------------------------------------------
# Cross-reference checks a JSON schema cannot express


def _check_references(cfg: dict, explicit_k_table: bool = True) -> None:

    context = {"group_size": cfg["training"]["n_samples_per_prompt"]}
    if cfg["training"].get("rollout_batch_size"):
        context["prompts_per_batch"] = cfg["training"]["rollout_batch_size"]
    models, sizes = cfg["models"], cfg["size_classes"]
    for name, m in models.items():
        if m["size"] not in sizes:
            raise ConfigError(
                f"config key models.{name}.size: size class {m['size']!r} is not defined; "
                f"defined size classes are {sorted(sizes)} (add it under size_classes)."
            )
    for ts in set(cfg["train_sets"]) & set(cfg["benchmarks"]):
        raise ConfigError(
            f"config keys train_sets.{ts} and benchmarks.{ts}: a name must be either a training set "
            "or a benchmark, not both."
        )
    for name, src in {**cfg["train_sets"], **cfg["benchmarks"]}.items():
        kind = "train_sets" if name in cfg["train_sets"] else "benchmarks"
        if src["loader"] != "synthetic" and "hub" not in src and "local" not in src:
            raise ConfigError(
                f"config key {kind}.{name}: needs a 'hub' source (id, revision, splits) or a 'local' file."
            )
        ex = src.get("exclude_benchmark")
        if ex is not None and ex not in cfg["benchmarks"]:
            raise ConfigError(
                f"config key {kind}.{name}.exclude_benchmark: unknown benchmark {ex!r}; "
                f"configured benchmarks are {sorted(cfg['benchmarks'])}."
            )
    for i, block in enumerate(cfg["grid"]):
        for key, known in (("models", models), ("train_sets", cfg["train_sets"])):
            for v in block[key]:
                if v not in known:
                    raise ConfigError(
                        f"config key grid[{i}].{key}: unknown name {v!r}; allowed values are {sorted(known)}."
                    )
        for j, m in enumerate(block["methods"]):
            where = f"config key grid[{i}].methods[{j}]"
            if m["estimator"] not in estimators.names():
                raise ConfigError(
                    f"{where}.estimator: unknown estimator {m['estimator']!r}; allowed values are "
                    f"{estimators.names()} (registered in rsrl/estimators/)."
                )
            params = m.get("params") or {}
            axes = [v if isinstance(v, list) else [v] for v in params.values()]
            for combo in itertools.product(*axes):
                try:
                    estimators.check_params(
                        m["estimator"], dict(zip(params, combo)), context=context, where=f"{where}.params"
                    )
                except estimators.EstimatorError as exc:
                    raise ConfigError(str(exc)) from None
    try:
        dapo.check(cfg["training"], group_sizes=[n for b in cfg["grid"] for n in b.get("group_sizes") or []])
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    for b in cfg["evaluation"].get("per_benchmark", {}):
        if b not in cfg["benchmarks"]:
            raise ConfigError(
                f"config key evaluation.per_benchmark.{b}: unknown benchmark {b!r}; "
                f"configured benchmarks are {sorted(cfg['benchmarks'])}."
            )
    ns = [benchmark_settings(cfg, b)["n"] for b in cfg["benchmarks"]]
    for k in cfg["report"]["k_table"] if explicit_k_table else []:
        # the evaluation reports pass@k for k = 1, 2, 4, ... up to each benchmark's n, and at n itself
        if (k & (k - 1) and k not in ns) or k > max(ns):
            raise ConfigError(
                f"config key report.k_table: pass@{k} is not computed; the evaluation reports pass@k "
                f"for k = 1, 2, 4, ... up to each benchmark's n and at n itself (n configured: {sorted(set(ns))}). "
                "Use one of those, or raise evaluation.per_benchmark.<b>.n."
            )
    pm = cfg["report"]["paper_methods"]
    for role, label in cfg["report"]["roles"].items():
        if label not in pm:
            raise ConfigError(
                f"config key report.roles.{role}: {label!r} is not a label of report.paper_methods; "
                f"allowed values are {sorted(pm)}."
            )
    rep = cfg["report"].get("ablation", {})
    if rep.get("model") and rep["model"] not in models:
        raise ConfigError(
            f"config key report.ablation.model: unknown model {rep['model']!r}; allowed values are {sorted(models)}."
        )
    for b in rep.get("benchmarks", []):
        if b not in cfg["benchmarks"]:
            raise ConfigError(
                f"config key report.ablation.benchmarks: unknown benchmark {b!r}; "
                f"allowed values are {sorted(cfg['benchmarks'])}."
            )
    if rep.get("train_set") and rep["train_set"] not in cfg["train_sets"]:
        raise ConfigError(
            f"config key report.ablation.train_set: unknown training set {rep['train_set']!r}; "
            f"allowed values are {sorted(cfg['train_sets'])}."
        )
    for key in ("ablation", "comparison"):
        for b in (cfg["report"].get(key) or {}).get("benchmarks", []):
            if b not in cfg["benchmarks"]:
                raise ConfigError(
                    f"config key report.{key}.benchmarks: unknown benchmark {b!r}; "
                    f"allowed values are {sorted(cfg['benchmarks'])}."
                )


def _check_finite(value: Any, path: tuple = ()) -> None:
    """No NaN or infinity anywhere in a config: no setting means either (a learning rate, a timeout, a β)."""
    if isinstance(value, dict):
        for k, v in value.items():
            _check_finite(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_finite(v, (*path, i))
    elif isinstance(value, float) and not math.isfinite(value):
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")
        raise ConfigError(f"config key {where}: {value} is not a finite number; give a finite value.")


def _check_evaluation(cfg: dict) -> None:
    """Sampling and grading settings that would make results meaningless or grading impossible."""
    for b in cfg["benchmarks"]:
        st = benchmark_settings(cfg, b)
        where = (
            f"evaluation.per_benchmark.{b}.temperature"
            if "temperature" in cfg["evaluation"].get("per_benchmark", {}).get(b, {})
            else "evaluation.temperature"
        )
        if st["temperature"] == 0 and st["n"] > 1:
            raise ConfigError(
                f"config key {where}: temperature 0 (greedy decoding) with n = {st['n']} samples of "
                f"benchmark {b!r} gives {st['n']} identical samples, so pass@k for k > 1 equals pass@1. "
                "Sample at a temperature above 0, or set n: 1 for greedy evaluation."
            )
        if st["temperature"] > 2:
            raise ConfigError(
                f"config key {where}: temperature {st['temperature']} for benchmark {b!r} is above 2, "
                "where sampling is close to uniform over the vocabulary; use a value in (0, 2]."
            )
    g = cfg["evaluation"]["grader"]
    if g["deadline_s"] < 2 * g["timeout_s"]:
        raise ConfigError(
            f"config key evaluation.grader.deadline_s: {g['deadline_s']} s is less than twice "
            f"timeout_s ({g['timeout_s']} s): a grading task parses and verifies, each up to timeout_s, "
            "so its worker would be killed before it can answer. Raise deadline_s to at least "
            f"{2 * g['timeout_s']}."
        )


def check_training_steps(training: dict, where: str = "training") -> None:
    """Snapshot steps within the run; raises :class:`ConfigError` naming the key."""
    t = training
    late = [st for st in t["eval_steps"] if st > t["max_steps"]]
    if late:
        raise ConfigError(
            f"config key {where}.eval_steps: step(s) {late} lie beyond {where}.max_steps "
            f"({t['max_steps']}); no snapshot would be taken there. Remove them or raise max_steps."
        )


def check_trl_training(training: dict, where: str = "training") -> None:
    """What the TRL trainer needs of the training settings; raises :class:`ConfigError` naming the keys. Checked
    for every config whose grid trains a cell with TRL (:func:`rsrl.grid.validate`), and again by the trainer."""
    t = training
    n = t["n_samples_per_prompt"]
    rbs = t.get("rollout_batch_size", 1)
    tbs = t.get("train_batch_size", rbs * n)
    micro = t.get("micro_train_batch_size", min(tbs, 8))
    if tbs % micro or (rbs * n) % tbs:
        raise ConfigError(
            f"config key {where}: train_batch_size must be a multiple of micro_train_batch_size and divide "
            f"rollout_batch_size * n_samples_per_prompt ({rbs} * {n}); got train_batch_size={tbs}, "
            f"micro_train_batch_size={micro}."
        )
    if t.get("entropy_coef"):
        raise ConfigError(f"config key {where}.entropy_coef: the TRL trainer has no entropy bonus; set it to 0.")


def check_openrlhf_training(training: dict, where: str = "training") -> None:
    """What OpenRLHF's batch arithmetic needs of the training settings; raises :class:`ConfigError` naming the
    keys. Checked for every config whose grid trains a cell with OpenRLHF (:func:`rsrl.grid.validate`), and again
    when its command line is built."""
    t = training
    n, rbs = t["n_samples_per_prompt"], t["rollout_batch_size"]
    try:
        dapo.check(t, where)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if t["train_batch_size"] % t["micro_train_batch_size"]:
        raise ConfigError(
            f"config keys {where}.train_batch_size ({t['train_batch_size']}) must be a multiple of "
            f"{where}.micro_train_batch_size ({t['micro_train_batch_size']})."
        )
    if (rbs * n) % t["train_batch_size"]:
        raise ConfigError(
            f"config keys {where}: rollout_batch_size * n_samples_per_prompt ({rbs * n}) must be a "
            f"multiple of train_batch_size ({t['train_batch_size']})."
        )
    for st in t["eval_steps"]:
        if st % t["save_steps"] or st > t["max_steps"]:
            raise ConfigError(
                f"config key {where}.eval_steps: step {st} must be a multiple of {where}.save_steps "
                f"({t['save_steps']}) and at most {where}.max_steps ({t['max_steps']}); snapshots are "
                "taken at checkpoints."
            )


def validate(cfg: dict) -> dict:
    """Validate a parsed config against the schema and its own cross-references (names, sizes, estimator
    parameters); return a copy with schema defaults filled in. Raises :class:`ConfigError`.

    The checks that need the grid (duplicate cells, the figures' cells, each trainer's batch arithmetic) are
    :func:`rsrl.grid.validate`'s, which calls this first: a workflow or command validates through that one."""
    if not isinstance(cfg, dict):
        raise ConfigError("config: expected a mapping at the top level (see config/config.yaml).")
    cfg = copy.deepcopy(cfg)
    schema = _schema()
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(cfg), key=lambda e: (len(list(e.absolute_path)), str(e.absolute_path)))
    if errors:
        # Deepest, most specific error first for nested oneOf/anyOf.
        err = jsonschema.exceptions.best_match(errors)
        raise ConfigError(_format_error(err, schema))
    explicit_k_table = "k_table" in (cfg.get("report") or {})
    cfg = _integers(cfg, schema, schema)
    _fill_defaults(cfg, schema, schema)
    _check_references(cfg, explicit_k_table)  # names a non-finite estimator parameter with its allowed range
    _check_finite(cfg)
    _check_evaluation(cfg)
    check_training_steps(cfg["training"])
    if cfg.get("setup_record"):
        empty = {b: {} for b in setup_record.BLOCKS}
        _fill_defaults(empty, {**schema, "required": []}, schema)
        block = schema["properties"]["grid"]["items"]["properties"]
        defaults = setup_record.schema_defaults(empty, {k: v["default"] for k, v in block.items() if "default" in v})
        try:
            setup_record.check(cfg, setup_record.read(resolve(cfg["setup_record"])), defaults)
        except setup_record.RecordError as exc:
            raise ConfigError(str(exc)) from None
    return cfg


class _StrictLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping (YAML would keep the last silently)."""


def _construct_mapping(loader, node, deep=False):
    seen: dict = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise ConfigError(
                f"config file {loader.source_path}: key {key!r} appears twice in one mapping (lines "
                f"{seen[key] + 1} and {key_node.start_mark.line + 1}); YAML would silently keep the "
                "last one. Remove one of them."
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_yaml(path: str | Path) -> dict:
    """One config file, parsed strictly: duplicate keys and YAML tags (``!!python/...``) are errors naming it."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file {path} does not exist.")
    if not path.is_file():
        raise ConfigError(
            f"config file {path} is not a file (a directory?); name a YAML file such as config/config.yaml."
        )
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(
            f"config file {path} is not text (a binary file?); name a YAML file such as config/config.yaml."
        ) from None
    loader = _StrictLoader(text)
    loader.source_path = str(path)
    try:
        return loader.get_single_data() or {}
    except yaml.constructor.ConstructorError as exc:
        raise ConfigError(
            f"config file {path}: {exc.problem} at line {exc.problem_mark.line + 1} (YAML tags such "
            "as !!python/... are not allowed in a config; write plain values)."
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path}: not valid YAML: {exc}") from None
    finally:
        loader.dispose()


def merge(base: dict, update: dict) -> dict:
    """``base`` updated by ``update`` as Snakemake merges config files: mappings key by key, at every depth; any
    other value (a list included) replaced whole."""
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def load(*paths: str | Path, overrides: dict | None = None) -> dict:
    """Load one or more YAML files (later ones update earlier ones key by key at every depth, as Snakemake merges
    ``--configfile``s), validate, return."""
    cfg: dict = {}
    for p in paths:
        cfg = merge(cfg, read_yaml(p))
    if overrides:
        cfg = merge(cfg, overrides)
    return validate(cfg)


def benchmark_settings(cfg: dict, benchmark: str) -> dict:
    """Sampling settings of one benchmark: the evaluation defaults updated by its per_benchmark entry."""
    ev = cfg["evaluation"]
    out = {k: ev[k] for k in ("n", "temperature", "top_p", "max_tokens")}
    out.update(ev.get("per_benchmark", {}).get(benchmark, {}))
    return out


def write_config_json(cfg: dict, path: str | Path) -> Path:
    """Write the validated config as JSON at ``path`` (atomically, and only when its content changes)."""
    path = Path(path)
    text = json.dumps(cfg, indent=1)  # key order kept: it is the order of benchmarks, models and tables
    if not path.exists() or path.read_text() != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(text)
        tmp.replace(path)
    return path


#: The environment variable through which a workflow hands its jobs the path of their config snapshot.
CONFIG_ENV = "RSRL_CONFIG"


def write_config_snapshot(cfg: dict, directory: str | Path) -> Path:
    """Write the validated config as ``directory/<sha256 of its JSON>.json`` and return the path.

    A snapshot is addressed by its content and never rewritten, so a job reads the config it was planned with
    even when another Snakemake call (a dry run with an edited config) writes its own snapshot meanwhile."""
    text = json.dumps(cfg, indent=1)  # key order kept: it is the order of benchmarks, models and tables
    path = Path(directory) / f"{hashlib.sha256(text.encode()).hexdigest()[:24]}.json"
    if not path.exists():
        write_config_json(cfg, path)
    return path


def resolve(rel: str | Path) -> Path:
    """A path of the config (``setup_record``) relative to the repository root (absolute paths are kept)."""
    p = Path(rel)
    return p if p.is_absolute() else REPO_ROOT / p


def data_path(cfg: dict, rel: str) -> Path:
    """Resolve a `local:` path against data_dir (absolute paths are kept)."""
    p = Path(rel)
    if p.is_absolute():
        return p
    base = Path(cfg.get("data_dir", "../shared/data"))
    if not base.is_absolute():
        base = REPO_ROOT / base
    return base / p
