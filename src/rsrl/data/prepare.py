"""Preparing one training set or benchmark: read, convert to the common schema, check answers, exclude and
decontaminate, render prompts, check the size, write the Parquet file and its manifest.

Size check: a source with `expected_rows` (its published size, as rows kept) fails the preparation when the rows
kept differ from it by more than `size_tolerance` (a share of `expected_rows`), naming the numbers, every drop by
reason and the keys that relax the check. A source with `limit` (a subset) or without `expected_rows` is not
checked. The manifest's ``size_check`` records the outcome either way."""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from rsrl import io as rio
from rsrl.data import loaders, sources
from rsrl.data.decontaminate import BenchmarkIndex, find_contaminated
from rsrl.data.normalize import clean_text, problem_keys
from rsrl.data.schema import DataError, validate
from rsrl.grading.gold import is_parseable
from rsrl.prompts import END_OF_TURN_MARKERS, build_prompt, model_template

log = logging.getLogger(__name__)

KINDS = {"train": "train_sets", "bench": "benchmarks"}


def sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def source_entry(cfg: dict, kind: str, name: str) -> dict:
    if kind not in KINDS:
        raise DataError(f"unknown kind {kind!r}; allowed kinds are {sorted(KINDS)}.")
    sets = cfg[KINDS[kind]]
    if name not in sets:
        raise DataError(f"dataset {name!r} is not configured under {KINDS[kind]}; configured names are {sorted(sets)}.")
    return sets[name]


def read_benchmarks(paths: list[str | Path]) -> dict[str, pd.DataFrame]:
    """Prepared benchmark tables by name (the file stem)."""
    out = {}
    for p in paths:
        p = Path(p)
        try:
            out[p.stem] = pd.read_parquet(p, columns=["id", "problem"])
        except Exception as exc:
            raise DataError(f"benchmark file {p}: cannot read prepared benchmark ({exc}).") from None
    return out


def _drop(df: pd.DataFrame, mask, reason: str, loaded: loaders.Loaded, list_ids: bool = True) -> pd.DataFrame:
    mask = pd.Series(mask, index=df.index).astype(bool)
    loaded.drop(reason, df.loc[mask, "id"].tolist(), list_ids=list_ids)
    return df.loc[~mask]


def check_answers(
    answers: list[str], workers: int = 1, desc: str = "check answers", min_parallel: int = 2000
) -> dict[str, bool]:
    """Whether each distinct answer is parseable by math-verify; in `workers` processes for large sets."""
    unique = list(dict.fromkeys(answers))
    if workers <= 1 or len(unique) < min_parallel:
        return {a: is_parseable(a) for a in tqdm(unique, desc=desc, unit=" answers", mininterval=5)}
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=workers) as pool:  # math-verify's timeouts need each worker's main thread
        flags = list(
            tqdm(
                pool.map(is_parseable, unique, chunksize=256),
                total=len(unique),
                desc=desc,
                unit=" answers",
                mininterval=5,
            )
        )
    return dict(zip(unique, flags))


def size_check(src: dict, kind: str, name: str, rows_read: int, rows_kept: int, dropped: dict) -> dict:
    """Rows kept against the published size (`expected_rows`, `size_tolerance`); raises :class:`DataError` when they
    differ by more than the tolerance. Returns the manifest's ``size_check`` entry."""
    key = f"{KINDS[kind]}.{name}"
    expected = src.get("expected_rows")
    out = {"expected_rows": expected, "rows_read": rows_read, "rows_kept": rows_kept}
    if expected is None:
        return {**out, "status": "unchecked", "reason": f"no {key}.expected_rows"}
    tolerance = src["size_tolerance"]
    diff = rows_kept - expected
    out.update(size_tolerance=tolerance, difference=diff, relative_difference=round(diff / expected, 6))
    if src.get("limit") is not None:
        return {**out, "status": "unchecked", "reason": f"{key}.limit asks for a subset of {src['limit']} rows"}
    if abs(diff) > tolerance * expected:
        drops = ", ".join(f"{k} {v}" for k, v in dropped.items()) or "none"
        raise DataError(
            f"dataset {name!r}: kept {rows_kept} rows, but its published size is {expected} (config key "
            f"{key}.expected_rows): a difference of {diff:+d} ({diff / expected:+.1%}) is more than the "
            f"tolerance of {tolerance:.1%} ({key}.size_tolerance). Read {rows_read} rows; dropped: {drops}. "
            f"Check the source and these drops; if they are right, raise {key}.size_tolerance (or set "
            f"{key}.limit to prepare a subset)."
        )
    return {**out, "status": "ok"}


