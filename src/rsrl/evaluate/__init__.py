"""Evaluation stage: sample checkpoints with vLLM in shards, grade with math-verify, score pass@k and friends.

Data flow per (checkpoint, benchmark)::

    samples/p{p}_s{s}.parquet  --grade-->  graded/p{p}_s{s}.parquet  --score-->  problems.parquet, metrics.csv

and over everything ``aggregate`` writes results/tables/passk.csv and eval_summary.csv. Modules: ``shards``
(shard plan and seeds), ``sample`` (vLLM), ``grade``, ``metrics``, ``aggregate``; CLI in ``__main__``.
"""
