"""Figures and tables of the paper, regenerated from the pipeline's evaluation and training outputs.

- :mod:`rsrl.report.passk_curves` — Fig. 4, pass@k curves;
- :mod:`rsrl.report.table2` — Table 2, pass@1 / pass@32 per benchmark with the average;
- :mod:`rsrl.report.beta_ablation` — Fig. 5, the β ablation over training;
- :mod:`rsrl.report.baselines` — Fig. 6, RS-GRPO against the pass@k training methods over training;
- :mod:`rsrl.report.diversity` — Fig. 7, answer diversity and per-problem accuracy;
- :mod:`rsrl.report.paper_comparison` — the reproduction beside the paper's Table 2 and bandit;
- :mod:`rsrl.report.paired` — paired differences with a reference method (bootstrap over problems and seeds);
- :mod:`rsrl.report.seeds` — mean and 95 % interval over a method's training seeds, for all of them;
- :mod:`rsrl.report.style` — one colour and label per method for all of them.

Command line: ``python -m rsrl.report {fig4,table2,fig5,fig6,fig7,paper,paired} --config CONFIG_JSON --out STEM``.
"""
