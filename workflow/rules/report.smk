"""Report stage: tables and figures from every evaluated cell, the exact-posterior table, the notebook."""

REPORT = f"{OUT}/report"
ORDER = ",".join(config["methods"])
SEEDS = " ".join(str(s) for s in SAMPLE["seeds"])
LEARNING_CURVE = config["report"]["learning_curve"]
ABLATION_REFERENCE = sorted(glob.glob("results/reference/paper_ablation_*.csv"))  # the paper's ablation tables


NETWORK_POINTS = [plan.curve_point(config, m) for m in config["methods"] if network_stem(m)] if LEARNING_CURVE else []
CURVE_FILES = ["learning_curve.csv", "learning_curve.png", "learning_curve.csv.provenance.json"] if LEARNING_CURVE else []


def grid_shards() -> list[str]:
    """Seed 0, shard 0 of every cell: the images of the qualitative grids."""
    return [shard_path(d, t, m, n, SAMPLE["seeds"][0], 0) for d, t, m, n in runs()]


rule report:
    input:
        summaries=[summary_path(d, t) for d in config["datasets"] for t in config["tasks"]],
        shards=grid_shards(),
        gmm=[f"{OUT}/gmm/{task}.csv" for task in GMM["tasks"]],
        reference="results/reference/paper_table_64px.csv",
        runtime="results/reference/paper_runtime_imagenet64.csv",
        ablations=ABLATION_REFERENCE,
    output:
        summary=report(f"{REPORT}/summary.csv", category="Tables"),
        comparison=report(f"{REPORT}/comparison.csv", category="Tables"),
        tasks=report(f"{REPORT}/tasks.csv", category="Tables"),
        methods=report(f"{REPORT}/methods.csv", category="Tables"),
        paper_comparison=report(f"{REPORT}/paper_comparison.csv", category="Tables"),
        paper_comparison_md=f"{REPORT}/paper_comparison.md",
        markdown=f"{REPORT}/summary.md",
        latex=f"{REPORT}/summary.tex",
        ablations=report(f"{REPORT}/ablations.csv", category="Tables"),
        gmm=report(f"{REPORT}/gmm.csv", category="Exact posterior"),
        gmm_figure=report(f"{REPORT}/gmm.png", category="Exact posterior",
                          caption="../report/gmm.rst"),
        convergence=report(f"{REPORT}/nfe_convergence.png", category="Figures",
                           caption="../report/nfe_convergence.rst"),
        cost=report(f"{REPORT}/cost.png", category="Figures", caption="../report/cost.rst"),
        provenance=[f"{REPORT}/{name}.provenance.json" for name in ("summary.csv", "comparison.csv", "tasks.csv",
                                                                     "methods.csv", "paper_comparison.csv", "gmm.csv",
                                                                     "ablations.csv")],
        curve=[f"{REPORT}/{name}" for name in CURVE_FILES],
        grids=report([f"{REPORT}/qualitative/{d}-{t}.png" for d in config["datasets"] for t in config["tasks"]],
                     category="Qualitative"),
    log:
        f"{OUT}/logs/report.log",
    shell:
        "eps report --summaries {input.summaries:q} --shards {input.shards:q} --gmm {input.gmm:q} "
        "--reference {input.reference:q} --runtime-reference {input.runtime:q} "
        "--ablation-reference {input.ablations:q} --methods {ORDER:q} "
        "--grid-images {config[report][grid_images]} --seeds {SEEDS} --config-files {CONFIG_FILES:q} --device-label {config[device]:q} "
        "--networks {NETWORK_POINTS:q} --out {REPORT:q} > {log:q} 2>&1"


rule notebook:
    """The exploration notebook executed headless (papermill) on this run's results."""
    input:
        notebook="notebooks/explore_results.ipynb",
        summary=f"{REPORT}/summary.csv",
        gmm=f"{REPORT}/gmm.csv",
    output:
        NOTEBOOK,
    log:
        f"{OUT}/logs/notebook.log",
    shell:
        "tmp={output:q}.part.ipynb; trap 'rm -f \"$tmp\"' EXIT; "
        "papermill {input.notebook:q} \"$tmp\" -p results_dir {OUT:q} --kernel python3 > {log:q} 2>&1 "
        "&& mv \"$tmp\" {output:q}"


# The committed copy of a run's report (config key `publish`; the embedded default: results/default/report):
# an explicit step, never part of `all`, so that running the DAG leaves the working tree clean. Run
# `snakemake --cores all publish` in the commit that changes what the report measures. The committed folder is not
# a Snakemake output (Snakemake deletes outputs before a job): `eps provenance publish` replaces it whole or not at
# all, and refuses results made from a dirty tree (eps/publish.py); the job's output is the list it published.
if "publish" in config:
    PUBLISHED = config["publish"]
    PUBLISH_FILES = ["summary.csv", "comparison.csv", "tasks.csv", "methods.csv", "paper_comparison.csv",
                     "paper_comparison.md", "ablations.csv", "gmm.csv", "frontier.csv", "summary.md",
                     "summary.tex", "nfe_convergence.png", "cost.png", "gmm.png", "frontier.png", "explore_results.ipynb",
                     *[f"{name}.provenance.json" for name in ("summary.csv", "comparison.csv", "tasks.csv", "methods.csv",
                                                              "paper_comparison.csv", "ablations.csv", "gmm.csv",
                                                              "frontier.csv")],
                     *[f"qualitative/{d}-{t}.png" for d in config["datasets"] for t in config["tasks"]], *CURVE_FILES]

    rule publish:
        input:
            [f"{REPORT}/{name}" for name in PUBLISH_FILES],
        output:
            f"{OUT}/published.txt",
        params:
            files=PUBLISH_FILES,
        shell:
            "eps provenance publish --source {REPORT:q} --to {PUBLISHED:q} --files {params.files:q} > {output:q}"
