# Report stage: Table 2 and Figs. 4, 5 and 7 from the evaluation and training outputs, plus the HTML report
#   snakemake --report results/report.html
from rsrl.report.beta_ablation import ablation_benchmarks, ablation_checkpoints, ablation_methods  # noqa: E402
from rsrl.report.diversity import diversity_checkpoints  # noqa: E402

report: "../report/workflow.rst"

PASSK_TABLE = "results/tables/passk.csv"
REPORT_MODELS = list(dict.fromkeys(c.model for c in CELLS))
ABLATION_CELL, ABLATION_METHODS = ablation_methods(CFG)
# Snapshots `<method>.step<k>` of the ablation cell; the evaluation stage scores them like any checkpoint and
# aggregates them into results/tables/passk.csv.
ABLATION_SNAPSHOTS = ablation_checkpoints(CFG)
ABLATION_EVAL = [f"results/eval/{m}/{ts}/{meth}/{b}/metrics.csv"
                 for m, ts, meth in ABLATION_SNAPSHOTS for b in ablation_benchmarks(CFG)]
ABLATION_TRAIN = ([f"results/train/{ABLATION_CELL[0]}/{ABLATION_CELL[1]}/{meth}/metrics.csv"
                   for meth in ABLATION_METHODS] if ABLATION_CELL else [])
DIVERSITY_PROBLEMS = [f"results/eval/{m}/{ts}/{meth}/{b}/problems.parquet"
                      for m, ts, meth in diversity_checkpoints(CFG) for b in BENCHMARKS]

REPORT_PARAMS = {
    "report": CFG.get("report", {}),
    "grid": CFG["grid"],
    "benchmarks": BENCHMARKS,
    "evaluate_base": CFG["evaluation"].get("evaluate_base", True),
}
REPORT_OUTPUTS = (
    ["results/tables/table2.csv", "results/tables/table2.md"]
    + expand("results/figures/{fig}.{ext}", fig=["fig4_passk", "fig5_beta_ablation", "fig7_diversity"],
             ext=["png", "svg"])
    + (expand("results/figures/fig4_passk_{model}.{ext}", model=REPORT_MODELS, ext=["png", "svg"])
       if len(REPORT_MODELS) > 1 else [])
)


rule report_table2:
    input:
        passk=PASSK_TABLE,
    output:
        csv=report("results/tables/table2.csv", caption="../report/table2.rst", category="Tables",
                   labels={"table": "Table 2", "format": "CSV"}),
        md=report("results/tables/table2.md", caption="../report/table2.rst", category="Tables",
                  labels={"table": "Table 2", "format": "Markdown"}),
    params:
        cfg=REPORT_PARAMS,
    log:
        "logs/report/table2.log",
    shell:
        "{PY} -m rsrl.report table2 --config {CONFIG_JSON} --passk {input.passk} --out {output.csv} > {log} 2>&1"


rule report_fig4:
    input:
        passk=PASSK_TABLE,
    output:
        png=report("results/figures/fig4_passk.png", caption="../report/fig4.rst", category="Figures",
                   subcategory="Fig. 4: pass@k curves", labels={"figure": "Fig. 4", "model": "all models"}),
        svg="results/figures/fig4_passk.svg",
    params:
        cfg=REPORT_PARAMS,
    log:
        "logs/report/fig4.log",
    shell:
        "{PY} -m rsrl.report fig4 --config {CONFIG_JSON} --passk {input.passk} --out {output.png} > {log} 2>&1"


rule report_fig4_model:
    input:
        passk=PASSK_TABLE,
    output:
        png=report("results/figures/fig4_passk_{model}.png", caption="../report/fig4_model.rst",
                   category="Figures", subcategory="Fig. 4: pass@k curves",
                   labels={"figure": "Fig. 4", "model": "{model}"}),
        svg="results/figures/fig4_passk_{model}.svg",
    params:
        cfg=REPORT_PARAMS,
    log:
        "logs/report/fig4_{model}.log",
    shell:
        "{PY} -m rsrl.report fig4 --config {CONFIG_JSON} --passk {input.passk} --model '{wildcards.model}' "
        "--out {output.png} > {log} 2>&1"


rule report_fig5:
    input:
        passk=PASSK_TABLE,
        train=ABLATION_TRAIN,
        snapshots=ABLATION_EVAL,
    output:
        png=report("results/figures/fig5_beta_ablation.png", caption="../report/fig5.rst", category="Figures",
                   subcategory="Fig. 5: beta ablation", labels={"figure": "Fig. 5"}),
        svg="results/figures/fig5_beta_ablation.svg",
    params:
        cfg=REPORT_PARAMS,
        steps={"max_steps": CFG["training"]["max_steps"], "eval_steps": CFG["training"].get("eval_steps", [])},
    log:
        "logs/report/fig5.log",
    shell:
        "{PY} -m rsrl.report fig5 --config {CONFIG_JSON} --passk {input.passk} --results results "
        "--out {output.png} > {log} 2>&1"


rule report_fig7:
    input:
        problems=DIVERSITY_PROBLEMS,
    output:
        png=report("results/figures/fig7_diversity.png", caption="../report/fig7.rst", category="Figures",
                   subcategory="Fig. 7: diversity", labels={"figure": "Fig. 7"}),
        svg="results/figures/fig7_diversity.svg",
    params:
        cfg=REPORT_PARAMS,
    log:
        "logs/report/fig7.log",
    shell:
        "{PY} -m rsrl.report fig7 --config {CONFIG_JSON} --results results --out {output.png} > {log} 2>&1"


rule report:
    input:
        REPORT_OUTPUTS,
        ABLATION_EVAL,
