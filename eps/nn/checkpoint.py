"""Network files: plain state dicts loadable with ``torch.load(weights_only=True)``.

One format family, two kinds of file:

    {"format": "eps-net-v1",   "net": UNetConfig dict, "model": state_dict}             a network (e.g. converted EDM)
    {"format": "eps-train-v1", "net": ..., "model": ..., "ema": ..., "optimizer": ..., ...}   a training checkpoint

:func:`load_network` accepts both (a training checkpoint gives its EMA weights). State-dict keys are those of
:class:`eps.nn.EDMPrecond` around :class:`eps.nn.UNet` (``model.enc.64x64_block0.conv0.weight``, ...), which are
the names of the published EDM DDPM++ networks (FFHQ-64 unconditional), so their weights convert one to one.

Converting the official FFHQ-64 pickle (``edm-ffhq-64x64-uncond-vp.pkl``) needs the NVlabs/edm code on
``sys.path`` only to unpickle it (its classes are pickled by ``torch_utils.persistence``; unpickling runs code
from the file, so convert only the published pickle); ``eps convert-edm --pkl IN.pkl --edm-source EDM_CLONE
--sha256 HEX --out NET.pt`` puts the clone on the path (NVlabs publishes no digests: the pickle is unpickled only
when its sha256 equals ``--sha256``, or with ``--allow-unverified``, the user's explicit word; its digest is
recorded in the output and its provenance record ``NET.pt.provenance.json``), and :func:`convert_edm_pickle` then
keeps the EMA state dict, drops the two entries our network does not hold (``resample_filter`` buffers: the fixed
[1, 1] filter is our average-pool / nearest up-sampling; ``map_augment.weight``: augmentation labels are zero at
inference) and writes an ``eps-net-v1`` file. ImageNet-64 (class-conditional ADM) is a different architecture and is not converted.
"""
from __future__ import annotations

import argparse
import pickle
import sys
from pathlib import Path

import torch

from ..io import check_writable, file_sha256 as sha256_of, load_torch, save_torch
from ..provenance import write_provenance
from .precond import EDMPrecond
from .unet import UNet, UNetConfig

NET_FORMAT = "eps-net-v1"
TRAIN_FORMAT = "eps-train-v1"
DROPPED_EDM_KEYS = ("resample_filter", "map_augment.weight")


def build_network(net: dict | UNetConfig) -> EDMPrecond:
    """An :class:`EDMPrecond` UNet from its config (dict or :class:`UNetConfig`)."""
    return EDMPrecond(UNet(net if isinstance(net, UNetConfig) else UNetConfig.from_dict(net)))


def read_checkpoint(path: str | Path, formats=(NET_FORMAT, TRAIN_FORMAT)) -> dict:
    """Load a file of one of ``formats``; any problem is one ``ValueError``/``FileNotFoundError`` naming the file."""
    state = load_torch(path, "checkpoint")
    if not isinstance(state, dict) or state.get("format") not in formats:
        found = state.get("format") if isinstance(state, dict) else type(state).__name__
        raise ValueError(f"checkpoint {path} has format {found!r}; expected one of {list(formats)}")
    return state


def network_from_state(state: dict, weights: str, path) -> EDMPrecond:
    """Build the network of ``state["net"]`` and load ``state[weights]`` strictly (errors name ``path``)."""
    try:
        net = build_network(state["net"])
        net.load_state_dict(state[weights])
    except (KeyError, RuntimeError, TypeError, ValueError) as err:
        raise ValueError(f"checkpoint {path}: cannot build the network from it: {err}") from err
    return net


def load_network(path: str | Path, device: str | torch.device = "cpu") -> EDMPrecond:
    """The denoiser stored in ``path`` (EMA weights of a training checkpoint), in eval mode on ``device``."""
    state = read_checkpoint(path)
    net = network_from_state(state, "ema" if state["format"] == TRAIN_FORMAT else "model", path)
    return net.to(device).eval().requires_grad_(False)


def save_network(net: EDMPrecond, path: str | Path) -> None:
    save_torch({"format": NET_FORMAT, "net": net.model.config.to_dict(), "model": net.state_dict()}, path)


EDM_SOURCE_HINT = ("git clone https://github.com/NVlabs/edm and pass its folder as --edm-source "
                   "(workflow: set edm_source in the config)")


def verify_pickle(pickle_path: Path, sha256: str | None, allow_unverified: bool) -> str:
    """The sha256 of ``pickle_path``; refused (before any unpickling, which runs code from the file) unless it
    equals ``sha256`` or the user passed ``allow_unverified``."""
    digest = sha256_of(pickle_path)
    if sha256 is not None and digest != sha256.lower():
        raise ValueError(f"EDM pickle {pickle_path}: sha256 {digest} does not match --sha256 {sha256}; refusing to "
                         "unpickle it")
    if sha256 is None and not allow_unverified:
        raise ValueError(f"EDM pickle {pickle_path} (sha256 {digest}) is not verified and unpickling runs code from "
                         "it: pass --sha256 <digest you trust> or --allow-unverified (workflow: the checkpoint's "
                         "sha256, or allow_unverified_pickle: true)")
    return digest


