"""Sample stage: one job per (dataset, task, method, NFE, seed, shard of test images) -> one shard file."""


def method_net(w):
    stem = network_stem(w.method)
    return {f"{NETWORKS[stem].kind}_net": model_file(stem, w.dataset, w.task)} if stem else {}


def solver_flag(w):
    solver = config["methods"][w.method].get("solver")
    return f"--solver {solver}" if solver else ""


rule sample:
    input:
        unpack(method_net),
        data=f"{DATA}/{{dataset}}/test.zip",
        prior=lambda w: prior_checkpoint(w.dataset),
    output:
        shard_path("{dataset}", "{task}", "{method}", "{nfe}", "{seed}", "{shard}"),
    params:
        net=lambda w, input: " ".join(f"--{k.replace('_', '-')} {shlex.quote(v)}" for k, v in input.items()
                                      if k.endswith("_net")),
        start=lambda w: shard_range(w.dataset, w.shard)[0],
        size=lambda w: shard_range(w.dataset, w.shard)[1],
        task=lambda w: as_json(config["tasks"][w.task]),
        options=lambda w: as_json(config["methods"][w.method].get("options", {})),
        method=lambda w: registered(w.method),
        solver=solver_flag,
        labels=lambda w: class_labels(w.dataset),
    resources:
        gpu=1 if config["device"] == "cuda" else 0,
    log:
        f"{OUT}/logs/sample/{{dataset}}/{{task}}/{{method}}-nfe{{nfe}}-seed{{seed}}-shard{{shard}}.log",
    shell:
        "eps sample --data {input.data:q} --prior {input.prior:q} {params.net} --dataset {wildcards.dataset:q} "
        "--task {wildcards.task:q} --task-params {params.task} --method {params.method:q} --label {wildcards.method:q} "
        "{params.solver} --options {params.options} --nfe {wildcards.nfe} --seed {wildcards.seed} "
        "--start {params.start} "
        "--count {params.size} --num-samples {SAMPLE[num_samples]} --sigma-y {SAMPLE[sigma_y]} "
        "--batch-size {SAMPLE[batch_size]} --class-labels {params.labels:q} --device {config[device]:q} "
        "--out {output:q} > {log:q} 2>&1"
