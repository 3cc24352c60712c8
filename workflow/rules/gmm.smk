"""Exact-posterior benchmark (docs/method.md §4): every configured method on an analytic GMM prior, one job per task."""

GMM = config["gmm"]


rule gmm_bench:
    output:
        f"{OUT}/gmm/{{task}}.csv",
    params:
        methods=",".join(GMM["methods"]),
        seeds=",".join(map(str, GMM["seeds"])),
        nfe=",".join(map(str, GMM["nfe"])),
        shape=",".join(map(str, GMM["shape"])),
    log:
        f"{OUT}/logs/gmm/{{task}}.log",
    shell:
        "eps gmm-bench --protocol {config[protocol]:q} --methods {params.methods:q} --tasks {wildcards.task:q} --seeds {params.seeds:q} "
        "--nfe {params.nfe:q} --num-samples {GMM[num_samples]} --shape {params.shape:q} --sigma-y {GMM[sigma_y]} "
        "--interpolant {GMM[interpolant]:q} --threads {config[threads]} --out {output:q} > {log:q} 2>&1"


FRONTIER = config["frontier"]


rule frontier:
    """sw / sw_floor against NFE for every method x backbone solver, and seconds per sample (eps frontier)."""
    output:
        rows=f"{OUT}/frontier/rows.csv",
        table=report(f"{OUT}/report/frontier.csv", category="Exact posterior"),
        figure=report(f"{OUT}/report/frontier.png", category="Exact posterior"),
        provenance=f"{OUT}/report/frontier.csv.provenance.json",
    params:
        methods=",".join(FRONTIER["methods"]),
        solvers=",".join(FRONTIER["solvers"]),
        nfe=",".join(map(str, FRONTIER["nfe"])),
        tasks=",".join(FRONTIER["tasks"]),
        seeds=",".join(map(str, FRONTIER["seeds"])),
        shape=",".join(map(str, FRONTIER["shape"])),
    log:
        f"{OUT}/logs/frontier.log",
    shell:
        "eps frontier --protocol {config[protocol]:q} --methods {params.methods:q} --solvers {params.solvers:q} --nfe {params.nfe:q} "
        "--tasks {params.tasks:q} --seeds {params.seeds:q} --num-samples {FRONTIER[num_samples]} --shape {params.shape:q} "
        "--sigma-y {FRONTIER[sigma_y]} --interpolant {FRONTIER[interpolant]:q} --threads {config[threads]} "
        "--out {output.rows:q} --table {output.table:q} --figure {output.figure:q} > {log:q} 2>&1"
