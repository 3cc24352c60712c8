"""The Snakemake DAG: configs validate, dry runs list the paper's job set, the tiny config runs end to end."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
PAPER_METHODS = ["eps", "dps", "pigdm", "ddnm", "daps", "mpgd", "palette"]  # Table 1 (no DDRM at 64 px)
TASKS = ["inpaint_random", "inpaint_box", "sr4", "deblur_gauss", "deblur_motion"]


def workdir(tmp_path: Path) -> Path:
    """A copy of what the workflow reads (Snakefile, rules, configs, notebook, published tables)."""
    for name in ("Snakefile", "workflow", "profiles", "config", "notebooks"):
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, tmp_path / name)
    shutil.copytree(ROOT / "results" / "reference", tmp_path / "results" / "reference")
    return tmp_path


def snakemake(cwd: Path, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([SNAKEMAKE, "--cores", "2", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


def job_counts(output: str) -> dict[str, int]:
    """The 'Job stats' table of a dry run as {rule: count}."""
    lines = output[output.index("Job stats:"):].splitlines()[3:]
    counts = {}
    for line in lines:
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            break
        counts[parts[0]] = int(parts[1])
    return counts


def test_default_dry_run_lists_every_stage(tmp_path):
    cwd = workdir(tmp_path)
    run = snakemake(cwd, "-n")
    assert run.returncode == 0, run.stderr
    counts = job_counts(run.stdout)
    cfg = yaml.safe_load((cwd / "config" / "default.yaml").read_text())
    # one sampling job per (task, methods entry) writes its shards; the bare sampler timed once per (solver, grid, NFE)
    assert cfg["sample"]["job"] == "method"
    assert all(counts[f"sample_embedded_{m}"] == len(cfg["tasks"]) for m in cfg["methods"])
    assert counts["evaluate"] == len(cfg["tasks"]) and counts["bare_timing"] == 5  # euler 1/20/100, dpmpp2m 20, heun 20
    assert counts["gmm_bench"] == 5 and counts["train_conditional"] == 2 * len(cfg["tasks"])  # EPS, Palette per task
    for rule in ("prepare_embedded", "train_prior", "report", "notebook"):
        assert counts[rule] == 1


def test_paper_dry_run_lists_the_full_paper_job_set(tmp_path):
    cwd = workdir(tmp_path)
    run = snakemake(cwd, "-n", "--configfile", "config/paper.yaml")
    assert run.returncode == 0, run.stderr
    cfg = yaml.safe_load((cwd / "config" / "paper.yaml").read_text())
    assert sorted(cfg["datasets"]) == ["ffhq64", "imagenet64"] and list(cfg["tasks"]) == TASKS
    assert sorted(cfg["methods"]) == sorted(PAPER_METHODS + ["eps_dpmpp2m"])  # + EPS with DPM-Solver++(2M)
    counts = job_counts(run.stdout)
    assert counts["frontier"] == 1
    cells = 2 * 5 * sum(len(m["nfe"]) for m in cfg["methods"].values())
    shards = -(-100 // cfg["sample"]["shard_size"])  # 100 test images per dataset (the paper's)
    assert cfg["sample"]["num_samples"] == 10 and cfg["protocol"] == "eps_paper"
    assert counts["evaluate"] == 2 * 5 and counts["sample"] == cells * shards  # one evaluation per dataset x task
    assert counts["manual_download"] == 3 and counts["edm_source"] == 1  # licensed folders; the NVlabs/edm clone
    assert counts["prepare_folder"] == 2  # train and test of a dataset in one job (it refuses any overlap)
    assert counts["download"] == 3 and counts["convert_checkpoint"] == 1  # EDM's ImageNet ADM, 2 FID stats
    assert counts["train_prior"] == 1  # FFHQ-64: the paper's own DDPM++ on the split that holds out the test images
    for method in PAPER_METHODS:
        for dataset in ("ffhq64", "imagenet64"):
            assert f"runs/paper/samples/{dataset}/deblur_motion/{method}/nfe" in run.stdout
    assert "runs/paper/metrics/imagenet64/deblur_motion.summary.csv" in run.stdout
    # the planned training, as an estimate from the config's stated throughput: 2 datasets x 5 tasks x (EPS, Palette)
    from eps.workflow_plan import training_estimate

    assert counts["train_conditional"] == 20 and training_estimate(cfg) in run.stderr
    assert "training estimate (not measured): 21 networks" in run.stderr  # + the FFHQ-64 prior (200 Mimg)


def test_select_runs_only_the_named_cells_with_targets_before_the_configfile(tmp_path):
    """docs/paper_run.md: one method on one task, the target rule before --configfile, the cells by --config."""
    cwd = workdir(tmp_path)
    run = snakemake(cwd, "select", "-n", "--configfile", "config/paper.yaml", "--config",
                    "select={methods: [eps], tasks: [sr4]}")
    assert run.returncode == 0, run.stderr
    counts = job_counts(run.stdout)
    assert counts["sample"] == 2 * 3 * 2 and counts["train_conditional"] == 2  # 2 datasets x 3 NFE x 2 shards; EPS
    assert "evaluate" not in counts and "palette" not in run.stdout.replace("palette-net", "")
    assert all(line.split("samples/")[1].split("/")[1:3] == ["sr4", "eps"]
               for line in run.stdout.splitlines() if "output: runs/paper/samples/" in line)


def test_download_and_clone_jobs_run_where_snakemake_runs():
    """Compute nodes have no internet: every rule that fetches or asks for a manual step is a local rule."""
    text = "\n".join(p.read_text() for p in (ROOT / "workflow" / "rules").glob("*.smk"))
    local = {name.strip() for line in re.findall(r"^\s*localrules:([^#\n]*)", text, re.M) for name in line.split(",")}
    assert {"download", "edm_source", "manual_download", "metric_weights"} <= local


def test_slurm_profile_dry_run(tmp_path):
    run = snakemake(workdir(tmp_path), "-n", "-p", "--profile", "workflow/profiles/slurm", "--configfile",
                    "config/paper.yaml")
    assert run.returncode == 0, run.stderr
    assert "torchrun --standalone --nproc_per_node=4 -m eps.training.cli --kind eps" in run.stdout
    # ImageNet-64: EDM's published class-conditional ADM, converted, with the true class of every image; FFHQ-64:
    # a DDPM++ prior trained here from scratch (EDM's FFHQ-64 recipe) on the split without the test images
    net = "edm-imagenet-64x64-cond-adm"
    assert f"eps convert-edm --pkl weights/{net}.pkl --edm-source downloads/edm --out weights/{net}.pt" in run.stdout
    assert "edm-ffhq-64x64-uncond-vp" not in run.stdout
    assert re.search(r"--kind prior --data data/ffhq64/train.zip --steps 781250 --batch 256 .*--model-channels 128 "
                     r"--channel-mult 1,2,2,2 --num-blocks 4 --attn-resolutions 16 --dropout 0.05", run.stdout)
    for dataset, prior, labels in (("imagenet64", f"weights/{net}.pt", "true_label"),
                                   ("ffhq64", "runs/paper/models/ffhq64/prior.pt", "none")):
        assert f"--kind eps --data data/{dataset}/train.zip --init {prior}" in run.stdout
        assert f"--prior {prior}" in run.stdout
        assert re.search(rf"--kind eps --data data/{dataset}/train.zip .* --class-labels {labels} ", run.stdout)
        assert re.search(rf"--data data/{dataset}/test.zip --prior .* --class-labels {labels} ", run.stdout)
    assert "eps sample --protocol eps_paper " in run.stdout
    # Palette is fine-tuned from the same backbone as EPS (with its class labels on ImageNet)
    assert re.search(r"--kind palette --data data/imagenet64/train.zip --init weights/edm-imagenet-64x64-cond-adm.pt "
                     r".* --class-labels true_label ", run.stdout)
    assert "--sha256 unknown --out weights/ffhq-64x64.npz" in run.stdout
    # MMD and CRPS against the paired test images, FID against EDM's statistics, in one evaluation; App. F: the
    # plug-in CRPS and every sample
    assert "--fid-statistics weights/imagenet-64x64.npz --crps-estimator nrg --sample-set all --weights-dir" in run.stdout
    evaluations = [line for line in run.stdout.splitlines() if "eps evaluate" in line]
    assert len(evaluations) == 10 and not any("--reference" in line for line in evaluations)
    # test images excluded from training: FFHQ 00000-00099 (folder 00000 held out), ImageNet validation: the first
    # image of every 10th class
    assert ("eps prepare-data --source folder --folders downloads/ffhq/images1024x1024 downloads/ffhq/images1024x1024 "
            '--select \'{"test": {"include": ["00000/000[0-9][0-9].png"]}, "train": {"exclude": ["00000/*"]}}\' '
            "--class-labels none ") in run.stdout
    assert ("--folders downloads/imagenet/train downloads/imagenet/val --select "
            "'{\"test\": {\"first_per_folder\": 1, \"folder_stride\": 10}}' --class-labels folders ") in run.stdout
    # training draws operators with the configured task parameters (those eps sample uses), one network per task
    gauss = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())["tasks"]["deblur_gauss"]
    assert f"--tasks deblur_gauss --task-params '{{\"deblur_gauss\": {json.dumps(gauss, sort_keys=True)}}}'" in run.stdout


def one_line_error(run: subprocess.CompletedProcess) -> str:
    """The one error line of a refused dry run (snakemake's own 'Using workflow specific profile' line aside)."""
    lines = [line for line in (run.stdout + run.stderr).strip().splitlines() if not line.startswith("Using ")]
    assert run.returncode != 0 and len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize("change, message", [
    (lambda cfg: cfg.pop("edm_source"), "git clone https://github.com/NVlabs/edm and set edm_source"),
    (lambda cfg: cfg["datasets"]["imagenet64"].pop("fid_reference"), "datasets imagenet64 have no fid_reference"),
    (lambda cfg: cfg["sample"].update(num_samples=1) or cfg["evaluate"].update(crps_estimator="fair"),
     "fair CRPS estimator needs K >= 2"),
    (lambda cfg: cfg.update(allow_unverified_pickle=False), "checkpoint.sha256 is 'unknown' and allow_unverified_pickle"),
])
def test_paper_config_problems_are_one_line_at_planning(tmp_path, change, message):
    cwd = workdir(tmp_path)
    cfg = yaml.safe_load((cwd / "config" / "paper.yaml").read_text())
    change(cfg)
    (cwd / "bad.yaml").write_text(yaml.safe_dump(cfg))
    line = one_line_error(snakemake(cwd, "-n", "--configfile", "bad.yaml"))
    assert line.startswith("config: ") and message in line, line


def test_misspelt_config_key_is_one_line_with_the_valid_keys(tmp_path):
    cwd = workdir(tmp_path)
    text = (cwd / "config" / "tiny.yaml").read_text().replace("\nsample:", "\nsampel:")
    (cwd / "bad.yaml").write_text(text)
    line = one_line_error(snakemake(cwd, "-n", "--configfile", "bad.yaml"))
    assert line.startswith("config: sampel: unknown key") and "valid keys at the top level: out," in line
    assert "(did you mean sample?)" in line


def test_unknown_method_is_one_line_with_the_registered_ones(tmp_path):
    cwd = workdir(tmp_path)
    cfg = yaml.safe_load((cwd / "config" / "tiny.yaml").read_text())
    cfg["methods"]["dpss"] = {"nfe": [3]}
    (cwd / "bad.yaml").write_text(yaml.safe_dump(cfg))
    line = one_line_error(snakemake(cwd, "-n", "--configfile", "bad.yaml"))
    assert "config: methods.dpss: unknown method 'dpss'; registered methods: daps," in line and "did you mean dps?" in line


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    cwd = workdir(tmp_path_factory.mktemp("tiny"))
    first = snakemake(cwd, "--configfile", "config/tiny.yaml")
    return cwd, first


def test_tiny_config_runs_the_whole_dag(tiny_run):
    cwd, first = tiny_run
    assert first.returncode == 0, first.stderr[-3000:]
    report = cwd / "runs" / "tiny" / "report"
    for name in ("summary.csv", "summary.md", "summary.tex", "comparison.csv", "tasks.csv", "gmm.csv", "gmm.png",
                 "nfe_convergence.png", "cost.png", "qualitative/embedded-sr4.png", "explore_results.ipynb",
                 "frontier.csv", "frontier.png", "learning_curve.csv", "learning_curve.png", "ablations.csv"):
        assert (report / name).is_file(), name
    import pandas as pd
    import torch

    curve = pd.read_csv(report / "learning_curve.csv")  # eps_more is eps's fine-tune carried on from 2 to 4 steps
    points = curve[curve["nfe"] == 3].set_index("method")
    assert points.loc["eps", ["series", "steps"]].tolist() == ["eps", 2]
    assert points.loc["eps_more", ["series", "steps"]].tolist() == ["eps", 4]
    assert pd.isna(points.loc["dps", "steps"]) and points.loc["palette", "steps"] == 2
    models = cwd / "runs" / "tiny" / "models" / "embedded"
    assert torch.load(models / "eps_more_sr4.pt", weights_only=False)["step"] == 4
    rows = pd.read_csv(next(models.glob("eps_more_sr4.pt.*.log.csv")))
    assert rows["step"].tolist() == [3, 4]  # resumed from eps's finished state, not trained anew

    summary = pd.read_csv(report / "summary.csv")
    reference = pd.read_csv(ROOT / "results" / "reference" / "paper_table_64px.csv")
    assert list(summary.columns) == (list(reference.columns[:4]) + ["num_samples", "crps_estimator", "sample_set"]
                                     + list(reference.columns[4:]) + ["nfe_measured", "sec_per_image", "cost_ratio"])
    assert (summary["num_samples"] == 2).all()  # config/tiny.yaml's K
    assert "K = 2 posterior samples per measurement" in (report / "summary.md").read_text()
    assert set(summary["method"]) == {"eps", "eps_more", "dps", "palette"} and (summary["cost_ratio"] > 0).all()
    tasks = (report / "tasks.csv").read_text()
    assert "factor=4" in tasks and "filter=box" in tasks and "operator_stream=stream_seed(seed, 0, image)" in tasks
    record = json.loads((report / "tasks.csv.provenance.json").read_text())
    assert record["tasks"][0]["task"] == "sr4" and "filter=box" in record["tasks"][0]["parameters"]
    assert record["tasks"][0]["protocol"] == "eps_paper"
    methods = pd.read_csv(report / "methods.csv")  # every setting of every cell with its source (eps.protocols)
    eps = methods[(methods.method == "eps") & (methods.setting == "solver")]
    assert set(eps.value) == {"euler"} and eps.source.str.contains("App. B").all()
    dps = methods[(methods.method == "dps")].set_index("setting")
    assert dps.loc["zeta", "value"] == "10.0" and "Table 12" in dps.loc["zeta", "source"]
    assert (report / "paper_comparison.csv").is_file() and (report / "paper_comparison.md").is_file()
    import nbformat

    executed = nbformat.read(report / "explore_results.ipynb", as_version=4)
    assert all(c.get("outputs") is not None for c in executed.cells if c.cell_type == "code")
    assert not any(o.get("output_type") == "error" for c in executed.cells if c.cell_type == "code"
                   for o in c["outputs"])


def test_second_tiny_run_does_nothing(tiny_run):
    cwd, first = tiny_run
    assert first.returncode == 0
    again = snakemake(cwd, "-n", "--configfile", "config/tiny.yaml")
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr


def test_snakemake_report(tiny_run):
    cwd, first = tiny_run
    assert first.returncode == 0
    run = snakemake(cwd, "--configfile", "config/tiny.yaml", "--report", "report.html")
    assert run.returncode == 0, run.stderr[-2000:]
    assert (cwd / "report.html").stat().st_size > 10_000


# The EPS paper's ablation tables as config overlays (config/ablation_*.yaml): overlay -> (rows the dry run must
# list at paper scale, train_conditional jobs at paper scale beyond the main table's 2 datasets x 5 tasks x 2 kinds).
ABLATIONS = {
    "inputs": (["eps_in_mu/nfe100", "eps_in_mu_sigma/nfe100"], 2 * 5 * 2),
    "zeroshot": (["eps_zeroshot/nfe100"], 0),
    "amortized": (["eps_amortized/nfe100", "eps_amortized_160k/nfe100"], 2 * 2),
    "posterior_mean": (["eps_mean10/nfe100", "palette/nfe1"], 0),
    "extreme": (["inpaint_random/eps/nfe100", "sr4/eps/nfe100"], 0),
    "mask_density": (["inpaint_random/palette/nfe100"], 0),
}


@pytest.mark.parametrize("ablation", sorted(ABLATIONS))
def test_ablation_configs_dry_run_at_paper_scale(tmp_path, ablation):
    """Every ablation overlay validates and plans at paper scale: its rows and extra networks are listed."""
    cwd = workdir(tmp_path)
    rows, extra_networks = ABLATIONS[ablation]
    paper = snakemake(cwd, "-n", "--configfile", "config/paper.yaml", f"config/ablation_{ablation}.yaml")
    assert paper.returncode == 0, paper.stderr
    assert job_counts(paper.stdout)["train_conditional"] == 2 * 5 * 2 + extra_networks
    for row in rows:
        pattern = rf"samples/imagenet64/\w+/{row}" if row.count("/") == 1 else rf"samples/imagenet64/{row}"
        assert re.search(pattern, paper.stdout), row


@pytest.mark.slow
@pytest.mark.parametrize("ablation", sorted(ABLATIONS))
def test_ablation_configs_dry_run_at_embedded_scale(tmp_path, ablation):
    """The same overlays scaled down on the embedded default (budgets relative to train.<kind>)."""
    cwd = workdir(tmp_path)
    embedded = snakemake(cwd, "-n", "--configfile", "config/default.yaml", f"config/ablation_{ablation}.yaml")
    assert embedded.returncode == 0, embedded.stderr
    assert job_counts(embedded.stdout)["train_conditional"] == 5 * 2 + ABLATIONS[ablation][1] // 2


def test_mask_density_networks_train_at_70_percent(tmp_path):
    """D.9: evaluated at 90% missing, the networks train at 70% (their own task_params)."""
    cwd = workdir(tmp_path)
    run = snakemake(cwd, "-n", "-p", "--configfile", "config/default.yaml", "config/ablation_mask_density.yaml")
    assert run.returncode == 0, run.stderr
    trains = re.findall(r"--kind (eps|palette) .*?--tasks inpaint_random --task-params '([^']*)'", run.stdout)
    assert sorted(k for k, _ in trains) == ["eps", "palette"]
    assert all(json.loads(p)["inpaint_random"]["train_missing"] == 0.7 for _, p in trains)  # the training density
    assert "runs/ablation_mask90/samples/embedded/inpaint_random/eps/nfe100" in run.stdout
