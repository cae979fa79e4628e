# Report stage: Table 2, Figs. 4-7, the comparison with the paper and the paired comparison with a reference
# method, from the evaluation and training outputs, plus the HTML report
#   snakemake --report results/report.html
# Every input is named on the job's command line; which checkpoints each figure reads comes from rsrl.grid.


report: "../report/workflow.rst"


from rsrl.report import paired as paired_report  # noqa: E402

FOCUS_CELL = grid.focus_cell(CFG)
FOCUS_TRAIN_METRICS = [grid.train_metrics(*FOCUS_CELL, m) for m in grid.ablation_methods(CFG)] if FOCUS_CELL else []
ALL_TRAIN_METRICS = [grid.train_metrics(c.model, c.train_set, c.run_id) for c in CELLS]
DIVERSITY_PROBLEMS = [grid.eval_file(grid.PROBLEMS_PATTERN, c, b) for c, b in grid.diversity_targets(CFG)]
TRAIN_METRICS_ALL = [grid.train_metrics(c.model, c.train_set, c.run_id) for c in grid.cells(CFG)]
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
        csv=report(
            grid.table("table2", "csv"),
            caption="../report/table2.rst",
            category="Tables",
            labels={"table": "Table 2", "format": "CSV"},
        ),
        md=report(
            grid.table("table2", "md"),
            caption="../report/table2.rst",
            category="Tables",
            labels={"table": "Table 2", "format": "Markdown"},
        ),
    log:
        "logs/report/table2.log",
    conda:
        SOFTWARE_ENV
    params:
        cfg=REPORT_PARAMS,
    shell:
        "python -m rsrl.report table2 --config $RSRL_CONFIG --passk {input.passk} --out {output.csv} " "> {log} 2>&1"


rule report_fig4:
    input:
        passk=grid.PASSK_TABLE,
    output:
        png=report(
            grid.figure("fig4_passk", "png"),
            caption="../report/fig4.rst",
            category="Figures",
            subcategory="Fig. 4: pass@k curves",
            labels={"figure": "Fig. 4", "model": "all models"},
        ),
        svg=grid.figure("fig4_passk", "svg"),
    log:
        "logs/report/fig4.log",
    conda:
        SOFTWARE_ENV
    params:
        cfg=REPORT_PARAMS,
    shell:
        "python -m rsrl.report fig4 --config $RSRL_CONFIG --passk {input.passk} --out {output.png} > {log} 2>&1"


rule report_fig4_model:
    input:
        passk=grid.PASSK_TABLE,
    output:
        png=report(
            grid.figure("fig4_passk_{model}", "png"),
            caption="../report/fig4_model.rst",
            category="Figures",
            subcategory="Fig. 4: pass@k curves",
            labels={"figure": "Fig. 4", "model": "{model}"},
        ),
        svg=grid.figure("fig4_passk_{model}", "svg"),
    log:
        "logs/report/fig4_{model}.log",
    conda:
        SOFTWARE_ENV
    params:
        cfg=REPORT_PARAMS,
    shell:
        "python -m rsrl.report fig4 --config $RSRL_CONFIG --passk {input.passk} --model {wildcards.model:q} "
        "--out {output.png} > {log} 2>&1"


rule report_fig5:
    input:
        passk=grid.PASSK_TABLE,
        train=FOCUS_TRAIN_METRICS,
    output:
        png=report(
            grid.figure("fig5_beta_ablation", "png"),
            caption="../report/fig5.rst",
            category="Figures",
            subcategory="Fig. 5: beta ablation",
            labels={"figure": "Fig. 5"},
        ),
        svg=grid.figure("fig5_beta_ablation", "svg"),
    log:
        "logs/report/fig5.log",
    conda:
        SOFTWARE_ENV
    params:
        cfg=REPORT_PARAMS,
        steps={"max_steps": CFG["training"]["max_steps"], "eval_steps": CFG["training"]["eval_steps"]},
    shell:
        "python -m rsrl.report fig5 --config $RSRL_CONFIG --passk {input.passk} --train-metrics {input.train} "
        "--out {output.png} > {log} 2>&1"


