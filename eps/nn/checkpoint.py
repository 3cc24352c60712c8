"""Network files: plain state dicts loadable with ``torch.load(weights_only=True)``.

One format family, two kinds of file:

    {"format": "eps-net-v1",   "net": config dict, "model": state_dict}                 a network (e.g. converted EDM)
    {"format": "eps-train-v1", "net": ..., "model": ..., "ema": ..., "optimizer": ..., ...}   a training checkpoint

:func:`load_network` accepts both (a training checkpoint gives its EMA weights). The config dict names its
``architecture`` (``ddpmpp``: :class:`eps.nn.UNet`; ``adm``: :class:`eps.nn.adm.ADMUNet`; files without the key
are DDPM++). State-dict keys are those of :class:`eps.nn.EDMPrecond` around the network
(``model.enc.64x64_block0.conv0.weight``, ...), which are the names of the published EDM networks (FFHQ-64
unconditional DDPM++, ImageNet-64 class-conditional ADM), so their weights convert one to one.

Converting an official pickle (``edm-ffhq-64x64-uncond-vp.pkl``, ``edm-imagenet-64x64-cond-adm.pkl``) needs the
NVlabs/edm code on ``sys.path`` only to unpickle it (its classes are pickled by ``torch_utils.persistence``;
unpickling runs code from the file, so convert only the published pickle); ``eps convert-edm --pkl IN.pkl
--edm-source EDM_CLONE --sha256 HEX --out NET.pt`` puts the clone on the path (NVlabs publishes no digests: the
pickle is unpickled only when its sha256 equals ``--sha256``, or with ``--allow-unverified``, the user's explicit
word; its digest is recorded in the output and in its provenance record ``NET.pt.provenance.json``), and :func:`convert_edm_pickle` checks every
setting that defines the denoiser (:func:`edm_network_config`: refused with one line unless we compute exactly
that denoiser), keeps the EMA state dict, drops the entries our network does not hold (``resample_filter``
buffers: the fixed [1, 1] filter is our average-pool / nearest up-sampling; ``map_augment.weight``:
augmentation labels are absent at inference) and writes an ``eps-net-v1`` file.
"""
from __future__ import annotations

import hashlib
import pickle
import sys
from pathlib import Path

import torch

from ..io import check_writable, load_torch, save_torch
from ..parsers import build
from ..provenance import write_provenance
from .adm import ADMConfig, ADMUNet
from .precond import EDMPrecond
from .unet import UNet, UNetConfig

NET_FORMAT = "eps-net-v1"
TRAIN_FORMAT = "eps-train-v1"
DROPPED_EDM_KEYS = ("resample_filter", "map_augment.weight")


ARCHITECTURES = {"ddpmpp": (UNetConfig, UNet), "adm": (ADMConfig, ADMUNet)}


def network_config(net: dict | UNetConfig) -> UNetConfig:
    """The config object of a saved config dict (its ``architecture`` key; files without one are DDPM++)."""
    if isinstance(net, UNetConfig):
        return net
    architecture = net.get("architecture", "ddpmpp")
    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown network architecture {architecture!r}; valid: {sorted(ARCHITECTURES)}")
    return ARCHITECTURES[architecture][0].from_dict(net)


def build_network(net: dict | UNetConfig) -> EDMPrecond:
    """An :class:`EDMPrecond` network (DDPM++ UNet or ADM) from its config (dict or config object)."""
    config = network_config(net)
    return EDMPrecond(ARCHITECTURES[config.architecture][1](config))


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


def verify_pickle(pickle_path: Path, data: bytes, sha256: str | None, allow_unverified: bool) -> str:
    """The sha256 of ``data`` (the bytes read from ``pickle_path``, the very bytes then unpickled); refused (before
    any unpickling, which runs code from the file) unless it equals ``sha256`` or the user passed
    ``allow_unverified``."""
    digest = hashlib.sha256(data).hexdigest()
    if sha256 is not None and digest != sha256.lower():
        raise ValueError(f"EDM pickle {pickle_path}: sha256 {digest} does not match --sha256 {sha256}; refusing to "
                         "unpickle it")
    if sha256 is None and not allow_unverified:
        raise ValueError(f"EDM pickle {pickle_path} (sha256 {digest}) is not verified and unpickling runs code from "
                         "it: pass --sha256 <digest you trust> or --allow-unverified (workflow: the checkpoint's "
                         "sha256, or allow_unverified_pickle: true)")
    return digest


