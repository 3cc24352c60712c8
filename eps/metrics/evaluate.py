"""``eps evaluate``: score posterior-sample shards, write a per-image CSV and a summary CSV.

Per measurement (per-image CSV): PSNR, SSIM and LPIPS of the FIRST posterior sample against ``x0``;
``psnr_posterior_mean``, the PSNR of the average of the K samples; ``crps_pix`` ([0, 255] units) and
``crps_inception`` from all K samples against the paired ``x0`` (``--crps-estimator``: ``fair``, the
unbiased estimator, by default; ``nrg``, the biased empirical-distribution form; see ``eps.metrics.crps``).

Per ``(dataset, task, method, nfe)`` (summary CSV: the columns of ``reference/paper_table_64px.csv`` plus
``num_samples`` (K, the posterior samples per measurement), ``crps_estimator``, ``nfe_measured``, ``sec_per_image`` and
``cost_ratio``): the means of the per-image metrics; MMD (pixel and Inception space) between the set of
first samples and the reference images (the group's own paired ``x0`` unless ``--reference`` names other
images); FID against the same reference images, or, with ``--fid-statistics`` (an ``.npz`` holding ``mu`` and
``sigma``: EDM's published statistics of 2048-d Inception pool3 features), against those statistics, in the
same run as MMD and CRPS. ``sec_per_image = sum(seconds) / sum(N K)`` and
``cost_ratio = sum(seconds) / sum(seconds_uncond)`` (the method against the unconditional backbone
sampler at the same NFE, timed by the sampling stage in the same process). ``nfe`` is the configured
budget (the shard's ``meta["nfe"]``), ``nfe_measured`` the forward passes per sample the harness counted.

A metric whose network weights are absent offline (or LPIPS on images under 31 px, or the fair CRPS with
K = 1) is NaN, named in the per-image ``missing_reason`` column and in the provenance record's ``missing``
field, and announced by one warning line.
Each CSV gets a provenance record next to it (``<csv>.provenance.json``).
"""
from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from eps.metrics.crps import ESTIMATORS, crps_pixel, energy_score, estimator_defined
from eps.metrics.frechet import FeatureStatistics, frechet_distance
from eps.metrics.inception import FEATURE, inception_features, load_inception
from eps.metrics.mmd import mmd_unbiased
from eps.metrics.perceptual import LPIPS_MIN_SIZE, load_lpips, lpips_distance
from eps.metrics.pixel import psnr, ssim
from eps.metrics.shards import load_reference, load_shard
from eps.metrics.weights import WeightsMissing
from eps.args import resolve_device
from eps.io import check_writable, write_text
from eps.parsers import build
from eps.provenance import write_provenance

log = logging.getLogger("eps.metrics")

GROUP = ["dataset", "task", "method", "nfe"]
SUMMARY_COLUMNS = GROUP + ["num_samples", "crps_estimator", "psnr", "ssim", "lpips", "fid", "mmd_pix",
                           "mmd_inception", "crps_pix", "crps_inception", "nfe_measured", "sec_per_image",
                           "cost_ratio"]
PER_IMAGE_COLUMNS = GROUP + ["nfe_measured", "num_samples", "seed", "sigma_y", "shard", "index", "psnr", "ssim", "lpips",
                             "psnr_posterior_mean", "crps_pix", "crps_inception", "missing_reason"]
# Each network: (attribute of Networks, loader, metrics that depend on it).
NETWORKS = (("lpips", load_lpips, ("lpips",)),
            ("inception", load_inception, ("fid", "mmd_inception", "crps_inception")))


@dataclass
class Networks:
    """The metric networks available offline; ``missing`` maps each unavailable metric to the reason."""
    lpips: torch.nn.Module | None = None
    inception: torch.nn.Module | None = None
    missing: dict[str, str] = field(default_factory=dict)


def load_networks(weights_dir: str | os.PathLike | None = None, device: str = "cpu") -> Networks:
    """Load LPIPS and Inception when their weights are present; otherwise record why not."""
    nets = Networks()
    for attribute, loader, metrics in NETWORKS:
        try:
            setattr(nets, attribute, loader(weights_dir, device))
        except WeightsMissing as err:
            nets.missing.update(dict.fromkeys(metrics, str(err)))
    return nets


def describe_missing(missing: dict[str, str]) -> str:
    """One line: ``"lpips: <reason>; fid, mmd_inception, crps_inception: <reason>"``."""
    by_reason: dict[str, list[str]] = {}
    for metric, reason in missing.items():
        by_reason.setdefault(reason, []).append(metric)
    return "; ".join(f"{', '.join(metrics)}: {reason}" for reason, metrics in by_reason.items())


@dataclass
class Evaluation:
    per_image: pd.DataFrame
    summary: pd.DataFrame
    missing: dict[str, str]


