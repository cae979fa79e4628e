# Reference pipeline for risk-sensitive RL on LLMs (RS-GRPO and relatives).
#   snakemake --profile local all                      # one machine
#   snakemake --profile slurm all                      # Slurm cluster
#   snakemake all --profile local --configfile config/demo.yaml   # embedded CPU default
# Stages, in data-flow order: theory, data, train, evaluate, report.
#   snakemake smoke --profile slurm                    # every engine path, a few steps: run it before `all`
from snakemake.utils import min_version

# envs/cpu.txt pins snakemake>=9.20.
min_version("9.20")


# The paper config is the default; `--configfile FILE` replaces it (it is not merged into it).
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/theory.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/smoke.smk"


rule all:
    default_target: True
    input:
        rules.theory.input,
        rules.data.input,
        rules.train.input,
        rules.evaluate.input,
        rules.report.input,