def unpickle_edm(pickle_path: Path, data: bytes, edm_source: str | Path | None = None):
    """The ``ema`` network of the bytes ``data`` read from EDM pickle ``pickle_path``, with the NVlabs/edm clone ``edm_source`` importable meanwhile
    (the caller has verified these bytes: :func:`verify_pickle`)."""
    if edm_source is not None and not Path(edm_source, "torch_utils").is_dir():
        raise FileNotFoundError(f"--edm-source {edm_source} is not an NVlabs/edm clone (no torch_utils/ in it): "
                                f"{EDM_SOURCE_HINT}")
    path = [str(Path(edm_source).resolve())] if edm_source is not None else []
    sys.path[:0] = path
    try:
        return pickle.loads(data)["ema"]
    except ModuleNotFoundError as err:
        raise ValueError(f"{pickle_path}: unpickling needs the NVlabs/edm source ({err}): {EDM_SOURCE_HINT}") from err
    except (pickle.UnpicklingError, EOFError, KeyError, TypeError, AttributeError, IndexError) as err:
        raise ValueError(f"{pickle_path} is not an EDM network pickle (a dict with 'ema'): {err!r}") from err
    finally:
        for entry in path:
            sys.path.remove(entry)


# What defines an EDM network, with NVlabs/edm's defaults (training/networks.py, commit 008a4e5): the
# preconditioning's constructor and each architecture's. A key outside these tables is refused, not ignored.
EDM_PRECOND_DEFAULTS = dict(img_resolution=None, img_channels=None, label_dim=0, use_fp16=False, sigma_min=0.0,
                            sigma_max=float("inf"), sigma_data=0.5, model_type="DhariwalUNet")
EDM_MODEL_DEFAULTS = {
    "SongUNet": dict(augment_dim=0, model_channels=128, channel_mult=[1, 2, 2, 2], channel_mult_emb=4, num_blocks=4,
                     attn_resolutions=[16], dropout=0.10, label_dropout=0.0, embedding_type="positional",
                     channel_mult_noise=1, encoder_type="standard", decoder_type="standard", resample_filter=[1, 1]),
    "DhariwalUNet": dict(augment_dim=0, model_channels=192, channel_mult=[1, 2, 3, 4], channel_mult_emb=4,
                         num_blocks=3, attn_resolutions=[32, 16, 8], dropout=0.10, label_dropout=0.0),
}
# The values our networks implement: DDPM++ is SongUNet with positional embedding, standard encoder/decoder and
# the [1, 1] filter, unconditional; ADM takes every DhariwalUNet setting. sigma_data is EDMPrecond's 0.5.
EDM_REQUIRED = {"sigma_data": 0.5}
SONG_REQUIRED = dict(label_dim=0, embedding_type="positional", channel_mult_noise=1, encoder_type="standard",
                     decoder_type="standard", resample_filter=[1, 1])
ARCHITECTURE_OF = {"SongUNet": UNetConfig, "DhariwalUNet": ADMConfig}


def edm_network_config(precond_class: str, init_kwargs: dict, source="EDM network") -> UNetConfig:
    """The config of our network that computes the same denoiser as an EDM network with these constructor
    arguments; anything we do not implement exactly is one ``ValueError`` naming ``source`` and the setting.

    Checked: the preconditioning class (only ``EDMPrecond``: VP, VE and iDDPM have other c_skip, c_out, c_in,
    c_noise), ``sigma_data``, the architecture (``SongUNet`` as DDPM++ or ``DhariwalUNet`` as ADM), and for
    DDPM++ the embedding type, noise-embedding width, encoder/decoder types, resampling filter and label
    dimension. Not part of the denoiser: ``use_fp16`` (the weights are stored in float32; we run float32),
    ``sigma_min/sigma_max`` (unused by EDMPrecond's forward), ``augment_dim`` (augmentation labels are absent at
    inference, so ``map_augment`` is never applied).
    """
    if precond_class != "EDMPrecond":
        raise ValueError(f"{source}: preconditioning {precond_class} is not EDMPrecond (only EDM-preconditioned "
                         "networks convert: VP/VE/iDDPM use other c_skip, c_out, c_in, c_noise)")
    model_type = init_kwargs.get("model_type", EDM_PRECOND_DEFAULTS["model_type"])
    if model_type not in EDM_MODEL_DEFAULTS:
        raise ValueError(f"{source}: architecture {model_type} is neither SongUNet (DDPM++) nor DhariwalUNet (ADM)")
    defaults = {**EDM_PRECOND_DEFAULTS, **EDM_MODEL_DEFAULTS[model_type]}
    unknown = sorted(set(init_kwargs) - set(defaults))
    if unknown:
        raise ValueError(f"{source}: unknown {model_type} setting(s) {unknown}; cannot tell what they change")
    kw = {**defaults, **{k: list(v) if isinstance(v, tuple) else v for k, v in init_kwargs.items()}}
    required = {**EDM_REQUIRED, **(SONG_REQUIRED if model_type == "SongUNet" else {})}
    wrong = {k: kw[k] for k, v in required.items() if kw[k] != v}
    if wrong:
        raise ValueError(f"{source}: {model_type} with {wrong} is not implemented here (needs {required})")
    fields = dict(img_resolution=kw["img_resolution"], in_channels=kw["img_channels"], out_channels=kw["img_channels"],
                  model_channels=kw["model_channels"], channel_mult=tuple(kw["channel_mult"]),
                  channel_mult_emb=kw["channel_mult_emb"], num_blocks=kw["num_blocks"],
                  attn_resolutions=tuple(kw["attn_resolutions"]), dropout=float(kw["dropout"]))
    if model_type == "DhariwalUNet":
        fields.update(label_dim=kw["label_dim"], label_dropout=float(kw["label_dropout"]))
    return ARCHITECTURE_OF[model_type](**fields)


