# Theory stage: Fig. 2 (advantage shape), Fig. 3 (100-armed bandit, RS-GRPO's beta sweep), Fig. 3b (the bandit with
# every registry estimator), Table 1 (estimator properties) and the two lemmas. CPU only, seconds each.

# Every path comes from rsrl.layout (through rsrl.grid); `rule theory` collects the outputs of the theory_* rules.


rule theory_bandit:
    output:
        curves=grid.theory_table("bandit_curves"),
        final=grid.theory_table("bandit_final"),
    log:
        "logs/theory/bandit.log",
    priority: 1  # the longest job starts first; the one-core jobs then overlap each other and the figures
    conda:
        SOFTWARE_ENV
    threads: 2
    params:
        bandit=CFG["theory"].get("bandit", {}),
        estimators=CFG["theory"].get("estimators", {}),
    shell:
        "python -m rsrl.theory bandit --config $RSRL_CONFIG --curves {output.curves} --final {output.final} "
        "--workers {threads} > {log} 2>&1"


rule theory_table1:
    output:
        csv=report(
            grid.table("table1_estimators", "csv"),
            category="Theory",
            caption="../report/table1.rst",
            labels={"table": "Table 1", "format": "CSV"},
        ),
        md=report(
            grid.table("table1_estimators", "md"),
            category="Theory",
            caption="../report/table1.rst",
            labels={"table": "Table 1", "format": "Markdown"},
        ),
    log:
        "logs/theory/table1.log",
    conda:
        SOFTWARE_ENV
    params:
        estimators=CFG["theory"].get("estimators", {}),
        table1=CFG["theory"].get("table1", {}),
    shell:
        "python -m rsrl.theory table1 --config $RSRL_CONFIG --csv {output.csv} --md {output.md} > {log} 2>&1"


rule theory_advantage_shape:
    output:
        grid.theory_table("advantage_shape"),
    log:
        "logs/theory/advantage_shape.log",
    conda:
        SOFTWARE_ENV
    shell:
        "python -m rsrl.theory advantage-shape --config $RSRL_CONFIG --out {output} > {log} 2>&1"


rule theory_lemmas:
    output:
        grid.theory_table("lemmas"),
    log:
        "logs/theory/lemmas.log",
    conda:
        SOFTWARE_ENV
    params:
        lemmas=CFG["theory"]["lemmas"],
    shell:
        "python -m rsrl.theory lemmas --config $RSRL_CONFIG --out {output} > {log} 2>&1"


rule theory_figures:
    input:
        shape=grid.theory_table("advantage_shape"),
        curves=grid.theory_table("bandit_curves"),
        final=grid.theory_table("bandit_final"),
    output:
        fig2_png=report(grid.figure("fig2_advantage_shape", "png"), category="Theory", caption="../report/fig2.rst"),
        fig2_svg=grid.figure("fig2_advantage_shape", "svg"),
        fig3_png=report(grid.figure("fig3_bandit", "png"), category="Theory", caption="../report/fig3.rst"),
        fig3_svg=grid.figure("fig3_bandit", "svg"),
        fig3b_png=report(
            grid.figure("fig3b_bandit_estimators", "png"), category="Theory", caption="../report/fig3b.rst"
        ),
        fig3b_svg=grid.figure("fig3b_bandit_estimators", "svg"),
    log:
        "logs/theory/figures.log",
    conda:
        SOFTWARE_ENV
    params:
        fig2=lambda wc, output: output.fig2_png.removesuffix(".png"),
        fig3=lambda wc, output: output.fig3_png.removesuffix(".png"),
        fig3b=lambda wc, output: output.fig3b_png.removesuffix(".png"),
    shell:
        "python -m rsrl.theory figures --config $RSRL_CONFIG --advantage-shape {input.shape} "
        "--bandit-curves {input.curves} --bandit-final {input.final} "
        "--fig2 {params.fig2} --fig3 {params.fig3} --fig3b {params.fig3b} > {log} 2>&1"


rule theory:
    input:
        stage_outputs("theory_"),
