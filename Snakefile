"""EPS benchmark — the DAG is the paper.

    snakemake --cores all                                   # embedded default: offline, CPU, <= 15 min
    snakemake --cores all --configfile config/paper.yaml    # FFHQ-64 + ImageNet-64 (GPU; see the profiles)
    snakemake --profile workflow/profiles/slurm --configfile config/paper.yaml
    snakemake select --cores all --configfile config/paper.yaml --config 'select={methods: [eps], tasks: [sr4]}'

Stages (workflow/rules/): data -> weights -> train -> sample (method x task x NFE x seed x shard) ->
evaluate -> report, plus the exact-posterior benchmark (gmm) and its NFE-accuracy frontier. Every rule calls the `eps` command line and
holds no math. A --configfile replaces config/default.yaml instead of being merged into it. Snakemake loads
profiles/default/ by itself (rerun-incomplete: a job interrupted mid-way is re-run by the plain command).
Every value a rule puts into a shell command is quoted (`{x:q}`, shlex.quote): paths may hold spaces.
Targets go BEFORE --configfile (words after it are read as more config files). Planning: docs/paper_run.md.
"""
import sys

from snakemake.utils import min_version

from eps.config_check import check_config

min_version("9.0")

if not workflow.config_settings.configfiles:
    configfile: "config/default.yaml"


try:  # config/schema.yaml (defaults filled in) and what it cannot state: one line naming the key, then stop
    check_config(config, f"{workflow.basedir}/config/schema.yaml")
except ValueError as err:
    sys.exit(str(err))


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


rule select:
    """Only the cells named by the config's ``select`` (datasets, tasks, methods; each default: all): their
    training and sample shards and, when no method is left out, the evaluation of each selected task."""
    input:
        selected_outputs(),
