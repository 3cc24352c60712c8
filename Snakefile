"""EPS benchmark — the DAG is the paper.

    snakemake --cores all                                   # embedded default: offline, CPU, <= 15 min
    snakemake --cores all --configfile config/paper.yaml    # FFHQ-64 + ImageNet-64 (GPU; see the profiles)
    snakemake --profile workflow/profiles/slurm --configfile config/paper.yaml

Stages (workflow/rules/): data -> weights -> train -> sample (method x task x NFE x seed x shard) ->
evaluate -> report, plus the exact-posterior benchmark (gmm) and its NFE-accuracy frontier. Every rule calls the `eps` command line and
holds no math. A --configfile replaces config/default.yaml instead of being merged into it. Snakemake loads
profiles/default/ by itself (rerun-incomplete: a job interrupted mid-way is re-run by the plain command).
Every value a rule puts into a shell command is quoted (`{x:q}`, shlex.quote): paths may hold spaces.
"""
from snakemake.utils import min_version, validate

from eps.config_check import check_config
from eps.protocols import apply_protocol

min_version("9.0")

if not workflow.config_settings.configfiles:
    configfile: "config/default.yaml"


validate(config, "config/schema.yaml", set_default=True)
apply_protocol(config)  # protocol: eps_paper | dps_daps fills task parameters and evaluation rules the config leaves out
check_config(config)  # what the schema cannot state: finite numbers, method options, task vs resolution sizes


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/weights.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/sample.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/gmm.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        rules.report.output,
        rules.frontier.output,
        NOTEBOOK,
