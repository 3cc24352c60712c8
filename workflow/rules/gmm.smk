"""Exact-posterior benchmark (METHOD.md §4): every configured method on an analytic GMM prior, one job per task."""

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
        "eps gmm-bench --methods {params.methods} --tasks {wildcards.task} --seeds {params.seeds} "
        "--nfe {params.nfe} --num-samples {GMM[num_samples]} --shape {params.shape} --sigma-y {GMM[sigma_y]} "
        "--interpolant {GMM[interpolant]} --threads {config[threads]} --out {output} > {log} 2>&1"


FRONTIER = config["frontier"]


rule frontier:
    """sw / sw_floor against NFE for every method x backbone solver, and seconds per sample (eps frontier)."""
    output:
        rows=f"{OUT}/frontier/rows.csv",
        table=report(f"{OUT}/report/frontier.csv", category="Exact posterior"),
        figure=report(f"{OUT}/report/frontier.png", category="Exact posterior"),
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
        "eps frontier --methods {params.methods} --solvers {params.solvers} --nfe {params.nfe} --tasks {params.tasks} "
        "--seeds {params.seeds} --num-samples {FRONTIER[num_samples]} --shape {params.shape} "
        "--sigma-y {FRONTIER[sigma_y]} --interpolant {FRONTIER[interpolant]} --threads {config[threads]} "
        "--out {output.rows} --table {output.table} --figure {output.figure} > {log} 2>&1"