def _score_shard(shard: dict[str, Any], name: str, nets: Networks, batch_size: int,
                 crps_estimator: str) -> dict[str, Any]:
    """Per-image rows plus the first samples (and Inception features) the group metrics need. CRPS is NaN
    where the estimator is undefined for the shard's K (the fair estimator at K = 1)."""
    x0, samples = shard["x0"].float(), shard["samples"].float()
    first = samples[:, 0]
    n, k = samples.shape[:2]
    crps = estimator_defined(k, crps_estimator)
    scores: dict[str, list[torch.Tensor]] = {key: [] for key in ("psnr", "ssim", "lpips", "psnr_posterior_mean",
                                                                 "crps_pix")}
    for idx in torch.arange(n).split(batch_size):
        scores["psnr"].append(psnr(first[idx], x0[idx]))
        scores["ssim"].append(ssim(first[idx], x0[idx]))
        scores["psnr_posterior_mean"].append(psnr(samples[idx].mean(1), x0[idx]))
        if crps:
            scores["crps_pix"].append(crps_pixel(samples[idx], x0[idx], crps_estimator))
        if nets.lpips is not None:
            scores["lpips"].append(lpips_distance(nets.lpips, first[idx], x0[idx]))
    columns = {key: torch.cat(v).double() if v else torch.full((n,), math.nan, dtype=torch.float64)
               for key, v in scores.items()}
    columns["crps_inception"] = torch.full((n,), math.nan, dtype=torch.float64)
    features = None
    if nets.inception is not None:
        f_samples = inception_features(nets.inception, samples.flatten(0, 1), batch_size).view(n, k, -1)
        f_x0 = inception_features(nets.inception, x0, batch_size)
        if crps:
            columns["crps_inception"] = energy_score(f_samples, f_x0, crps_estimator)
        features = {"first": f_samples[:, 0], "x0": f_x0}
    meta = shard["meta"]
    rows = pd.DataFrame({
        "dataset": meta["dataset"], "task": meta["task"], "method": meta["method"], "nfe": int(meta["nfe"]),
        "nfe_measured": int(shard["nfe"]), "num_samples": k, "seed": meta["seed"], "sigma_y": meta["sigma_y"], "shard": name, "index": range(n),
        **{key: value.numpy() for key, value in columns.items()},
    })
    return {"rows": rows, "first": first, "x0": x0, "features": features,
            "seconds": float(shard["seconds"]), "seconds_uncond": float(shard["seconds_uncond"]), "images": n * k}


def _distribution_metrics(parts: list[dict[str, Any]], ref_images: torch.Tensor | None,
                          f_ref_images: torch.Tensor | None, fid_statistics: FeatureStatistics | None,
                          nets: Networks) -> dict[str, float]:
    """MMD (pixel, Inception) of one group's first samples against the reference images (the group's own
    paired x0 unless other images are given); FID against the same images, or against ``fid_statistics``."""
    first = torch.cat([p["first"] for p in parts])
    ref = torch.cat([p["x0"] for p in parts]) if ref_images is None else ref_images
    out = {"fid": math.nan, "mmd_pix": math.nan, "mmd_inception": math.nan}
    if len(first) < 2 or len(ref) < 2:
        return out
    out["mmd_pix"] = mmd_unbiased(first, ref)
    if nets.inception is not None:
        f_first = torch.cat([p["features"]["first"] for p in parts])
        f_ref = torch.cat([p["features"]["x0"] for p in parts]) if f_ref_images is None else f_ref_images
        out["mmd_inception"] = mmd_unbiased(f_first, f_ref)
        out["fid"] = frechet_distance(f_first, f_ref if fid_statistics is None else fid_statistics)
    return out


def _reference_images(path: str | os.PathLike, shapes: set[tuple]) -> torch.Tensor:
    """The ``--reference`` images, checked against the shards' image shape."""
    ref = load_reference(path)
    if isinstance(ref, FeatureStatistics):
        raise ValueError(f"reference {path} holds Inception feature statistics (mu, sigma), not images: pass it "
                         "as --fid-statistics (FID); MMD needs reference images")
    if shapes != {tuple(ref.shape[1:])}:
        raise ValueError(f"reference {path}: images {tuple(ref.shape[1:])} do not match the shards' {sorted(shapes)}")
    return ref


def _fid_statistics(path: str | os.PathLike) -> FeatureStatistics:
    """The ``--fid-statistics`` file: ``mu`` and ``sigma`` of 2048-d Inception pool3 features."""
    stats = load_reference(path)
    if not isinstance(stats, FeatureStatistics):
        raise ValueError(f"fid statistics {path} hold images, not Inception statistics (arrays mu, sigma): pass "
                         "images as --reference")
    if stats.mu.shape != (int(FEATURE),):
        raise ValueError(f"fid statistics {path}: statistics of {stats.mu.shape[0]}-d features; FID uses "
                         f"{FEATURE}-d Inception pool3 features")
    return stats


