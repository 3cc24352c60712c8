"""The argument parser of every ``eps`` command, built from the shared groups of :mod:`eps.args`, without torch.

``eps.cli`` parses a command's arguments here before importing the command's module, so ``--help`` and every
argument error answer at once; the module's ``main(argv)`` parses again with the same parser (cheap) and runs.

    build("sample").parse_args(["--help"])      # no torch, no method module imported

Defaults that belong to a torch-importing module (``eps train``'s :class:`~eps.training.trainer.TrainConfig`,
``eps gmm-bench``'s :class:`~eps.gmm_learned.LearnedBudget`) are stated here and checked equal to theirs by
tests/test_cli.py.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from .args import (Parser, add_device, add_grid, add_grids, add_protocol, add_interpolant, add_method, add_methods, add_networks, add_nfe, add_num_samples,
                   add_out, add_seed, add_seeds, add_shape, add_sigma_y, add_solver, add_solvers, add_task, add_task_params,
                   add_tasks, add_threads, fraction, int_at_least, int_list, nonnegative_int, one_of, positive_float, positive_int)
from .names import (CLASS_LABELS, CONDITIONINGS, CRPS_ESTIMATORS, GMM_PRIORS, KINDS, PALETTE_CONDITIONINGS, PRECONDS,
                    SAMPLE_SETS, SIGMA_DRAWS)

# eps train: TrainConfig's defaults, and the UNet of a prior trained from scratch.
TRAIN_DEFAULTS = dict(steps=1000, batch=32, lr=1e-3, lr_rampup=100, ema_halflife=50.0, seed=0, sigma_y=0.05,
                      ckpt_every=200, class_labels="none", conditioning="observation", precond="edm",
                      sigma_draw="lognormal")
# eps gmm-bench --prior learned: LearnedBudget's defaults.
LEARNED_DEFAULTS = dict(prior_steps=800, eps_steps=800, batch=64, lr=2e-3, num_train=20000, conditioning="operator",
                        precond="edm", sigma_draw="wide", palette_conditioning="observation", model_channels=16)


at_least_two = int_at_least(2, " (the sample covariance needs two samples)")


def gmm_bench(p):
    add_protocol(p)
    add_methods(p, budgets=True)
    add_tasks(p)
    add_seeds(p, "0,1,2", "seeds, comma-separated: one random prior, x0 and operators each")
    add_nfe(p, multiple=True, default="20")
    add_num_samples(p, 2000, "posterior samples per method and task", at_least_two)
    add_shape(p)
    add_sigma_y(p)
    add_interpolant(p, help="backbone interpolant of the EPS samplers (baselines run EDM only: other values refuse them)")
    p.add_argument("--num-projections", default=500, type=positive_int, help="directions of the sliced Wasserstein distance")
    add_solver(p)
    add_grid(p)
    add_threads(p)
    p.add_argument("--prior", default="analytic", type=one_of(GMM_PRIORS, "prior"),
                   help="analytic (exact GMM denoisers) or learned (networks trained on GMM samples, eps.gmm_learned)")
    b = LEARNED_DEFAULTS
    learned = p.add_argument_group("--prior learned", "the networks learned on the seed's GMM")
    learned.add_argument("--prior-steps", default=b["prior_steps"], type=positive_int, help="EDM-loss steps of the prior")
    learned.add_argument("--eps-steps", default=[b["eps_steps"]], type=int_list(positive_int),
                         help="fine-tuning steps of every EPS and Palette network; several, comma-separated: the "
                              "learning curve (one set of fine-tunes per budget, the baselines once)")
    learned.add_argument("--train-batch", default=b["batch"], type=positive_int, help="training batch size")
    learned.add_argument("--train-lr", default=b["lr"], type=positive_float, help="Adam learning rate")
    learned.add_argument("--num-train", default=b["num_train"], type=positive_int, help="GMM draws in the training set")
    learned.add_argument("--conditioning", default=b["conditioning"], type=one_of(CONDITIONINGS, "conditioning"),
                         help=f"EPS conditioning, one of: {', '.join(CONDITIONINGS)}")
    learned.add_argument("--precond", default=b["precond"], type=one_of(PRECONDS, "preconditioning"),
                         help=f"EPS preconditioning, one of: {', '.join(PRECONDS)}")
    learned.add_argument("--palette-conditioning", default=b["palette_conditioning"],
                         type=one_of(PALETTE_CONDITIONINGS, "Palette conditioning"),
                         help="Palette conditioning: observation = the EPS paper's, degraded = Saharia et al. 2022's")
    learned.add_argument("--sigma-draw", default=b["sigma_draw"], type=one_of(SIGMA_DRAWS, "sigma draw"),
                         help=f"training noise levels of the fine-tunes, one of: {', '.join(SIGMA_DRAWS)}")
    learned.add_argument("--amortized", action="store_true", help="one EPS network on every task (default: per task)")
    learned.add_argument("--hybrid-bands", default="",
                         help="LO:HI[,LO:HI...]: band attribution of the EPS network (learned in the band and exact "
                              "elsewhere, and the reverse; eps.gmm_learned.BandHybrid)")
    learned.add_argument("--model-channels", default=b["model_channels"], type=positive_int, help="UNet width")
    learned.add_argument("--cache", help="folder of the cached networks (default: <out stem>.nets/ next to --out)")
    add_out(p, "output CSV")


def frontier(p):
    add_protocol(p)
    add_methods(p)
    add_solvers(p)
    add_grids(p)
    add_nfe(p, multiple=True, default="1,5,10,20,50,100")
    add_tasks(p)
    add_seeds(p)
    add_num_samples(p, 500, "posterior samples per method and task", at_least_two)
    add_shape(p)
    add_sigma_y(p)
    add_interpolant(p)
    add_threads(p)
    add_out(p, "raw rows (CSV)")
    p.add_argument("--table", required=True, help="mean over seeds per method, solver, NFE, task (CSV)")
    p.add_argument("--figure", required=True, help="the frontier figure (PNG)")


def sample(p):
    add_protocol(p)
    add_networks(p)
    add_task(p)
    add_task_params(p)
    add_method(p)
    p.add_argument("--options", default="{}", help="JSON dict of method options (over the protocol's values)")
    add_solver(p)
    add_nfe(p, multiple=True, required=True)
    p.add_argument("--seed", type=int_list(nonnegative_int), default=[0],
                   help="seed(s) of the measurements (operator draws, noise) and of the samplers, comma-separated")
    p.add_argument("--start", type=nonnegative_int, default=0, help="first test image")
    p.add_argument("--count", type=positive_int, required=True, help="test images from --start")
    p.add_argument("--shard-size", type=positive_int, default=None, help="images per shard file (default: --count)")
    p.add_argument("--bare-timing", nargs="*", default=[],
                   help="timing tables of the bare sampler (eps cost-bench --bare-only; default: timed in this process)")
    add_num_samples(p, 4, "posterior samples K per measurement")
    add_sigma_y(p)
    p.add_argument("--label", default=None, help="method name in the shard's meta and the tables (default: --method)")
    p.add_argument("--batch-size", type=positive_int, default=8, help="images per sampler call (each gives K rows)")
    p.add_argument("--dataset", default="", help="dataset name recorded in meta (default: the --data file's stem)")
    p.add_argument("--class-labels", type=one_of(CLASS_LABELS, "class-labels mode"), default="none",
                   help="class-conditional backbone: 'true_label' gives each test image's class (test zip labels)")
    add_device(p)
    add_out(p, "shard file (.pt); with several NFE, seeds or shards a pattern naming the varying ones: {nfe}, {seed}, "
               "{shard}")


def cost_bench(p):
    add_networks(p)
    add_task(p)
    add_task_params(p)
    add_methods(p)
    p.add_argument("--protocol", default="batched", type=one_of(("batched", "paper"), "protocol"),
                   help="batched: medians at the given batch, solver and NFE; paper: the EPS paper's D.12 runtime "
                        "protocol (batch 1, Euler/Karras at NFE 100, mean of 5 runs after 2 warm-ups), which "
                        "overrides --count, --num-samples, --nfe, --solver, --grid, --warmups and --repeats")
    add_nfe(p, multiple=True, default="1,20,100")
    add_solver(p)
    add_grid(p)
    p.add_argument("--count", type=positive_int, default=4, help="test images in the batch")
    add_num_samples(p, 4, "rows per image (K)")
    p.add_argument("--warmups", type=nonnegative_int, default=None,
                   help="untimed calls of each before the repeats (default: the protocol's, 1 or 2)")
    p.add_argument("--repeats", type=positive_int, default=None,
                   help="interleaved timing rounds (default: the protocol's, 7 or 5)")
    p.add_argument("--clock", default="wall", type=one_of(("wall", "process"), "clock"),
                   help="wall: elapsed seconds (the paper's); process: this process's CPU seconds, for a CPU shared "
                        "with other work (with --threads 1 equal to wall time on a quiet machine)")
    p.add_argument("--bare-only", action="store_true",
                   help="time the bare sampler alone (--solver, --grid, each NFE): the reference eps sample "
                        "--bare-timing reads")
    p.add_argument("--class-labels", type=one_of(CLASS_LABELS, "class-labels mode"), default="none",
                   help="class-conditional backbone: the test images' classes (as eps sample)")
    p.add_argument("--reference", help="published runtimes (results/reference/paper_runtime_imagenet64.csv): their "
                                       "ratio, seconds and GPU join each method's row (ratio_published, ...)")
    add_sigma_y(p)
    add_seed(p, help="seed of the measurements")
    add_threads(p)
    add_device(p)
    add_out(p, "cost table (CSV)")


def train(p):
    d = TRAIN_DEFAULTS
    p.add_argument("--kind", required=True, type=one_of(KINDS, "kind"), help=f"network to train, one of: {', '.join(KINDS)}")
    p.add_argument("--data", required=True, help="EDM-layout training zip")
    add_out(p, "checkpoint path (resumed if it exists)")
    p.add_argument("--init", help="prior checkpoint to fine-tune the EPS or Palette network from")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--steps", type=positive_int, default=d["steps"], help="optimiser steps")
    budget.add_argument("--images", type=positive_int, help="budget in training images (steps = ceil(images / batch))")
    p.add_argument("--batch", type=positive_int, default=d["batch"], help="global batch size (images per step)")
    p.add_argument("--lr", type=positive_float, default=d["lr"], help="Adam learning rate after the ramp-up")
    rampup = p.add_mutually_exclusive_group()
    rampup.add_argument("--lr-rampup", type=nonnegative_int, default=d["lr_rampup"], help="linear learning-rate ramp-up, steps")
    rampup.add_argument("--lr-rampup-images", type=nonnegative_int, help="linear learning-rate ramp-up, images")
    halflife = p.add_mutually_exclusive_group()
    halflife.add_argument("--ema-halflife", type=positive_float, default=d["ema_halflife"], help="EMA half-life in steps")
    halflife.add_argument("--ema-halflife-images", type=positive_float, help="EMA half-life in images")
    p.add_argument("--ema-rampup", type=positive_float,
                   help="EDM's EMA ramp-up ratio: half-life = min(half-life, ratio x images seen) (the EPS paper: 0.05); "
                        "default: the ramp (k+1)/(k+10)")
    p.add_argument("--sigma-draw", default=d["sigma_draw"], type=one_of(SIGMA_DRAWS, "sigma draw"),
                   help="training noise levels: lognormal = EDM's (the EPS paper, App. B); wide = half of each "
                        "conditional batch log-uniform on [0.002, 80]")
    add_seed(p, d["seed"], "seed of the initialisation, batches and noise")
    add_sigma_y(p, d["sigma_y"])
    add_tasks(p)
    p.add_argument("--task-params", default="{}",
                   help='JSON task -> parameters overriding eps.operators.DEFAULTS, as eps sample takes them '
                        '(e.g. \'{"deblur_gauss": {"kernel_size": 9, "std": 1.5}}\')')
    p.add_argument("--conditioning", default=d["conditioning"],
                   type=one_of(tuple(dict.fromkeys([*CONDITIONINGS, *PALETTE_CONDITIONINGS])), "conditioning"),
                   help="observation = the EPS paper's [input, observation image] (eps and palette); eps options: "
                        "operator = [x_y, c, r], pixel = [x_y, c], certainty = [c], none; palette option: degraded "
                        "(Saharia et al. 2022)")
    p.add_argument("--precond", default=d["precond"], type=one_of(PRECONDS, "preconditioning"),
                   help="EPS preconditioning: edm = EDM's scalar c_skip, c_out at sigma; anisotropic = per "
                        "eigendirection of Sigma_star (eps.nn.anisotropic)")
    p.add_argument("--ckpt-every", type=positive_int, default=d["ckpt_every"], help="steps between saved states")
    p.add_argument("--class-labels", type=one_of(CLASS_LABELS, "class-labels mode"), default=d["class_labels"],
                   help="class-conditional network (e.g. fine-tuned from EDM's ImageNet-64 ADM): 'true_label' feeds "
                        "each training image's class from the zip's labels")
    net = p.add_argument_group("network (kind prior without --init)")
    net.add_argument("--model-channels", type=positive_int, default=32, help="UNet base width")
    net.add_argument("--channel-mult", type=int_list(positive_int), default=[1, 2, 2], help="width per resolution")
    net.add_argument("--num-blocks", type=positive_int, default=1, help="residual blocks per resolution")
    net.add_argument("--attn-resolutions", type=int_list(positive_int, allow_empty=True), default=[8],
                     help="resolutions with self-attention ('' for none)")
    net.add_argument("--dropout", type=fraction, default=0.0, help="dropout probability")
    add_threads(p)


def evaluate(p):
    p.add_argument("--shards", nargs="+", required=True, help="sample shards (*.pt) from the sampling stage")
    p.add_argument("--per-image", required=True, help="per-image CSV to write")
    p.add_argument("--summary", required=True, help="per-(dataset, task, method, nfe) CSV to write")
    p.add_argument("--reference", default=None, help="reference images for MMD (and FID without --fid-statistics), "
                                                     ".pt/.npz/.zip (default: the shards' paired x0)")
    p.add_argument("--fid-statistics", default=None, help="FID against these Inception statistics (.npz with mu, "
                                                          "sigma: EDM's fid-refs) instead of the reference images")
    p.add_argument("--crps-estimator", default="nrg", type=one_of(CRPS_ESTIMATORS, "CRPS estimator"),
                   help="nrg: the plug-in CRPS of the K samples, spread / (2K^2) (the EPS paper, App. F); fair: "
                        "unbiased, spread / (2K(K-1)); both are also columns")
    p.add_argument("--sample-set", default="all", type=one_of(SAMPLE_SETS, "sample set"),
                   help="all: PSNR/SSIM/LPIPS averaged over the K samples and MMD/FID over all N K (the EPS paper, "
                        "App. F, Table 5); first: the first sample of each measurement (DPS/DAPS)")
    p.add_argument("--weights-dir", default=None,
                   help="folder searched before $TORCH_HOME/hub/checkpoints for metric weights")
    add_device(p, "cpu")
    p.add_argument("--batch-size", type=positive_int, default=64, help="images per network batch")


def prepare_data(p):
    p.add_argument("--source", required=True, type=one_of(("embedded", "folder"), "source"),
                   help="embedded (patches shipped with the package) or folder (--folders)")
    p.add_argument("--resolution", type=positive_int, default=32, help="image side in pixels")
    p.add_argument("--folders", nargs=2, metavar=("TRAIN_DIR", "TEST_DIR"), help="image folders (--source folder)")
    p.add_argument("--select", default="{}", help='JSON: {"train": {...}, "test": {...}} with keys include, '
                                                  "exclude (glob patterns on relative paths), first_per_folder")
    p.add_argument("--class-labels", type=one_of(("none", "folders"), "class-labels mode"), default="none",
                   help="'folders': label each image by its top-level (class) folder, indexed among the train "
                        "split's (EDM's dataset tool rule)")
    add_out(p, "the train and test zips", nargs=2, metavar=("TRAIN_ZIP", "TEST_ZIP"))


def report(p):
    p.add_argument("--summaries", nargs="+", required=True, help="summary CSVs of eps evaluate")
    p.add_argument("--shards", nargs="+", required=True, help="sample shards shown in the qualitative grids")
    p.add_argument("--gmm", nargs="*", default=[], help="CSVs of eps gmm-bench")
    p.add_argument("--reference", default="results/reference/paper_table_64px.csv", help="the paper's table")
    p.add_argument("--runtime-reference", default="results/reference/paper_runtime_imagenet64.csv",
                   help="the paper's runtime table")
    p.add_argument("--ablation-reference", nargs="*", default=[],
                   help="the paper's ablation tables (paper_ablation_*.csv): ablations.csv puts the run's rows beside them")
    p.add_argument("--methods", default="", help="comma-separated method order of the tables and grids")
    p.add_argument("--seeds", nargs="*", type=nonnegative_int, default=[],
                   help="the sampling seeds of the summaries, for the captions (default: those of --shards)")
    p.add_argument("--grid-images", type=positive_int, default=4, help="test images per qualitative grid")
    p.add_argument("--device-label", default="this machine", help="where the samples were timed (cost figure)")
    p.add_argument("--config-files", nargs="*", default=[],
                   help="the workflow's config files (their digests join the provenance of every table)")
    p.add_argument("--networks", nargs="*", default=[],
                   help="LABEL=SERIES:STEPS per trained network of a learning curve (e.g. eps_ft1000=eps:1000)")
    add_out(p, "report folder")


def convert_edm(p):
    p.add_argument("--pkl", required=True, help="official EDM pickle (e.g. edm-ffhq-64x64-uncond-vp.pkl)")
    add_out(p, "eps-net-v1 file to write (atomically)")
    p.add_argument("--edm-source", help="NVlabs/edm clone, needed to unpickle (unless already importable)")
    p.add_argument("--sha256", help="the pickle's expected sha256 (64 hex digits): unpickled only if it matches")
    p.add_argument("--allow-unverified", action="store_true",
                   help="unpickle without a known digest (unpickling runs code from the file; its digest is recorded)")


def download_weights(p):
    p.add_argument("--dest", default=None,
                   help="target folder (default: the torch hub cache, $TORCH_HOME/hub/checkpoints)")
    p.add_argument("--only", nargs="+", default=None,
                   help="fetch only these metric weights (default: all; names: eps.metrics.weights.WEIGHTS)")
    p.add_argument("--url", help="one file: its URL (with --sha256 and --out)")
    p.add_argument("--sha256", help="one file: its known sha256 (64 hex digits), or 'unknown' (not verified)")
    p.add_argument("--out", help="one file: where to write it")


def require_networks(args: argparse.Namespace, methods: list[str]) -> None:
    """A method that samples with a trained network (``eps``, ``palette``) needs its ``--<kind>-net`` file."""
    from .workflow_plan import TRAINED

    for method in methods:
        kind = TRAINED.get(method)
        if kind and getattr(args, f"{kind}_net") is None:
            raise ValueError(f"method {method} samples with a trained {kind} network: pass --{kind}-net FILE "
                             f"(made by `eps train --kind {kind}`)")


def provenance(p):
    sub = p.add_subparsers(dest="action", required=True, help="what to do with the committed results")
    for name, text in (("check", "verify committed results: bytes == recorded sha256, clean commit, ancestor of HEAD"),
                       ("stale", "report results whose declared code changed since their recorded commit")):
        s = sub.add_parser(name, help=text)
        s.add_argument("tables", nargs="*", type=Path, help="results files (default: every committed table)")
    pub = sub.add_parser("publish", help="copy a run's report into the committed folder: all files or none")
    pub.add_argument("--source", type=Path, required=True, help="the run's report folder")
    pub.add_argument("--to", type=Path, required=True, help="the committed folder (replaced whole)")
    pub.add_argument("--files", nargs="+", required=True, help="paths relative to --source")
    pub.add_argument("--allow-dirty", action="store_true", default=os.environ.get("EPS_PUBLISH_ALLOW_DIRTY") == "1",
                     help="tests only (or EPS_PUBLISH_ALLOW_DIRTY=1): publish results made from a dirty tree")


BUILDERS = {"gmm-bench": gmm_bench, "frontier": frontier, "prepare-data": prepare_data, "convert-edm": convert_edm,
            "train": train, "evaluate": evaluate, "download-weights": download_weights, "sample": sample,
            "cost-bench": cost_bench, "report": report, "provenance": provenance}


def build(command: str) -> Parser:
    """The parser of ``eps <command>`` (description: the command's line in ``eps --help``)."""
    from .cli import COMMANDS

    p = Parser(f"eps {command}", COMMANDS[command][1])
    BUILDERS[command](p)
    return p


__all__ = ["BUILDERS", "build", "require_networks", "TRAIN_DEFAULTS", "LEARNED_DEFAULTS"]
