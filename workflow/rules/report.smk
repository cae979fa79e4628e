# Report stage: Table 2, Figs. 4-7, the comparison with the paper and the paired comparison with a reference
# method, from the evaluation and training outputs, plus the HTML report
#   snakemake --report results/report.html
# Every input is named on the job's command line; which checkpoints each figure reads comes from rsrl.grid.

report: "../report/workflow.rst"

from rsrl.report import paired as paired_report  # noqa: E402

REPORT_MODELS = grid.models(CFG)
FOCUS_CELL = grid.focus_cell(CFG)
FOCUS_TRAIN_METRICS = [grid.train_metrics(*FOCUS_CELL, m) for m in grid.ablation_methods(CFG)] if FOCUS_CELL else []
ALL_TRAIN_METRICS = [grid.train_metrics(c.model, c.train_set, c.run_id) for c in CELLS]
DIVERSITY_PROBLEMS = [grid.eval_file(grid.PROBLEMS_PATTERN, c, b) for c, b in grid.diversity_targets(CFG)]
PAIRED_PROBLEMS = [grid.eval_file(grid.PROBLEMS_PATTERN, c, b) for c, b in paired_report.targets(CFG)]
REPORT_PARAMS = {
    "report": CFG["report"],
    "grid": CFG["grid"],
    "benchmarks": BENCHMARKS,
    "evaluate_base": CFG["evaluation"]["evaluate_base"],
}

rule report_table2:
    input:
        passk=grid.PASSK_TABLE,
    output:
        csv=report(grid.table("table2", "csv"), caption="../report/table2.rst", category="Tables",
                   labels={"table": "Table 2", "format": "CSV"}),
        md=report(grid.table("table2", "md"), caption="../report/table2.rst", category="Tables",
                  labels={"table": "Table 2", "format": "Markdown"}),
    params:
        config=CONFIG_JSON,
        cfg=REPORT_PARAMS,
    log:
        "logs/report/table2.log",
    conda:
        SOFTWARE_ENV
    shell:
        "python -m rsrl.report table2 --config {params.config} --passk {input.passk} --out {output.csv} "
        "> {log} 2>&1"


rule report_fig4:
    input:
        passk=grid.PASSK_TABLE,
    output:
        png=report(grid.figure("fig4_passk", "png"), caption="../report/fig4.rst", category="Figures",
                   subcategory="Fig. 4: pass@k curves", labels={"figure": "Fig. 4", "model": "all models"}),
        svg=grid.figure("fig4_passk", "svg"),
    params:
        config=CONFIG_JSON,
        cfg=REPORT_PARAMS,
    log:
        "logs/report/fig4.log",
    conda:
        SOFTWARE_ENV
    shell:
        "python -m rsrl.report fig4 --config {params.config} --passk {input.passk} --out {output.png} > {log} 2>&1"


rule report_fig4_model:
    input:
        passk=grid.PASSK_TABLE,
    output:
        png=report(grid.figure("fig4_passk_{model}", "png"), caption="../report/fig4_model.rst",
                   category="Figures", subcategory="Fig. 4: pass@k curves",
                   labels={"figure": "Fig. 4", "model": "{model}"}),
        svg=grid.figure("fig4_passk_{model}", "svg"),
    params:
        config=CONFIG_JSON,
        cfg=REPORT_PARAMS,
    log:
        "logs/report/fig4_{model}.log",
    conda:
        SOFTWARE_ENV
    shell:
        "python -m rsrl.report fig4 --config {params.config} --passk {input.passk} --model {wildcards.model:q} "
        "--out {output.png} > {log} 2>&1"


rule report_fig5:
    input:
        passk=grid.PASSK_TABLE,
        train=FOCUS_TRAIN_METRICS,
    output:
        png=report(grid.figure("fig5_beta_ablation", "png"), caption="../report/fig5.rst", category="Figures",
                   subcategory="Fig. 5: beta ablation", labels={"figure": "Fig. 5"}),
        svg=grid.figure("fig5_beta_ablation", "svg"),
    params:
        config=CONFIG_JSON,
        cfg=REPORT_PARAMS,
        steps={"max_steps": CFG["training"]["max_steps"], "eval_steps": CFG["training"]["eval_steps"]},
    log:
        "logs/report/fig5.log",
    conda:
        SOFTWARE_ENV
    shell:
        "python -m rsrl.report fig5 --config {params.config} --passk {input.passk} --train-metrics {input.train} "
        "--out {output.png} > {log} 2>&1"