def _one_k(key: tuple, rows: pd.DataFrame) -> int:
    """The group's K; one (dataset, task, method, nfe) cell must use one K."""
    ks = sorted(int(k) for k in rows["num_samples"].unique())
    if len(ks) != 1:
        cell = "/".join(str(v) for v in key)
        raise ValueError(f"cell {cell} ({'/'.join(GROUP)}): shards hold K = {ks} samples per measurement; "
                         "one cell must use one K")
    return ks[0]


def evaluate(shards: Sequence[str | os.PathLike], reference: str | os.PathLike | None = None,
             weights_dir: str | os.PathLike | None = None, device: str = "cpu", batch_size: int = 64,
             fid_statistics: str | os.PathLike | None = None, crps_estimator: str = "fair") -> Evaluation:
    """Score the shards (see the module docstring); no files are written."""
    if not shards:
        raise ValueError("no shards given")
    if crps_estimator not in ESTIMATORS:
        raise ValueError(f"unknown CRPS estimator {crps_estimator!r}; valid: {', '.join(ESTIMATORS)}")
    loaded = [(Path(path), load_shard(path)) for path in shards]  # every input is checked before any work
    shapes = {tuple(shard["x0"].shape[1:]) for _, shard in loaded}
    ref_images = _reference_images(reference, shapes) if reference is not None else None
    statistics = _fid_statistics(fid_statistics) if fid_statistics is not None else None
    nets = load_networks(weights_dir, device)
    smallest = min(min(shard["x0"].shape[-2:]) for _, shard in loaded)
    if smallest < LPIPS_MIN_SIZE:
        nets.lpips = None
        nets.missing["lpips"] = f"LPIPS-Alex needs images of at least {LPIPS_MIN_SIZE} px, got {smallest} px"
    k_min = min(shard["samples"].shape[1] for _, shard in loaded)
    if not estimator_defined(k_min, crps_estimator):
        nets.missing.update(dict.fromkeys(("crps_pix", "crps_inception"), f"the {crps_estimator} CRPS estimator "
                                          f"needs K >= 2 samples per measurement, got K = {k_min}"))
    if nets.missing:
        log.warning("eps evaluate: warning: reported as NaN, %s", describe_missing(nets.missing))
    f_ref_images = (inception_features(nets.inception, ref_images, batch_size)
                    if ref_images is not None and nets.inception is not None else None)
    groups: dict[tuple, list[dict[str, Any]]] = {}
    with torch.no_grad():
        for path, shard in loaded:
            part = _score_shard(shard, path.name, nets, batch_size, crps_estimator)
            groups.setdefault(tuple(part["rows"].loc[0, GROUP]), []).append(part)
        summary = []
        for key, parts in groups.items():
            rows = pd.concat([p["rows"] for p in parts])
            seconds = sum(p["seconds"] for p in parts)
            summary.append({
                **dict(zip(GROUP, key)),
                "nfe_measured": int(rows["nfe_measured"].max()),
                "num_samples": _one_k(key, rows),
                "crps_estimator": crps_estimator,
                **rows[["psnr", "ssim", "lpips", "crps_pix", "crps_inception"]].mean(skipna=False).to_dict(),
                **_distribution_metrics(parts, ref_images, f_ref_images, statistics, nets),
                "sec_per_image": seconds / sum(p["images"] for p in parts),
                "cost_ratio": seconds / sum(p["seconds_uncond"] for p in parts),
            })
    per_image = pd.concat([p["rows"] for parts in groups.values() for p in parts], ignore_index=True)
    per_image["missing_reason"] = describe_missing(nets.missing)
    return Evaluation(per_image[PER_IMAGE_COLUMNS], pd.DataFrame(summary)[SUMMARY_COLUMNS], nets.missing)


def main(argv: list[str] | None = None) -> int:
    """``eps evaluate --shards A.pt [B.pt ...] --per-image P.csv --summary S.csv [--reference R]
    [--fid-statistics S.npz] [--crps-estimator fair] [--weights-dir DIR] [--device cpu] [--batch-size 64]``."""
    parser = build("evaluate")
    args = parser.parse_args(argv)
    device = str(resolve_device(args.device))
    check_writable(args.per_image, "--per-image")
    check_writable(args.summary, "--summary")
    logging.basicConfig(format="%(message)s")
    result = evaluate(args.shards, args.reference, args.weights_dir, device, args.batch_size,
                      args.fid_statistics, args.crps_estimator)
    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    seeds = [int(s) for s in result.per_image["seed"].unique()]
    for path, table in ((args.per_image, result.per_image), (args.summary, result.summary)):
        write_text(path, table.to_csv(index=False))
        write_provenance(path, config=config, seeds=seeds, device=device, missing=result.missing)
        print(f"wrote {path} ({len(table)} rows)")
    return 0
