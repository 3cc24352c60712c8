"""Sample stage: shards of (dataset, task, methods entry, NFE, seed, test images), written by `eps sample`.

``sample.job: method`` (the embedded default): one job per (dataset, task, methods entry) writes all its shards
(NFE x seed x shard) in one process, so start-up and network loading are paid once (rules
``sample_<dataset>_<entry>``). ``sample.job: shard``: one job per shard (rule ``sample``), the unit a cluster
spreads over its GPUs. Either way the bare backbone sampler, the reference of cost_ratio, is timed once per run for
each (solver, grid, NFE) at the batch shape of the shards (rule ``bare_timing``), not per shard."""
from eps.methods.eps import Unconditional
from eps.protocols import build_method


def method_net(dataset, task, method) -> dict:
    stem = network_stem(method)
    return {f"{NETWORKS[stem].kind}_net": model_file(stem, dataset, task)} if stem else {}


def solver_flag(method):
    solver = config["methods"][method].get("solver")
    return f"--solver {solver}" if solver else ""


def bare_sampler(method) -> tuple[str, str]:
    """(solver, grid) of the bare sampler a methods entry is compared with: its own backbone solver and grid, or
    the backbone's default for a method with its own update rule (Unconditional.of, as eps sample), under the run's
    protocol (whose backbone solver is a protocol setting, not a per-task one: the first task stands for all)."""
    spec = config["methods"][method]
    sampler, _ = build_method(config["protocol"], registered(method), next(iter(config["tasks"])), spec.get("solver"),
                              spec.get("options", {}))
    bare = Unconditional.of(sampler)
    return bare.solver, bare.grid


def bare_timing(dataset, method, nfe) -> str:
    solver, grid = bare_sampler(method)
    return f"{OUT}/timing/{dataset}/{solver}-{grid}-nfe{nfe}.csv"


def batch_images(dataset) -> int:
    """Images per sampler call of a full batch (each gives K rows)."""
    return min(SAMPLE["batch_size"], SAMPLE["shard_size"], config["datasets"][dataset]["num_test"])


rule bare_timing:
    """The bare sampler alone on one full batch of the shards (median of 3 runs after a warm-up)."""
    input:
        data=f"{DATA}/{{dataset}}/test.zip",
        prior=lambda w: prior_checkpoint(w.dataset),
    output:
        f"{OUT}/timing/{{dataset}}/{{solver}}-{{grid}}-nfe{{nfe}}.csv",
    wildcard_constraints:
        solver="[a-z0-9]+",
        grid="[a-z]+",
    params:
        images=lambda w: batch_images(w.dataset),
        task=next(iter(config["tasks"])),  # the measurement is unused by the bare sampler
        labels=lambda w: class_labels(w.dataset),
    resources:
        gpu=1 if config["device"] == "cuda" else 0,
    log:
        f"{OUT}/logs/timing/{{dataset}}/{{solver}}-{{grid}}-nfe{{nfe}}.log",
    shell:
        "eps cost-bench --bare-only --data {input.data:q} --prior {input.prior:q} --task {params.task:q} "
        "--solver {wildcards.solver:q} --grid {wildcards.grid:q} --nfe {wildcards.nfe} --count {params.images} "
        "--num-samples {SAMPLE[num_samples]} --repeats 3 --class-labels {params.labels:q} "
        "--device {config[device]:q} --out {output:q} > {log:q} 2>&1"


# The eps sample command of a sampling job: params name the entry, its cells and the output pattern (a shell
# directive is evaluated when the job runs, so a rule made in a loop must not read the loop's variables in it).
SAMPLE_COMMAND = (
    "eps sample --protocol {config[protocol]:q} --data {input.data:q} --prior {input.prior:q} {params.net} --dataset {params.dataset:q} "
    "--task {wildcards.task:q} --task-params {params.task} --method {params.method:q} --label {params.label:q} "
    "{params.solver} --options {params.options} --nfe {params.nfe:q} --seed {params.seeds:q} "
    "--start {params.start} --count {params.images} --shard-size {SAMPLE[shard_size]} "
    "--num-samples {SAMPLE[num_samples]} --sigma-y {SAMPLE[sigma_y]} --batch-size {SAMPLE[batch_size]} "
    "--bare-timing {input.timing:q} --class-labels {params.labels:q} --device {config[device]:q} "
    "--out {params.pattern:q} > {log:q} 2>&1")


def net_flags(w, input) -> str:
    return " ".join(f"--{k.replace('_', '-')} {shlex.quote(v)}" for k, v in input.items() if k.endswith("_net"))


if SAMPLE["job"] == "shard":

    rule sample:
        input:
            unpack(lambda w: method_net(w.dataset, w.task, w.method)),
            data=f"{DATA}/{{dataset}}/test.zip",
            prior=lambda w: prior_checkpoint(w.dataset),
            timing=lambda w: bare_timing(w.dataset, w.method, w.nfe),
        output:
            shard_path("{dataset}", "{task}", "{method}", "{nfe}", "{seed}", "{shard}"),
        params:
            net=net_flags,
            dataset=lambda w: w.dataset,
            pattern=lambda w, output: output[0],
            start=lambda w: shard_range(w.dataset, w.shard)[0],
            images=lambda w: shard_range(w.dataset, w.shard)[1],
            nfe=lambda w: w.nfe,
            seeds=lambda w: w.seed,
            task=lambda w: as_json(config["tasks"][w.task]),
            options=lambda w: as_json(config["methods"][w.method].get("options", {})),
            method=lambda w: registered(w.method),
            label=lambda w: w.method,
            solver=lambda w: solver_flag(w.method),
            labels=lambda w: class_labels(w.dataset),
        resources:
            gpu=1 if config["device"] == "cuda" else 0,
        log:
            f"{OUT}/logs/sample/{{dataset}}/{{task}}/{{method}}-nfe{{nfe}}-seed{{seed}}-shard{{shard}}.log",
        shell:
            SAMPLE_COMMAND

else:
    for _dataset in config["datasets"]:
        for _method, _spec in config["methods"].items():

            rule:
                name:
                    f"sample_{re.sub('[^A-Za-z0-9_]', '_', _dataset)}_{_method}"
                input:
                    unpack(lambda w, d=_dataset, m=_method: method_net(d, w.task, m)),
                    data=f"{DATA}/{_dataset}/test.zip",
                    prior=prior_checkpoint(_dataset),
                    timing=[bare_timing(_dataset, _method, n) for n in _spec["nfe"]],
                output:
                    [shard_path(_dataset, "{task}", _method, n, s, k) for n in _spec["nfe"] for s in SAMPLE["seeds"]
                     for k in range(num_shards(_dataset))],
                params:
                    net=net_flags,
                    dataset=_dataset,
                    pattern=lambda w, d=_dataset, m=_method: shard_path(d, w.task, m, "{nfe}", "{seed}", "{shard}"),
                    start=0,
                    images=config["datasets"][_dataset]["num_test"],
                    nfe=",".join(map(str, _spec["nfe"])),
                    seeds=",".join(map(str, SAMPLE["seeds"])),
                    task=lambda w: as_json(config["tasks"][w.task]),
                    options=as_json(_spec.get("options", {})),
                    method=registered(_method),
                    label=_method,
                    solver=solver_flag(_method),
                    labels=class_labels(_dataset),
                resources:
                    gpu=1 if config["device"] == "cuda" else 0,
                log:
                    f"{OUT}/logs/sample/{_dataset}/{{task}}/{_method}.log",
                shell:
                    SAMPLE_COMMAND
