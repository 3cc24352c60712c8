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
        "eps gmm-bench --methods {params.methods:q} --tasks {wildcards.task:q} --seeds {params.seeds:q} "
        "--nfe {params.nfe:q} --num-samples {GMM[num_samples]} --shape {params.shape:q} --sigma-y {GMM[sigma_y]} "
        "--interpolant {GMM[interpolant]:q} --threads {config[threads]} --out {output:q} > {log:q} 2>&1"