def _blank(value) -> bool:
    """A missing, null or empty text (None, NaN, pandas' NA and "" alike)."""
    return not isinstance(value, str) or not value.strip()


#: Chat-format tokens that end or open a turn: a problem holding one would end the user's turn inside the prompt
#: (the model would read the rest as its own turn, and the grader cuts completions at them).
TURN_TOKENS = tuple(m for m in END_OF_TURN_MARKERS if m.startswith("<|"))


def turn_token(text) -> str | None:
    """The first chat-format turn token in a problem's text, if any."""
    return next((t for t in TURN_TOKENS if isinstance(text, str) and t in text), None)


def check_benchmark_rows(df: pd.DataFrame, name: str) -> None:
    """A benchmark's rows are the denominator of pass@k: an empty problem or answer, a repeated id or a repeated
    problem is an error naming the rows (a training set drops such rows and counts them in the manifest)."""
    where = f"benchmark {name!r}"
    for col in ("problem", "answer"):
        empty = [i for i, v in zip(df["id"], df[col]) if _blank(v)]
        if empty:
            raise DataError(
                f"{where}: {len(empty)} row(s) with an empty {col}, e.g. id {empty[0]!r}; a benchmark "
                "row cannot be dropped (it would change every pass@k). Fix the source file or its "
                f"column mapping (benchmarks.{name}.columns)."
            )
    tokens = [(i, turn_token(p)) for i, p in zip(df["id"], df["problem"]) if turn_token(p)]
    if tokens:
        rid, tok = tokens[0]
        raise DataError(
            f"{where}: the problem of row id {rid!r} holds the chat token {tok!r} ({len(tokens)} such "
            "row(s)), which would end the prompt's turn inside the problem; a benchmark row cannot be "
            "dropped. Remove the token from the source file."
        )
    if "source_id" in df.columns:
        dup_ids = df["source_id"][df["source_id"].duplicated()]
        if len(dup_ids):
            raise DataError(
                f"{where}: id {dup_ids.iloc[0]!r} appears {int((df['source_id'] == dup_ids.iloc[0]).sum())} "
                f"times in the source ({len(dup_ids)} repeated id(s)); ids must be unique."
            )
    keys = problem_keys(df["problem"].tolist())
    seen: dict[str, str] = {}
    for rid, k in zip(df["id"], keys):
        if k in seen:
            raise DataError(
                f"{where}: rows {seen[k]!r} and {rid!r} hold the same problem; a repeated problem would "
                "count twice in pass@k. Remove one of them from the source."
            )
        seen[k] = rid