rule report_training_curves:
    input:
        train=ALL_TRAIN_METRICS,
    output:
        png=report(grid.figure("training_curves", "png"), caption="../report/training_curves.rst",
                   category="Figures", subcategory="Training curves", labels={"figure": "training curves"}),
        svg=grid.figure("training_curves", "svg"),
        csv=grid.table("training_curves", "csv"),
    params:
        config=CONFIG_JSON,
    log:
        "logs/report/training_curves.log",
    conda:
        SOFTWARE_ENV
    shell:
        "python -m rsrl.report training_curves --config {params.config} --train-metrics {input.train} "
        "--out {output.png} --table {output.csv} > {log} 2>&1"


rule report_fig6:
    input:
        passk=grid.PASSK_TABLE,
    output:
        png=report(grid.figure("fig6_baselines", "png"), caption="../report/fig6.rst", category="Figures",
                   subcategory="Fig. 6: pass@k training methods", labels={"figure": "Fig. 6"}),
        svg=grid.figure("fig6_baselines", "svg"),
    params:
        config=CONFIG_JSON,
        cfg=REPORT_PARAMS,
        steps={"max_steps": CFG["training"]["max_steps"], "eval_steps": CFG["training"]["eval_steps"]},
    log:
        "logs/report/fig6.log",
    conda:
        SOFTWARE_ENV
    shell:
        "python -m rsrl.report fig6 --config {params.config} --passk {input.passk} --out {output.png} > {log} 2>&1"


rule report_fig7:
    input:
        problems=DIVERSITY_PROBLEMS,
    output:
        png=report(grid.figure("fig7_diversity", "png"), caption="../report/fig7.rst", category="Figures",
                   subcategory="Fig. 7: diversity", labels={"figure": "Fig. 7"}),
        svg=grid.figure("fig7_diversity", "svg"),
    params:
        config=CONFIG_JSON,
        cfg=REPORT_PARAMS,
    log:
        "logs/report/fig7.log",
    conda:
        SOFTWARE_ENV
    shell:
        "python -m rsrl.report fig7 --config {params.config} --problems {input.problems} --out {output.png} "
        "> {log} 2>&1"


rule report_paper_comparison:
    input:
        passk=grid.PASSK_TABLE,
        reference=repo_file(CFG["report"]["reference"]["table2"]),
        bandit_reference=repo_file(CFG["report"]["reference"]["bandit"]),
        bandit_final=f"{grid.THEORY}/bandit_final.csv",
    output:
        csv=report(grid.table("paper_comparison", "csv"), caption="../report/paper_comparison.rst",
                   category="Beside the paper", labels={"table": "Table 2 comparison", "format": "CSV"}),
        md=report(grid.table("paper_comparison", "md"), caption="../report/paper_comparison.rst",
                  category="Beside the paper", labels={"table": "Table 2 comparison", "format": "Markdown"}),
        png=report(grid.figure("paper_comparison", "png"), caption="../report/paper_comparison.rst",
                   category="Beside the paper", labels={"table": "Table 2 comparison", "format": "figure"}),
        svg=grid.figure("paper_comparison", "svg"),
        bandit=report(grid.table("bandit_comparison", "csv"), caption="../report/bandit_comparison.rst",
                      category="Beside the paper", labels={"table": "bandit comparison", "format": "CSV"}),
    params:
        config=CONFIG_JSON,
        cfg={"report": CFG["report"], "benchmarks": BENCHMARKS},
    log:
        "logs/report/paper_comparison.log",
    conda:
        SOFTWARE_ENV
    shell:
        "python -m rsrl.report paper --config {params.config} --passk {input.passk} --reference {input.reference} "
        "--bandit-reference {input.bandit_reference} --bandit-final {input.bandit_final} --out {output.csv} "
        "--figure {output.png} --bandit-out {output.bandit} > {log} 2>&1"


rule report_paired:
    input:
        problems=PAIRED_PROBLEMS,
    output:
        csv=report(grid.table("paired_diff", "csv"), caption="../report/paired_diff.rst", category="Tables",
                   labels={"table": "paired differences", "format": "CSV"}),
        md=report(grid.table("paired_diff", "md"), caption="../report/paired_diff.rst", category="Tables",
                  labels={"table": "paired differences", "format": "Markdown"}),
    params:
        config=CONFIG_JSON,
        cfg={**REPORT_PARAMS, "seed": CFG["evaluation"]["seed"]},
    log:
        "logs/report/paired_diff.log",
    conda:
        SOFTWARE_ENV
    shell:
        "python -m rsrl.report paired --config {params.config} --problems {input.problems} --out {output.csv} "
        "> {log} 2>&1"


rule report:
    input:
        stage_outputs("report_", model=REPORT_MODELS if len(REPORT_MODELS) > 1 else []),