def unpickle_edm(pickle_path: str | Path, edm_source: str | Path | None = None):
    """The ``ema`` network of an EDM pickle, with the NVlabs/edm clone ``edm_source`` importable meanwhile
    (the caller has verified the file: :func:`verify_pickle`)."""
    pickle_path = Path(pickle_path)
    if not pickle_path.is_file():
        raise FileNotFoundError(f"EDM pickle {pickle_path} does not exist")
    if edm_source is not None and not Path(edm_source, "torch_utils").is_dir():
        raise FileNotFoundError(f"--edm-source {edm_source} is not an NVlabs/edm clone (no torch_utils/ in it): "
                                f"{EDM_SOURCE_HINT}")
    path = [str(Path(edm_source).resolve())] if edm_source is not None else []
    sys.path[:0] = path
    try:
        with open(pickle_path, "rb") as f:
            return pickle.load(f)["ema"]
    except ModuleNotFoundError as err:
        raise ValueError(f"{pickle_path}: unpickling needs the NVlabs/edm source ({err}): {EDM_SOURCE_HINT}") from err
    except (pickle.UnpicklingError, EOFError, KeyError, TypeError, AttributeError, IndexError) as err:
        raise ValueError(f"{pickle_path} is not an EDM network pickle (a dict with 'ema'): {err!r}") from err
    finally:
        for entry in path:
            sys.path.remove(entry)


def convert_edm_pickle(pickle_path: str | Path, out_path: str | Path, edm_source: str | Path | None = None,
                       sha256: str | None = None, allow_unverified: bool = False) -> None:
    """Convert an official EDM DDPM++ pickle to an ``eps-net-v1`` file (NVlabs/edm importable or ``edm_source``),
    after :func:`verify_pickle`; the output and its provenance record carry the pickle's sha256."""
    pickle_path = Path(pickle_path)
    if not pickle_path.is_file():
        raise FileNotFoundError(f"EDM pickle {pickle_path} does not exist")
    digest = verify_pickle(pickle_path, sha256, allow_unverified)
    ema = unpickle_edm(pickle_path, edm_source)
    try:
        kw = dict(ema.init_kwargs)
    except (AttributeError, TypeError) as err:
        raise ValueError(f"{pickle_path} is not an EDM network pickle (its 'ema' has no init_kwargs)") from err
    model_kw = kw.get("model_kwargs", kw)
    if kw.get("model_type") != "SongUNet" or kw.get("label_dim", 0) or model_kw.get("encoder_type", "standard") != "standard":
        raise ValueError(f"{pickle_path}: only unconditional DDPM++ (SongUNet, standard encoder/decoder) converts")
    net = UNetConfig(img_resolution=kw["img_resolution"], in_channels=kw["img_channels"], out_channels=kw["img_channels"],
                     model_channels=model_kw.get("model_channels", 128),
                     channel_mult=tuple(model_kw.get("channel_mult", (1, 2, 2, 2))),
                     channel_mult_emb=model_kw.get("channel_mult_emb", 4), num_blocks=model_kw.get("num_blocks", 4),
                     attn_resolutions=tuple(model_kw.get("attn_resolutions", (16,))))
    state = {k: v.detach().float().cpu() for k, v in ema.state_dict().items()
             if not any(k.endswith(d) for d in DROPPED_EDM_KEYS)}
    build_network(net).load_state_dict(state)  # strict: fails here, before writing, on any name mismatch
    save_torch({"format": NET_FORMAT, "net": net.to_dict(), "model": state, "source_sha256": digest}, out_path)
    write_provenance(out_path, config={"pkl": str(pickle_path), "edm_source": str(edm_source)},
                     source_sha256=digest, source_verified=sha256 is not None)


def main(argv: list[str] | None = None) -> int:
    """``eps convert-edm --pkl edm-ffhq-64x64-uncond-vp.pkl --edm-source EDM_CLONE --out NET.pt``."""
    p = argparse.ArgumentParser(prog="eps convert-edm",
                                description="convert a published EDM DDPM++ pickle to an eps-net-v1 network file")
    p.add_argument("--pkl", required=True, help="official EDM pickle (e.g. edm-ffhq-64x64-uncond-vp.pkl)")
    p.add_argument("--out", required=True, help="eps-net-v1 file to write (atomically)")
    p.add_argument("--edm-source", help="NVlabs/edm clone, needed to unpickle (unless already importable)")
    p.add_argument("--sha256", help="the pickle's expected sha256 (64 hex digits): unpickled only if it matches")
    p.add_argument("--allow-unverified", action="store_true",
                   help="unpickle without a known digest (unpickling runs code from the file; its digest is recorded)")
    a = p.parse_args(argv)
    if a.sha256 is not None and (len(a.sha256) != 64 or any(c not in "0123456789abcdef" for c in a.sha256.lower())):
        raise ValueError(f"--sha256 {a.sha256!r} is not 64 hex digits")
    check_writable(a.out, "--out")
    convert_edm_pickle(a.pkl, a.out, a.edm_source, a.sha256, a.allow_unverified)
    print(f"converted {a.pkl} -> {a.out}")
    return 0


__all__ = ["build_network", "read_checkpoint", "network_from_state", "load_network", "save_network",
           "convert_edm_pickle", "unpickle_edm", "NET_FORMAT", "TRAIN_FORMAT"]
