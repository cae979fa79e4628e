# The smoke target: every engine path of the grid (training per trainer and estimator, step export, sampling,
# grading, scoring, the report) for a few steps and samples on the grid's smallest model, before `all`:
#   snakemake smoke --profile slurm
# rsrl.smoke derives the smoke run's config; the run works in results/smoke/ (its own results, logs, work and
# Snakemake records) through the same profile: the slurm profile when this run submits to Slurm, else the local
# one (RSRL_SMOKE_PROFILE names another). `rsrl plan` shows its cost.
from rsrl import smoke as rsmoke  # noqa: E402

SMOKE_CONFIG = f"{rsmoke.SMOKE_DIR}/config.yaml"
# Derived (and validated) when the DAG is built: a config the smoke run cannot use fails here; its digest reruns
# smoke_config when the grid changes.
SMOKE_DIGEST = rsmoke.digest(rsmoke.smoke_config(CFG))


rule smoke_config:
    output:
        SMOKE_CONFIG,
    log:
        "logs/smoke/config.log",
    localrule: True
    conda:
        SOFTWARE_ENV
    params:
        smoke=SMOKE_DIGEST,
    shell:
        "python -m rsrl.smoke --config $RSRL_CONFIG --out {output} > {log} 2>&1"


rule smoke:
    input:
        SMOKE_CONFIG,
    log:
        "logs/smoke/run.log",
    localrule: True
    conda:
        SOFTWARE_ENV
    params:
        snakefile=str(rcfg.REPO_ROOT / "Snakefile"),
        directory=lambda wc, input: os.path.dirname(input[0]),
        profile=smoke_profile,
    shell:
        "python -m snakemake --snakefile {params.snakefile:q} --directory {params.directory} "
        "--profile {params.profile:q} train evaluate report --configfile $(realpath {input}) 2>&1 | tee {log}"
