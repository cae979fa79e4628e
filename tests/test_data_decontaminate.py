"""Problem keys and n-gram decontamination."""

from __future__ import annotations

import random

from rsrl.data.decontaminate import BenchmarkIndex, find_contaminated
from rsrl.data.normalize import problem_key, problem_keys, words

BENCH = {
    "b1": [
        (
            "b1-0",
            "A rectangle has a perimeter of 30 units and its length is twice its width. What is the area "
            "of the rectangle, in square units?",
        ),
        ("b1-1", "Compute $\\dbinom{8}{3}$."),
    ],
    "b2": [
        (
            "b2-0",
            "Find the number of ordered pairs $(a, b)$ of positive integers with $a + b = 1000$ such that "
            "neither $a$ nor $b$ has a zero digit.",
        )
    ],
}


def test_problem_key_ignores_formatting_only():
    assert problem_key("Find the value of $x$ such that $\\sqrt{x + 7} = 9$.") == problem_key(
        "Find the value of  x such that \\sqrt{x+7}=9."
    )
    assert problem_key("Compute $\\left(1+2\\right)$") == problem_key("compute (1 + 2)")
    assert problem_key("What is 12 + 3?") != problem_key("What is 1 + 23?")
    assert problem_keys(["A", "b "]) == ["a", "b"]


def test_words_are_lowercase_alphanumeric_runs():
    assert words("Compute $\\dbinom{8}{3}$, NOW!") == ["compute", "dbinom", "8", "3", "now"]


def test_exact_match_names_benchmark_and_problem():
    idx = BenchmarkIndex(BENCH, n=5)
    m = find_contaminated(["compute \\dbinom{8}{3}."], idx, 0.5)[0]
    assert (m.kind, m.benchmark, m.problem_id, m.share) == ("exact", "b1", "b1-1", 1.0)


def test_ngram_threshold():
    idx = BenchmarkIndex(BENCH, n=5)
    base = BENCH["b2"][0][1]
    near = base.replace("1000", "2000")  # changes 5 of the n-grams
    m = find_contaminated([near], idx, 0.5)[0]
    assert m is not None and m.kind == "ngram" and m.benchmark == "b2" and 0.5 <= m.share < 1
    assert m.problem_id == "b2-0"
    # The same problem with a long unrelated continuation falls below the threshold.
    tail = " ".join(f"word{i}" for i in range(200))
    assert find_contaminated([base + " " + tail], idx, 0.5)[0] is None
    # ...but is caught with a lower threshold.
    assert find_contaminated([base + " " + tail], idx, 0.05)[0].kind == "ngram"


def test_share_counts_distinct_ngrams_of_the_training_problem():
    idx = BenchmarkIndex({"b": [("0", "a b c d e f")]}, n=3)  # grams: abc bcd cde def
    m = find_contaminated(["a b c d x y z"], idx, 0.4)[0]  # grams abc bcd cdx dxy xyz: 2/5 found
    assert m is not None and abs(m.share - 0.4) < 1e-12
    assert find_contaminated(["a b c d x y z"], idx, 0.41)[0] is None


def test_short_problems_exact_only():
    idx = BenchmarkIndex({"b": [("0", "What is 2 + 3?")]}, n=13)
    assert find_contaminated(["What is 2 + 3?", "What is 2 + 4?"], idx, 0.5) == [
        find_contaminated(["What is 2 + 3?"], idx, 0.5)[0],
        None,
    ]


def test_no_false_positives_on_random_text():
    rng = random.Random(0)
    vocab = [f"w{i}" for i in range(3000)]
    bench = {"b": [(str(i), " ".join(rng.choices(vocab, k=50))) for i in range(300)]}
    train = [" ".join(rng.choices(vocab, k=rng.randint(5, 80))) for _ in range(5000)]
    train[17] = bench["b"][5][1]
    train[42] = bench["b"][6][1][:-20] + " and some new words at the end"
    idx = BenchmarkIndex(bench, n=13)
    got = {i: m.kind for i, m in enumerate(find_contaminated(train, idx, 0.5)) if m is not None}
    assert got == {17: "exact", 42: "ngram"}


def test_empty_inputs():
    assert find_contaminated([], BenchmarkIndex(BENCH, 13), 0.5) == []
    assert find_contaminated(["anything at all"], BenchmarkIndex({}, 13), 0.5) == [None]
