# Theory stage: Fig. 2 (advantage shape), Fig. 3 (100-armed bandit) and the two lemmas. CPU only, seconds each.

THEORY_TABLES = expand("results/theory/{name}.csv",
                       name=["advantage_shape", "bandit_curves", "bandit_final", "lemmas"])
THEORY_FIGURES = expand("results/figures/{fig}.{ext}",
                        fig=["fig2_advantage_shape", "fig3_bandit"], ext=["png", "svg"])


rule theory_bandit:
    output:
        curves="results/theory/bandit_curves.csv",
        final="results/theory/bandit_final.csv",
    params:
        config=CONFIG_JSON,
        bandit=CFG["theory"]["bandit"],
    log:
        "logs/theory/bandit.log",
    shell:
        "python -m rsrl.theory bandit --config {params.config} --curves {output.curves} --final {output.final} "
        "> {log} 2>&1"


rule theory_advantage_shape:
    output:
        "results/theory/advantage_shape.csv",
    params:
        config=CONFIG_JSON,
    log:
        "logs/theory/advantage_shape.log",
    shell:
        "python -m rsrl.theory advantage-shape --config {params.config} --out {output} > {log} 2>&1"


rule theory_lemmas:
    output:
        "results/theory/lemmas.csv",
    params:
        config=CONFIG_JSON,
        lemmas=CFG["theory"]["lemmas"],
    log:
        "logs/theory/lemmas.log",
    shell:
        "python -m rsrl.theory lemmas --config {params.config} --out {output} > {log} 2>&1"


rule theory_figures:
    input:
        shape="results/theory/advantage_shape.csv",
        curves="results/theory/bandit_curves.csv",
        final="results/theory/bandit_final.csv",
    output:
        fig2_png=report("results/figures/fig2_advantage_shape.png", category="Theory",
                        caption="../report/fig2.rst"),
        fig2_svg="results/figures/fig2_advantage_shape.svg",
        fig3_png=report("results/figures/fig3_bandit.png", category="Theory",
                        caption="../report/fig3.rst"),
        fig3_svg="results/figures/fig3_bandit.svg",
    params:
        config=CONFIG_JSON,
        fig2=lambda wc, output: output.fig2_png.removesuffix(".png"),
        fig3=lambda wc, output: output.fig3_png.removesuffix(".png"),
    log:
        "logs/theory/figures.log",
    shell:
        "python -m rsrl.theory figures --config {params.config} --advantage-shape {input.shape} "
        "--bandit-curves {input.curves} --bandit-final {input.final} "
        "--fig2 {params.fig2} --fig3 {params.fig3} > {log} 2>&1"


rule theory:
    input:
        THEORY_TABLES,
        THEORY_FIGURES,
