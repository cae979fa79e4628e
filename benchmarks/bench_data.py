"""Data-stage benchmark at the real sets' sizes, on generated text.

    python benchmarks/bench_data.py [--train 103000] [--bench 700] [--dapo-unique 17398] [--dapo-copies 100]

1. Decontamination of a DeepMath-size training set against all benchmark problems: the vectorised n-gram index
   (rsrl.data.decontaminate) vs the plain Python baseline (a set of word-tuple hashes, one problem at a time).
2. DAPO de-duplication of a 1.7M-row table (17,398 prompts x 100): the loader's Arrow path vs the baseline of
   converting to pandas objects and dropping duplicates.
3. Gold-answer checks (math-verify parse) per 1,000 answers.
"""

from __future__ import annotations

import argparse
import random
import time

import pandas as pd
import pyarrow as pa

from rsrl.data.decontaminate import BenchmarkIndex, find_contaminated
from rsrl.data.loaders import dapo
from rsrl.data.normalize import problem_key, words
from rsrl.data.sources import Part


def naive_decontaminate(train: list[str], bench: list[str], n: int, overlap: float) -> list[bool]:
    keys = {problem_key(b) for b in bench}
    grams = set()
    for b in bench:
        w = words(b)
        grams |= {hash(tuple(w[i : i + n])) for i in range(len(w) - n + 1)}
    out = []
    for t in train:
        if problem_key(t) in keys:
            out.append(True)
            continue
        w = words(t)
        g = {hash(tuple(w[i : i + n])) for i in range(len(w) - n + 1)}
        out.append(bool(g) and len(g & grams) / len(g) >= overlap)
    return out


def timed(f):
    t = time.perf_counter()
    r = f()
    return r, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", type=int, default=103_000)
    ap.add_argument("--bench", type=int, default=700)
    ap.add_argument("--dapo-unique", type=int, default=17_398)
    ap.add_argument("--dapo-copies", type=int, default=100)
    ap.add_argument("--answers", type=int, default=1000)
    args = ap.parse_args()
    rng = random.Random(0)
    vocab = [f"w{i}" for i in range(20000)] + ["$x$", "find", "the", "of", "\\frac{1}{2}", "$n^2+1$"]

    def problem(k):
        return " ".join(rng.choice(vocab) for _ in range(k))

    bench = [problem(rng.randint(20, 120)) for _ in range(args.bench)]
    train = [problem(rng.randint(10, 150)) for _ in range(args.train)]
    planted = rng.sample(range(args.train), 20)
    for j, i in enumerate(planted):
        train[i] = bench[j] if j % 2 else bench[j] + " " + problem(5)
    rows = []

    idx, t_index = timed(lambda: BenchmarkIndex({"b": [(str(i), p) for i, p in enumerate(bench)]}, 13))
    fast, t_fast = timed(lambda: [m is not None for m in find_contaminated(train, idx, 0.5)])
    slow, t_slow = timed(lambda: naive_decontaminate(train, bench, 13, 0.5))
    assert fast == slow, "vectorised and baseline decontamination disagree"
    assert sum(fast) >= 20
    rows.append(("decontaminate", f"{args.train} x {args.bench} problems", t_index + t_fast, t_slow))

    content = [
        dapo.PREFIX + f"Problem number {i}: find $x$ if $x + {i} = {2 * i}$." + dapo.SUFFIX
        for i in range(args.dapo_unique)
    ]
    order = [i % args.dapo_unique for i in range(args.dapo_unique * args.dapo_copies)]
    rng.shuffle(order)
    table = pa.table(
        {
            "prompt": pa.array([[{"content": content[i], "role": "user"}] for i in order]),
            "reward_model": pa.array([{"ground_truth": str(i), "style": "rule"} for i in order]),
            "extra_info": pa.array([{"index": f"id-{i}"} for i in order]),
        }
    )
    out, t_loader = timed(lambda: dapo.convert([Part("train", table, "generated")], "dapo17k", {}))
    assert len(out.frame) == args.dapo_unique

    def baseline():
        df = table.to_pandas()
        df["key"] = [p[0]["content"] for p in df["prompt"]]
        return df.drop_duplicates("key")

    base, t_base = timed(baseline)
    assert len(base) == args.dapo_unique
    rows.append(("dapo dedupe + unwrap", f"{table.num_rows:,} rows", t_loader, t_base))

    from rsrl.grading.gold import is_parseable, parse_gold

    answers = [str(rng.randint(0, 10**6)) if i % 3 else f"\\frac{{{i}}}{{{i + 1}}}" for i in range(args.answers)]
    parse_gold.cache_clear()
    _, t_parse = timed(lambda: [is_parseable(a) for a in answers])
    rows.append(("gold answer check", f"{args.answers} answers", t_parse, float("nan")))

    df = pd.DataFrame(rows, columns=["task", "size", "rsrl_s", "baseline_s"])
    df["speedup"] = df["baseline_s"] / df["rsrl_s"]
    print(df.to_string(index=False, float_format=lambda v: f"{v:.2f}"))


if __name__ == "__main__":
    main()