rule report_fig5_row:
    input:
        passk=grid.PASSK_TABLE,
        train=lambda w: [
            grid.train_metrics(w.model, w.train_set, m) for m in grid.ablation_methods(CFG, (w.model, w.train_set))
        ],
    output:
        png=report(
            grid.figure("fig5_beta_ablation_{model}__{train_set}", "png"),
            caption="../report/fig5.rst",
            category="Figures",
            subcategory="Fig. 5: beta ablation",
            labels={"figure": "Fig. 5", "model": "{model}", "training set": "{train_set}"},
        ),
        svg=grid.figure("fig5_beta_ablation_{model}__{train_set}", "svg"),
    log:
        "logs/report/fig5_{model}__{train_set}.log",
    conda:
        SOFTWARE_ENV
    params:
        cfg=REPORT_PARAMS,
        steps={"max_steps": CFG["training"]["max_steps"], "eval_steps": CFG["training"]["eval_steps"]},
    shell:
        "python -m rsrl.report fig5 --config $RSRL_CONFIG --passk {input.passk} --cell {wildcards.model:q} "
        "{wildcards.train_set:q} --train-metrics {input.train} --out {output.png} > {log} 2>&1"


rule report_fig11:
    input:
        passk=grid.PASSK_TABLE,
    output:
        png=report(
            grid.figure("fig11_group_size", "png"),
            caption="../report/fig11.rst",
            category="Figures",
            subcategory="Fig. 11: group size",
            labels={"figure": "Fig. 11"},
        ),
        svg=grid.figure("fig11_group_size", "svg"),
    log:
        "logs/report/fig11.log",
    conda:
        SOFTWARE_ENV
    params:
        cfg=REPORT_PARAMS,
    shell:
        "python -m rsrl.report fig11 --config $RSRL_CONFIG --passk {input.passk} --out {output.png} > {log} 2>&1"


rule report_training_curves:
    input:
        train=ALL_TRAIN_METRICS,
    output:
        png=report(
            grid.figure("training_curves", "png"),
            caption="../report/training_curves.rst",
            category="Figures",
            subcategory="Training curves",
            labels={"figure": "training curves"},
        ),
        svg=grid.figure("training_curves", "svg"),
        csv=grid.table("training_curves", "csv"),
    log:
        "logs/report/training_curves.log",
    conda:
        SOFTWARE_ENV
    shell:
        "python -m rsrl.report training_curves --config $RSRL_CONFIG --train-metrics {input.train} "
        "--out {output.png} --table {output.csv} > {log} 2>&1"


rule report_fig6:
    input:
        passk=grid.PASSK_TABLE,
    output:
        png=report(
            grid.figure("fig6_baselines", "png"),
            caption="../report/fig6.rst",
            category="Figures",
            subcategory="Fig. 6: pass@k training methods",
            labels={"figure": "Fig. 6"},
        ),
        svg=grid.figure("fig6_baselines", "svg"),
    log:
        "logs/report/fig6.log",
    conda:
        SOFTWARE_ENV
    params:
        cfg=REPORT_PARAMS,
        steps={"max_steps": CFG["training"]["max_steps"], "eval_steps": CFG["training"]["eval_steps"]},
    shell:
        "python -m rsrl.report fig6 --config $RSRL_CONFIG --passk {input.passk} --out {output.png} > {log} 2>&1"


rule report_fig7:
    input:
        problems=DIVERSITY_PROBLEMS,
    output:
        png=report(
            grid.figure("fig7_diversity", "png"),
            caption="../report/fig7.rst",
            category="Figures",
            subcategory="Fig. 7: diversity",
            labels={"figure": "Fig. 7"},
        ),
        svg=grid.figure("fig7_diversity", "svg"),
    log:
        "logs/report/fig7.log",
    conda:
        SOFTWARE_ENV
    params:
        cfg=REPORT_PARAMS,
    shell:
        "python -m rsrl.report fig7 --config $RSRL_CONFIG --problems {input.problems} --out {output.png} "
        "> {log} 2>&1"