def build(
    cfg: dict, kind: str, name: str, benchmarks: dict[str, pd.DataFrame] | None = None, workers: int = 1
) -> tuple[pd.DataFrame, dict]:
    """The prepared table and its manifest entry (without the file hash)."""
    src = source_entry(cfg, kind, name)
    loader = loaders.get(src["loader"], name)
    benchmarks = benchmarks or {}
    if src["loader"] == "synthetic":
        loaded = loader.convert(None, name, src)
        prov = sources.Provenance("synthetic", splits=[loaded.notes["synthetic"]["split"]])
        prov.rows_read = {prov.splits[0]: len(loaded.frame)}
    else:
        parts, prov = sources.read(name, src, cfg, loader.COLUMNS, loader.SELECTIVE)
        loaded = loader.convert(parts, name, src)
    rows_read = sum(prov.rows_read.values())
    df = loaded.frame

    problems = [clean_text(p) if isinstance(p, str) else None for p in df["problem"]]
    df["problem"] = pd.Series(problems, index=df.index, dtype=object)
    df["answer"] = pd.Series(
        [a.strip() if isinstance(a, str) else None for a in df["answer"]], index=df.index, dtype=object
    )
    if kind == "bench":
        check_benchmark_rows(df, name)
    df = df.drop(columns=["source_id"], errors="ignore")
    df = _drop(df, [_blank(p) for p in df["problem"]], "empty_problem", loaded)
    df = _drop(df, [_blank(a) for a in df["answer"]], "empty_answer", loaded)
    df = _drop(df, [turn_token(p) is not None for p in df["problem"]], "chat_token_in_problem", loaded)

    decon: dict = {}
    ex = src.get("exclude_benchmark")
    if ex:
        if ex not in benchmarks:
            raise DataError(
                f"dataset {name!r}: exclude_benchmark {ex!r} needs the prepared benchmark file "
                f"results/data/bench/{ex}.parquet (pass it with --benchmarks)."
            )
        keys = set(problem_keys(benchmarks[ex]["problem"].tolist()))
        hit = [k in keys for k in problem_keys(df["problem"].tolist())]
        decon["excluded_benchmark"] = {"benchmark": ex, "rows": int(sum(hit)), "benchmark_problems": len(keys)}
        df = _drop(df, hit, "excluded_benchmark", loaded)

    if kind == "train" and benchmarks:
        dcfg = cfg.get("data", {})
        n, overlap = dcfg.get("ngram", 13), dcfg.get("ngram_overlap", 0.5)
        index = BenchmarkIndex({b: list(zip(t["id"], t["problem"])) for b, t in benchmarks.items()}, n)
        log.info("dataset %s: decontaminating %d problems against %s", name, len(df), sorted(benchmarks))
        matches = find_contaminated(df["problem"].tolist(), index, overlap)
        per_bench: dict[str, Counter] = {b: Counter() for b in benchmarks}
        listed = []
        for rid, m in zip(df["id"], matches):
            if m is not None:
                per_bench[m.benchmark][m.kind] += 1
                listed.append(
                    {
                        "id": rid,
                        "kind": m.kind,
                        "benchmark": m.benchmark,
                        "share": round(m.share, 4),
                        "matched": m.problem_id,
                    }
                )
        if src["loader"] == "synthetic":
            # A benchmark drawn from the training split is the training problems on purpose (a solve rate on
            # them); one drawn from the test split must not share a problem with a training set.
            def from_train_split(b: str) -> bool:
                bsrc = cfg.get("benchmarks", {}).get(b, {})
                return bsrc.get("loader") == "synthetic" and (bsrc.get("synthetic") or {}).get("split") == "train"

            overlap_rows = [x for x in listed if x["kind"] == "exact" and not from_train_split(x["benchmark"])]
            if overlap_rows:
                x = overlap_rows[0]
                raise DataError(
                    f"dataset {name!r}: synthetic training problem {x['id']} is also benchmark "
                    f"{x['benchmark']!r} problem {x['matched']} ({len(overlap_rows)} shared problems); "
                    "train and test splits must be disjoint: give both the same synthetic.test_fraction."
                )
        remove = dcfg.get("decontaminate", True)
        decon.update(
            {
                "enabled": remove,
                "ngram": n,
                "ngram_overlap": overlap,
                "benchmarks": {b: {"exact": c["exact"], "ngram": c["ngram"]} for b, c in per_bench.items()},
                "matches": listed,
            }
        )
        if remove:
            kinds = [None if m is None else m.kind for m in matches]
            df = _drop(df, [k == "exact" for k in kinds], "contaminated_exact", loaded)
            kinds = [k for k, keep in zip(kinds, [k != "exact" for k in kinds]) if keep]
            df = _drop(df, [k == "ngram" for k in kinds], "contaminated_ngram", loaded)

    # Gold answers must be parseable by math-verify (the grader). With a limit, stop once enough rows are kept.
    limit = src.get("limit")
    if limit is None:
        verdict = check_answers(df["answer"].tolist(), workers, desc=f"check answers {name}")
        ok = [verdict[a] for a in df["answer"]]
    else:
        ok, kept = [], 0
        for a in tqdm(df["answer"], desc=f"check answers {name}", unit=" rows", mininterval=5):
            if kept >= limit:
                ok.append(None)
                continue
            good = is_parseable(a)
            kept += good
            ok.append(good)
    bad = [o is False for o in ok]
    unparseable = [{"id": i, "answer": a} for i, a, b in zip(df["id"], df["answer"], bad) if b]
    if kind == "bench" and unparseable:
        x = unparseable[0]
        raise DataError(
            f"benchmark {name!r}: the gold answer of row id {x['id']!r} ({x['answer'][:80]!r}) is not "
            f"readable by math-verify, so no completion could be graded right against it "
            f"({len(unparseable)} such row(s)); a benchmark row cannot be dropped (it would change every "
            f"pass@k). Fix the answer in the source file or its column mapping (benchmarks.{name})."
        )
    df = _drop(df, bad, "unparseable_answer", loaded)
    df = _drop(df, [o is None for o in ok if o is not False], "over_limit", loaded, list_ids=False)

    template = model_template(cfg)
    df["prompt"] = [build_prompt(p, template) for p in df["problem"]]
    df = validate(df, name)
    dropped = dict(sorted(loaded.dropped.items()))
    if rows_read != len(df) + sum(dropped.values()):
        raise AssertionError(f"dataset {name!r}: rows read {rows_read} != kept {len(df)} + dropped {dropped}")
    size = size_check(src, kind, name, rows_read, len(df), dropped)
    hub = src.get("hub", {})
    manifest = {
        "name": name,
        "kind": kind,
        "loader": src["loader"],
        "data_source": prov.data_source,
        "source_id": prov.id
        or prov.file
        or (f"synthetic:{loaded.notes['synthetic']['task']}" if src["loader"] == "synthetic" else name),
        "revision": prov.revision,
        "splits": prov.splits,
        "config_name": hub.get("config_name"),
        "file": prov.file,
        "rows_read_by_split": prov.rows_read,
        "rows_read": rows_read,
        "rows_kept": len(df),
        "rows_dropped": dropped,
        "size_check": size,
        "dropped_ids": {k: v for k, v in sorted(loaded.dropped_ids.items())},
        "prompt_template": template,
        "columns": list(df.columns),
    }
    if unparseable:
        manifest["unparseable_answers"] = unparseable
    if decon:
        manifest["decontamination"] = decon
    if loaded.notes:
        manifest["notes"] = loaded.notes
    return df, manifest


def prepare(
    cfg: dict,
    kind: str,
    name: str,
    out: str | Path,
    manifest_path: str | Path,
    benchmark_files: list[str | Path] = (),
    workers: int = 1,
) -> dict:
    """Build one output and write it (Parquet, then its manifest), atomically."""
    df, manifest = build(cfg, kind, name, read_benchmarks(list(benchmark_files)), workers)
    rio.write_table(out, df)
    manifest["path"] = str(out)
    manifest["sha256"] = sha256(out)
    try:
        rio.write_json(manifest_path, manifest)
    except BaseException:
        Path(out).unlink(missing_ok=True)
        raise
    log.info(
        "dataset %s: kept %d of %d rows read; dropped %s",
        name,
        manifest["rows_kept"],
        manifest["rows_read"],
        manifest["rows_dropped"] or "none",
    )
    return manifest
