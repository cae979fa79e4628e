"""Grading throughput: rsrl.grading.batch.Grader (dedup + process pool) against a plain sequential math-verify loop, and
the cost of grouping each problem's answers into math-equivalence classes (``Grader.answer_classes``), which the
grading job adds.

Completions are synthesised from the real answers of the local benchmark files, shaped like sampling at large n:
per problem a few answers dominate (the gold, wrong answers, equivalent forms of the gold such as 0.5 vs
\\frac{1}{2}), some samples are unboxed or truncated, and every completion has its own reasoning text.

The sequential loop is timed on a random subsample (``--reference``) and extrapolated to all completions; the
verdicts of both are compared on that subsample (``--reference 0`` skips it, ``--reference -1`` runs the loop on
everything), and so are the verdicts of math-verify alone (no end-of-turn cut or other preparation, see
:mod:`rsrl.grader`), whose differences are listed.

    python benchmarks/bench_grader.py                    # 120k completions, 2 workers
    python benchmarks/bench_grader.py --samples 64 --workers 4
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from rsrl.grader import Grader, extraction_config, grade_sequential  # noqa: E402
from rsrl.grading.normalize import gold_latex  # noqa: E402

FILLER = (
    "We expand the expression and collect like terms. Substituting $x = {a}$ gives ${b}$, and checking the "
    "boundary case $n = {c}$ we find the constraint holds. "
)


def equivalent_forms(gold: str) -> list[str]:
    """Other ways a model writes the gold answer."""
    forms = [gold, f" {gold} "]
    try:
        v = int(gold)
        forms += [f"{v}.0", f"\\dfrac{{{2 * v}}}{{2}}", f"{v}^{{1}}"]
    except ValueError:
        if gold.startswith("\\frac"):
            forms.append(gold.replace("\\frac", "\\dfrac"))
        forms.append(f"\\left({gold}\\right)")
    return forms


def wrong_answers(gold: str, pool: list[str], rng: random.Random, k: int) -> list[str]:
    out = []
    try:
        v = int(gold)
        out += [str(v + 1), str(v - 1), str(2 * v)]
    except ValueError:
        out += [f"2{gold}" if not gold.startswith("-") else gold[1:], f"{gold}+1"]
    out += rng.sample(pool, min(len(pool), k))
    out += [str(rng.randint(0, 999)) for _ in range(k)]
    return [a for a in out if a != gold][:k]


def synthesize(data_dir: Path, samples: int, seed: int = 0) -> tuple[list[str], list[str], list[str]]:
    """(completions, gold answers, problem ids)."""
    rng = random.Random(seed)
    rows = []
    for f in sorted((data_dir / "eval").glob("*.jsonl")):
        rows += [dict(json.loads(line), file=f.stem) for line in f.read_text().splitlines() if line]
    pool = [str(r["answer"]) for r in rows]
    comps, golds, pids = [], [], []
    for j, r in enumerate(rows):
        gold = str(r["answer"])
        p_right = rng.betavariate(0.7, 1.2)
        wrong = wrong_answers(gold, pool, rng, rng.randint(3, 25))
        weights = [1 / (i + 1) ** 1.2 for i in range(len(wrong))]  # a few dominant wrong answers
        forms = equivalent_forms(gold)
        for _ in range(samples):
            text = "".join(
                FILLER.format(a=rng.randint(0, 99), b=rng.randint(0, 999), c=rng.randint(0, 9))
                for _ in range(rng.randint(2, 12))
            )
            u = rng.random()
            ans = (
                rng.choice(forms[:2] if rng.random() < 0.8 else forms)
                if rng.random() < p_right
                else rng.choices(wrong, weights)[0]
            )
            if u < 0.08:
                text += f"So the result is {ans}."  # unboxed
            elif u < 0.13:
                text += f"Therefore the answer is $\\boxed{{{ans}"  # truncated
            elif u < 0.16:
                text += f"At first $\\boxed{{{rng.choice(wrong)}}}$, but correcting: $\\boxed{{{ans}}}$."
            else:
                text += f"Therefore the answer is $\\boxed{{{ans}}}$."
            comps.append(text)
            golds.append(gold)
            pids.append(f"{r['file']}-{j}")
    return comps, golds, pids


def raw_math_verify(completions: list[str], golds: list[str]) -> list[bool]:
    """math-verify alone: no end-of-turn cut, no preparation, inequalities not compared with sets."""
    from math_verify import parse, verify

    cfg = list(extraction_config(True))
    return [bool(verify(parse(gold_latex(g)), parse(c, extraction_config=cfg))) for c, g in zip(completions, golds)]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=str(REPO.parent / "shared" / "data"))
    ap.add_argument("--samples", type=int, default=192, help="completions per problem (620 problems)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--reference", type=int, default=3000, help="completions graded by the sequential loop")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    logging.getLogger("math_verify").setLevel(logging.CRITICAL)

    comps, golds, pids = synthesize(Path(args.data_dir), args.samples, args.seed)
    n = len(comps)
    print(f"{n} completions, {len(set(golds))} distinct gold answers, mean length {sum(map(len, comps)) / n:.0f} chars")

    with Grader(workers=args.workers) as g:
        g.grade(["\\boxed{1}"] * args.workers, ["1"] * args.workers)  # start the workers
        g.stats = type(g.stats)()
        t0 = time.perf_counter()
        res = g.grade(comps, golds, progress=True)
        t_pool = time.perf_counter() - t0
        t0 = time.perf_counter()
        classes = g.answer_classes(pids, res["extracted"].tolist(), res["correct"].to_numpy(), progress=True)
        t_classes = time.perf_counter() - t0
        stats = g.stats

    ref_idx = list(range(n)) if args.reference < 0 else random.Random(1).sample(range(n), min(n, args.reference))
    mismatches = None
    if ref_idx:
        t0 = time.perf_counter()
        ref = grade_sequential([comps[i] for i in ref_idx], [golds[i] for i in ref_idx])
        t_seq_sub = time.perf_counter() - t0
        t_seq = t_seq_sub / len(ref_idx) * n
        mismatches = sum(bool(res["correct"].iat[i]) != r for i, r in zip(ref_idx, ref))
        raw = raw_math_verify([comps[i] for i in ref_idx], [golds[i] for i in ref_idx])
        changed = [i for i, r, w in zip(ref_idx, ref, raw) if r != w]

    print()
    print(f"{'method':<34}{'completions':>12}{'seconds':>10}{'per second':>12}{'speedup':>9}")
    if ref_idx:
        how = "measured" if len(ref_idx) == n else f"extrapolated from {len(ref_idx)}"
        print(f"{'sequential parse+verify':<34}{n:>12}{t_seq:>10.1f}{n / t_seq:>12.0f}{1:>9.1f}   ({how})")
    print(
        f"{f'Grader ({args.workers} workers, dedup)':<34}{n:>12}{t_pool:>10.1f}{n / t_pool:>12.0f}"
        f"{(t_seq / t_pool if ref_idx else float('nan')):>9.1f}"
    )
    t_all = t_pool + t_classes
    print(
        f"{'  + answer classes':<34}{n:>12}{t_all:>10.1f}{n / t_all:>12.0f}"
        f"{(t_seq / t_all if ref_idx else float('nan')):>9.1f}   (classes alone {t_classes:.1f} s)"
    )
    print()
    print(
        f"distinct (gold, extraction key) pairs verified: {stats.verified} ({stats.verified / n:.1%} of completions);"
        f" no answer: {stats.no_answer}; timeouts: {stats.timeouts}; workers replaced: {stats.workers_replaced}"
    )
    n_classes = classes["answer_class"].groupby(pids).nunique()
    print(
        f"answer classes: {stats.class_checks} verifications, {n_classes.mean():.1f} classes per problem, "
        f"{stats.class_fallbacks} answers past the cap or a timeout; cut at an end-of-turn marker: {stats.cut}"
    )
    print(f"accuracy {res['correct'].mean():.3f}")
    if ref_idx:
        print(f"verdicts differing from the sequential loop on {len(ref_idx)} completions: {mismatches}")
        print(f"verdicts the grader's preparation changes against math-verify alone: {len(changed)}")
        for i in changed[:5]:
            print(f"  gold {golds[i]!r}: ...{comps[i][-90:]!r}")
    return 0 if not mismatches else 1


if __name__ == "__main__":
    sys.exit(main())
