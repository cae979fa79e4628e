"""Merging per-output manifests into results/data/manifest.json: every output's manifest, and a summary of rows
read, kept and dropped (by reason) next to the published size (`expected_rows`) and the size check's outcome."""

from __future__ import annotations

import json
from pathlib import Path

from rsrl import io as rio
from rsrl.data.schema import DataError

SUMMARY_KEYS = ("rows_read", "rows_kept", "rows_dropped", "sha256", "source_id", "revision", "splits")


def merge(paths: list[str | Path]) -> dict:
    """One document with every output under `outputs["<kind>/<name>"]`, and a row-count summary."""
    outputs = {}
    for p in paths:
        p = Path(p)
        try:
            m = json.loads(p.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise DataError(f"manifest {p}: cannot read ({exc}).") from None
        missing = [k for k in ("name", "kind", *SUMMARY_KEYS) if k not in m]
        if missing:
            raise DataError(f"manifest {p}: missing key(s) {missing}; rebuild it with `python -m rsrl.data prepare`.")
        key = f"{m['kind']}/{m['name']}"
        if key in outputs:
            raise DataError(f"manifest {p}: output {key} is listed twice.")
        outputs[key] = m
    summary = {
        k: {
            **{s: m[s] for s in ("rows_read", "rows_kept", "rows_dropped")},
            "expected_rows": m.get("size_check", {}).get("expected_rows"),
            "size_check": m.get("size_check", {}).get("status"),
        }
        for k, m in sorted(outputs.items())
    }
    return {"outputs": dict(sorted(outputs.items())), "summary": summary}


def write(out: str | Path, paths: list[str | Path]) -> dict:
    doc = merge(paths)
    rio.write_json(out, doc)
    return doc