def edm_weights(config: UNetConfig, state: dict, source="EDM network") -> dict:
    """An EDM state dict as the float32 state dict of our network of ``config``: the buffers and layers that do
    not enter the denoiser (``DROPPED_EDM_KEYS``) are dropped and the rest must load one to one (strictly)."""
    state = {k: v.detach().float().cpu() for k, v in state.items() if not any(k.endswith(d) for d in DROPPED_EDM_KEYS)}
    try:
        missing, unexpected = build_network(config).load_state_dict(state, strict=False)
    except RuntimeError as err:  # a shape mismatch
        raise ValueError(f"{source}: weights do not fit the {config.architecture} network: "
                         f"{str(err).splitlines()[-1].strip()}") from err
    if missing or unexpected:
        raise ValueError(f"{source}: weights do not fit the {config.architecture} network: {len(missing)} missing "
                         f"(e.g. {missing[:2]}), {len(unexpected)} unexpected (e.g. {unexpected[:2]})")
    return state


def convert_edm_pickle(pickle_path: str | Path, out_path: str | Path, edm_source: str | Path | None = None,
                       sha256: str | None = None, allow_unverified: bool = False) -> None:
    """Convert an official EDM pickle (DDPM++ or ADM, EDM-preconditioned) to an ``eps-net-v1`` file; nothing is
    unpickled before :func:`verify_pickle` and nothing written unless every check of :func:`edm_network_config`
    passes and the weights load strictly. The output and its provenance record carry the pickle's sha256."""
    pickle_path = Path(pickle_path)
    if not pickle_path.is_file():
        raise FileNotFoundError(f"EDM pickle {pickle_path} does not exist")
    data = pickle_path.read_bytes()  # hashed and unpickled from the same bytes
    digest = verify_pickle(pickle_path, data, sha256, allow_unverified)
    ema = unpickle_edm(pickle_path, data, edm_source)
    try:
        init_kwargs, state = dict(ema.init_kwargs), ema.state_dict()
    except AttributeError as err:
        raise ValueError(f"{pickle_path}: the 'ema' entry is not an EDM network ({err})") from err
    config = edm_network_config(type(ema).__name__, init_kwargs, str(pickle_path))
    save_torch({"format": NET_FORMAT, "net": config.to_dict(), "model": edm_weights(config, state, str(pickle_path)),
                "source_sha256": digest}, out_path)
    write_provenance(out_path, config={"pkl": str(pickle_path), "edm_source": str(edm_source)},
                     source_sha256=digest, source_verified=sha256 is not None)


def main(argv: list[str] | None = None) -> int:
    """``eps convert-edm --pkl edm-ffhq-64x64-uncond-vp.pkl --edm-source EDM_CLONE --out NET.pt``."""
    p = build("convert-edm")
    a = p.parse_args(argv)
    if a.sha256 is not None and (len(a.sha256) != 64 or any(c not in "0123456789abcdef" for c in a.sha256.lower())):
        raise ValueError(f"--sha256 {a.sha256!r} is not 64 hex digits")
    check_writable(a.out, "--out")
    convert_edm_pickle(a.pkl, a.out, a.edm_source, a.sha256, a.allow_unverified)
    print(f"converted {a.pkl} -> {a.out}")
    return 0


__all__ = ["build_network", "network_config", "edm_network_config", "edm_weights", "read_checkpoint",
           "network_from_state", "load_network", "save_network", "convert_edm_pickle", "unpickle_edm", "NET_FORMAT",
           "TRAIN_FORMAT"]