rule report_fig7b:
    input:
        problems=DIVERSITY_PROBLEMS,
    output:
        png=report(
            grid.figure("fig7b_transitions", "png"),
            caption="../report/fig7b.rst",
            category="Figures",
            subcategory="Fig. 7: diversity",
            labels={"figure": "Fig. 7(b)"},
        ),
        svg=grid.figure("fig7b_transitions", "svg"),
        csv=report(
            grid.table("fig7b_unsolved", "csv"),
            caption="../report/fig7b.rst",
            category="Beside the paper",
            labels={"table": "Fig. 7(b) unsolved by the reference", "format": "CSV"},
        ),
        md=report(
            grid.table("fig7b_unsolved", "md"),
            caption="../report/fig7b.rst",
            category="Beside the paper",
            labels={"table": "Fig. 7(b) unsolved by the reference", "format": "Markdown"},
        ),
        matrix=report(
            grid.table("fig7b_transitions", "csv"),
            caption="../report/fig7b.rst",
            category="Beside the paper",
            labels={"table": "Fig. 7(b) transition matrix", "format": "CSV"},
        ),
    log:
        "logs/report/fig7b.log",
    conda:
        SOFTWARE_ENV
    params:
        cfg=REPORT_PARAMS,
    shell:
        "python -m rsrl.report fig7b --config $RSRL_CONFIG --problems {input.problems} --out {output.csv} "
        "--matrix-out {output.matrix} --figure {output.png} > {log} 2>&1"


rule report_advantage:
    input:
        train=TRAIN_METRICS_ALL,
    output:
        csv=report(
            grid.table("advantage_scale", "csv"),
            caption="../report/advantage_scale.rst",
            category="Tables",
            labels={"table": "effective step size", "format": "CSV"},
        ),
        md=report(
            grid.table("advantage_scale", "md"),
            caption="../report/advantage_scale.rst",
            category="Tables",
            labels={"table": "effective step size", "format": "Markdown"},
        ),
    log:
        "logs/report/advantage_scale.log",
    conda:
        SOFTWARE_ENV
    params:
        cfg=REPORT_PARAMS,
    shell:
        "python -m rsrl.report advantage --config $RSRL_CONFIG --train-metrics {input.train} --out {output.csv} "
        "> {log} 2>&1"


rule report_paper_comparison:
    input:
        passk=grid.PASSK_TABLE,
        reference=repo_file(CFG["report"]["reference"]["table2"]),
        bandit_reference=repo_file(CFG["report"]["reference"]["bandit"]),
        bandit_final=f"{grid.THEORY}/bandit_final.csv",
    output:
        csv=report(
            grid.table("paper_comparison", "csv"),
            caption="../report/paper_comparison.rst",
            category="Beside the paper",
            labels={"table": "Table 2 comparison", "format": "CSV"},
        ),
        md=report(
            grid.table("paper_comparison", "md"),
            caption="../report/paper_comparison.rst",
            category="Beside the paper",
            labels={"table": "Table 2 comparison", "format": "Markdown"},
        ),
        png=report(
            grid.figure("paper_comparison", "png"),
            caption="../report/paper_comparison.rst",
            category="Beside the paper",
            labels={"table": "Table 2 comparison", "format": "figure"},
        ),
        svg=grid.figure("paper_comparison", "svg"),
        bandit=report(
            grid.table("bandit_comparison", "csv"),
            caption="../report/bandit_comparison.rst",
            category="Beside the paper",
            labels={"table": "bandit comparison", "format": "CSV"},
        ),
    log:
        "logs/report/paper_comparison.log",
    conda:
        SOFTWARE_ENV
    params:
        cfg={"report": CFG["report"], "benchmarks": BENCHMARKS},
    shell:
        "python -m rsrl.report paper --config $RSRL_CONFIG --passk {input.passk} --reference {input.reference} "
        "--bandit-reference {input.bandit_reference} --bandit-final {input.bandit_final} --out {output.csv} "
        "--figure {output.png} --bandit-out {output.bandit} > {log} 2>&1"


rule report_paired:
    input:
        problems=PAIRED_PROBLEMS,
    output:
        csv=report(
            grid.table("paired_diff", "csv"),
            caption="../report/paired_diff.rst",
            category="Tables",
            labels={"table": "paired differences", "format": "CSV"},
        ),
        md=report(
            grid.table("paired_diff", "md"),
            caption="../report/paired_diff.rst",
            category="Tables",
            labels={"table": "paired differences", "format": "Markdown"},
        ),
    log:
        "logs/report/paired_diff.log",
    conda:
        SOFTWARE_ENV
    params:
        cfg={**REPORT_PARAMS, "seed": CFG["evaluation"]["seed"]},
    shell:
        "python -m rsrl.report paired --config $RSRL_CONFIG --problems {input.problems} --out {output.csv} "
        "> {log} 2>&1"


rule report:
    input:
        report_outputs(),
